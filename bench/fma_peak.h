#pragma once
// The CPU's FP32 FMA peak, measured on the spot: each benchmark's GFLOP/s is shown against
// what this CPU's widest FMA units reach in the same run (the machine may be shared, and
// its clock moves with the load), as a "%peak" counter. An FMA counts as 2 FLOPs, as in
// every GFLOP/s figure of these benchmarks.
#include <benchmark/benchmark.h>

#include <string>

namespace hone::bench {

struct FmaPeak {
  std::string isa;            // the instruction set the loop ran: avx512, avx2 or portable
  int threads = 1;            // the context's threads (HONE_NUM_THREADS or the cores available)
  double gflops_1 = 0;        // one thread
  double gflops_n = 0;        // `threads` threads at once
};

// Best of `repeats` runs of about `seconds` each, on `threads` concurrent threads.
double measure_fma_gflops(int threads, double seconds = 0.15, int repeats = 3);

// Measured once per process on first use (1 thread and the context's threads) and printed
// once to stderr; benchmarks call it before their timed loop.
const FmaPeak& fma_peak();

// Times a benchmark's loop for its "%peak" counter: made just before `for (auto _ : state)`,
// report() just after sets flops_per_iteration x iterations / elapsed time as a percentage
// of the peak at the context's thread count. (The loop is timed here rather than left to a
// rate counter, which the console would print as "71.2/s"; the benchmarks use real time, so
// both clocks cover the same span.)
class PeakClock {
 public:
  PeakClock();
  void report(benchmark::State& state, double flops_per_iteration) const;

 private:
  double start_;
};

std::string cpu_model_name();  // /proc/cpuinfo's "model name", or "unknown CPU"

}  // namespace hone::bench
