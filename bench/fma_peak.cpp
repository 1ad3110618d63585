#include "bench/fma_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>
#include <vector>

#include "hone.h"
#include "kernels/cpu/isa.h"

namespace hone::bench {

namespace {

using kernels::cpu::CpuIsa;

// Sixteen independent accumulator chains: an FMA's latency (4 cycles) times the two FMA
// units covers 8, so 16 keep both units busy whatever the core. The chains converge to 1
// (acc * 0.999 + 0.001), so no value overflows or turns denormal whatever the trip count.
// Returning the sum keeps the compiler from dropping the loop; without -ffast-math it may
// not reassociate the chains either. Each iteration: 16 FMAs of `lanes` floats.
constexpr int kChains = 16;

__attribute__((target("avx512f"))) float chains_avx512(int64_t iterations) {
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(float(c));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  alignas(64) float out[16];
  _mm512_store_ps(out, acc[0]);
  return out[0];
}

__attribute__((target("avx2,fma"))) float chains_avx2(int64_t iterations) {
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(float(c));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  alignas(32) float out[8];
  _mm256_store_ps(out, acc[0]);
  return out[0];
}

float chains_portable(int64_t iterations) {  // a multiply and an add each; counted as an FMA
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = float(c);
  for (int64_t i = 0; i < iterations; ++i)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * 0.999f + 0.001f;
  float s = 0;
  for (float v : acc) s += v;
  return s;
}

int lanes(CpuIsa isa) { return isa == CpuIsa::Avx512 ? 16 : isa == CpuIsa::Avx2 ? 8 : 1; }

float run_chains(CpuIsa isa, int64_t iterations) {
  switch (isa) {
    case CpuIsa::Avx512: return chains_avx512(iterations);
    case CpuIsa::Avx2: return chains_avx2(iterations);
    default: return chains_portable(iterations);
  }
}

volatile float g_sink;  // where every thread's result goes, so none is dead code

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of `threads` threads each running `iterations`, timed from the first start to the
// last finish (so a thread that waits for a core counts against the peak, as it would
// against a benchmark).
double run_once(CpuIsa isa, int threads, int64_t iterations) {
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back([=] { g_sink = run_chains(isa, iterations); });
  g_sink = run_chains(isa, iterations);
  for (auto& th : pool) th.join();
  const double secs = seconds_since(t0);
  return 2.0 * kChains * lanes(isa) * double(iterations) * threads / secs * 1e-9;
}

}  // namespace

double measure_fma_gflops(int threads, double seconds, int repeats) {
  const CpuIsa isa = kernels::cpu::best_cpu_isa();
  // Size the trip count on one thread so each run takes about `seconds`.
  int64_t iterations = 1 << 16;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    g_sink = run_chains(isa, iterations);
    const double s = seconds_since(t0);
    if (s >= seconds / 4) {
      iterations = int64_t(double(iterations) * seconds / s);
      break;
    }
    iterations *= 4;
  }
  double best = 0;
  for (int r = 0; r < repeats; ++r) best = std::max(best, run_once(isa, threads, iterations));
  return best;
}

const FmaPeak& fma_peak() {
  static const FmaPeak peak = [] {
    FmaPeak p;
    p.isa = kernels::cpu::cpu_isa_name(kernels::cpu::best_cpu_isa());
    p.threads = Context::current().num_threads();
    p.gflops_1 = measure_fma_gflops(1);
    p.gflops_n = p.threads == 1 ? p.gflops_1 : measure_fma_gflops(p.threads);
    std::fprintf(stderr, "FMA peak: %s, 1 thread %.1f GFLOP/s, %d threads %.1f GFLOP/s (%s)\n", p.isa.c_str(),
                 p.gflops_1, p.threads, p.gflops_n, cpu_model_name().c_str());
    return p;
  }();
  return peak;
}

namespace {
double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }
}  // namespace

PeakClock::PeakClock() : start_(now()) {}

void PeakClock::report(benchmark::State& state, double flops_per_iteration) const {
  const double gflops = flops_per_iteration * double(state.iterations()) / (now() - start_) * 1e-9;
  state.counters["%peak"] = 100.0 * gflops / fma_peak().gflops_n;
}

std::string cpu_model_name() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown CPU";
}

}  // namespace hone::bench
