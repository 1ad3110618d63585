// One optimizer step over ResNet-18's parameters (11.7M, float32, on the CPU): the fused
// update kernels (nn/optim.cpp, issue 13) beside the tensor-op composition they replaced
// (tests/optim_composed.h), measured in the same run; and clip_grad_norm. GB/s counts the
// bytes an ideal step moves: SGD with momentum reads p, g, buf and writes p, buf (5 x 4
// bytes per parameter); Adam reads p, g, m, v and writes p, m, v (7 x 4).
//   bench/optim_bench --benchmark_filter=Sgd
#include <benchmark/benchmark.h>

#include <memory>

#include "../tests/optim_composed.h"
#include "hone.h"
#include "models/resnet.h"

namespace {

using namespace hone;

// ResNet-18's parameters with a random gradient each; kept across benchmarks.
std::vector<Tensor> resnet18_params() {
  Generator gen(1);
  auto net = models::resnet18(1000, &gen);
  std::vector<Tensor> ps = net->parameters();
  for (Tensor& p : ps) p.set_grad(randn(p.shape(), {}, &gen) * 1e-3);
  return ps;
}

int64_t count(const std::vector<Tensor>& ps) {
  int64_t n = 0;
  for (const Tensor& p : ps) n += p.numel();
  return n;
}

template <typename Opt>
void run(benchmark::State& state, Opt& opt, int64_t n, double bytes_per_param) {
  opt.step();  // the buffers are made on the first step: time the steady state
  for (auto _ : state) opt.step();
  state.counters["params"] = double(n);
  state.counters["GB/s"] = benchmark::Counter(bytes_per_param * double(n) * double(state.iterations()),
                                              benchmark::Counter::kIsRate);
}

const optim::SGDOptions kSgd{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4};

void SgdMomentumFused(benchmark::State& state) {
  auto ps = resnet18_params();
  optim::SGD opt(ps, kSgd);
  run(state, opt, count(ps), 20);
}

void SgdMomentumComposed(benchmark::State& state) {
  auto ps = resnet18_params();
  std::vector<optim::ParamGroup> groups(1);
  groups[0].params = ps;
  optim::composed::SGD opt(groups, kSgd);
  run(state, opt, count(ps), 20);
}

void AdamWFused(benchmark::State& state) {
  auto ps = resnet18_params();
  optim::AdamW opt(ps, {.lr = 1e-3});
  run(state, opt, count(ps), 28);
}

void AdamWComposed(benchmark::State& state) {
  auto ps = resnet18_params();
  std::vector<optim::ParamGroup> groups(1);
  groups[0].params = ps;
  optim::composed::Adam opt(groups, {.lr = 1e-3, .weight_decay = 1e-2}, true);
  run(state, opt, count(ps), 28);
}

void ClipGradNorm(benchmark::State& state) {
  auto ps = resnet18_params();
  for (auto _ : state) benchmark::DoNotOptimize(optim::clip_grad_norm(ps, 1e9));  // sums, never scales
  state.counters["GB/s"] = benchmark::Counter(4.0 * double(count(ps)) * double(state.iterations()),
                                              benchmark::Counter::kIsRate);
}

BENCHMARK(SgdMomentumFused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(SgdMomentumComposed)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(AdamWFused)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(AdamWComposed)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(ClipGradNorm)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
