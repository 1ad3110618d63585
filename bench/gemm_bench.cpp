// Our packed SGEMM beside OpenBLAS's, same shapes, same thread count, same run.
//   build/release/bench/gemm_bench --benchmark_counters_tabular=true
// Square sizes 256..2048 and the linear layers of ResNet-18 (batch 8) and VGG-16 (batch 2)
// heads: y = x W^T, i.e. M = batch, N = out features, K = in features, B transposed.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/fma_peak.h"
#include "hone.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/gemm.h"

#if HONE_BENCH_OPENBLAS
#include <cblas.h>
extern "C" void openblas_set_num_threads(int);
#endif

namespace {

struct Operands {
  std::vector<float> a, b, c;
  Operands(int64_t m, int64_t n, int64_t k) {
    hone::Generator g(1);
    a = hone::uniform({m * k}, -1, 1, {}, &g).to_vector<float>();
    b = hone::uniform({k * n}, -1, 1, {}, &g).to_vector<float>();
    c.assign(size_t(m * n), 0.0f);
  }
};

void set_flops(benchmark::State& state, const hone::bench::PeakClock& clock, int64_t m, int64_t n, int64_t k) {
  clock.report(state, 2.0 * double(m) * double(n) * double(k));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(m) * double(n) * double(k),
                                                 benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["threads"] = double(hone::Context::current().num_threads());
}

// args: m, n, k, transB
void BM_hone_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool tb = state.range(3) != 0;
  hone::bench::fma_peak();  // measured once, before the first timed loop
  Operands o(m, n, k);
  hone::kernels::cpu::GemmArgs g{.m = m, .n = n, .k = k, .a = o.a.data(), .a_row_stride = k, .a_col_stride = 1,
                                 .b = o.b.data(), .b_row_stride = tb ? 1 : n, .b_col_stride = tb ? k : 1,
                                 .c = o.c.data(), .c_row_stride = n, .c_col_stride = 1};
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    hone::kernels::cpu::sgemm(g, hone::kernels::ContextExec());
    benchmark::ClobberMemory();
  }
  set_flops(state, clock, m, n, k);
}

#if HONE_BENCH_OPENBLAS
void BM_openblas_sgemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const bool tb = state.range(3) != 0;
  hone::bench::fma_peak();  // measured once, before the first timed loop
  Operands o(m, n, k);
  openblas_set_num_threads(hone::Context::current().num_threads());
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m), int(n), int(k), 1.0f, o.a.data(),
                int(k), o.b.data(), tb ? int(k) : int(n), 0.0f, o.c.data(), int(n));
    benchmark::ClobberMemory();
  }
  set_flops(state, clock, m, n, k);
}
#endif

void shapes(benchmark::internal::Benchmark* b) {
  for (int64_t s : {256, 512, 1024, 1536, 2048}) b->Args({s, s, s, 0});
  b->Args({8, 1000, 512, 1});     // ResNet-18 fc, batch 8
  b->Args({2, 4096, 25088, 1});   // VGG-16 classifier.0, batch 2
  b->Args({2, 4096, 4096, 1});    // VGG-16 classifier.3
  b->Args({2, 1000, 4096, 1});    // VGG-16 classifier.6
  b->ArgNames({"m", "n", "k", "tB"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_hone_sgemm)->Apply(shapes);
#if HONE_BENCH_OPENBLAS
BENCHMARK(BM_openblas_sgemm)->Apply(shapes);
#endif
