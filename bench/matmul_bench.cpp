// The naive matmul kernel at square sizes, in GFLOP/s. Issue #3 adds the packed GEMM and
// OpenBLAS beside it; today this is the baseline those will be measured against.
#include <benchmark/benchmark.h>

#include "hone.h"

static void BM_naive_matmul(benchmark::State& state) {
  const int64_t n = state.range(0);
  hone::Tensor a = hone::randn({n, n}), b = hone::randn({n, n});
  for (auto _ : state) benchmark::DoNotOptimize(hone::matmul(a, b).data_ptr());
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * double(n * n * n), benchmark::Counter::kIsIterationInvariantRate,
                                                 benchmark::Counter::kIs1000);
}
BENCHMARK(BM_naive_matmul)->Arg(64)->Arg(128)->Arg(256)->Unit(benchmark::kMillisecond);
