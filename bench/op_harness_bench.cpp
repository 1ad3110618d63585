// The op harness's perf mode: one benchmark per (case, kernel, lowering, dtype) of
// tests/op_cases.h, the same table the unit test checks, timed with the context's threads.
// Reports GFLOP/s where a case states its flops (for float32 on the CPU also "%peak", its
// share of the FMA peak: bench/fma_peak.h) and GB/s where it states the elements it moves,
// with the context's threads (HONE_NUM_THREADS or the cores available). GPU kernels are
// timed to completion. Filter as usual: --benchmark_filter='conv2d forward.*Direct'.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>

#include "../tests/op_cases.h"
#include "bench/fma_peak.h"
#include "kernels/context_exec.h"
#include "tensor/cuda_runtime.h"

namespace {

using namespace hone;

void register_all() {
  for (const harness::OpCase& c : harness::op_cases())
    for (DType t : c.dtypes)
      for (const harness::Variant& v : c.variants(t)) {
        if (!v.skip.empty() || v.check_only) continue;
        const std::string name = c.name + " | " + v.label;
        const double flops = c.flops, bytes = c.elements * double(dtype_size(t));
        auto prepare = v.prepare;
        const bool gpu = v.device == DeviceType::CUDA;
        const bool peak = flops > 0 && !gpu && t == DType::Float32;  // the FP32 FMA peak is no yardstick for others
        benchmark::RegisterBenchmark(name.c_str(), [prepare, flops, bytes, gpu, peak](benchmark::State& state) {
          if (peak) bench::fma_peak();  // measured once, before the first timed loop
          harness::Prepared p = prepare();
          kernels::ContextExec exec;
          // A GPU kernel only queues work: a one-byte copy on the same stream waits for it.
          void* scratch = gpu ? cuda_alloc(2, 0) : nullptr;
          const bench::PeakClock clock;
          for (auto _ : state) {
            p.run(exec);
            if (gpu) cuda_memcpy(static_cast<char*>(scratch) + 1, scratch, 1, CopyKind::DeviceToDevice);
          }
          if (gpu) cuda_free(scratch, 0);
          // Shown as GFLOP=x/s and GB=y/s.
          if (flops > 0)
            state.counters["GFLOP"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
          if (peak) clock.report(state, flops);
          if (bytes > 0)
            state.counters["GB"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
        })->Unit(benchmark::kMicrosecond)->UseRealTime();
      }
}

// Registered before benchmark_main parses the command line.
const bool registered = (register_all(), true);

}  // namespace
