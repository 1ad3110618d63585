// Prints this CPU's FP32 FMA peak for 1 thread and the context's threads (HONE_NUM_THREADS
// or the cores available), the yardstick of the benchmarks' "%peak" columns:
//   HONE_NUM_THREADS=2 build/release/bench/fma_peak
#include <cstdio>

#include "bench/fma_peak.h"
#include "hone.h"
#include "kernels/cpu/isa.h"

int main() {
  const int n = hone::Context::current().num_threads();
  const double one = hone::bench::measure_fma_gflops(1), all = n == 1 ? one : hone::bench::measure_fma_gflops(n);
  std::printf("FMA peak: %s, 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s\n",
              hone::kernels::cpu::cpu_isa_name(hone::kernels::cpu::best_cpu_isa()), one, n, all);
  std::printf("CPU: %s\n", hone::bench::cpu_model_name().c_str());
  return 0;
}
