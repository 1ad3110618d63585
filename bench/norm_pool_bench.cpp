// Memory-bound layers of ResNet-18 at batch 8, 224x224: batch norm (training forward and
// backward) on every distinct BN shape, the stem max pool and the global average pool, in
// GB/s of tensor data moved (inputs read + outputs written; a lower bound on traffic).
#include <benchmark/benchmark.h>

#include <vector>

#include "hone.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/pooling.h"

namespace {

constexpr int64_t kBatch = 8;

std::vector<float> random(int64_t n) {
  hone::Generator gen(1);
  return hone::uniform({n}, -1, 1, {}, &gen).to_vector<float>();
}

void bytes(benchmark::State& state, double b) {
  state.counters["GB/s"] = benchmark::Counter(b, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// args: channels, spatial size
void BM_batchnorm_forward_train(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1) * state.range(1), n = kBatch * c * hw;
  auto x = random(n), gamma = random(c), beta = random(c);
  std::vector<float> y(static_cast<size_t>(n)), rm(static_cast<size_t>(c), 0.f), rv(static_cast<size_t>(c), 1.f),
      mean(static_cast<size_t>(c)), inv(static_cast<size_t>(c));
  for (auto _ : state)
    hone::kernels::cpu::batchnorm_forward({.dtype = hone::DType::Float32, .n = kBatch, .c = c, .hw = hw, .x = x.data(),
                                           .gamma = gamma.data(), .beta = beta.data(), .running_mean = rm.data(),
                                           .running_var = rv.data(), .use_batch_stats = true, .update_running = true,
                                           .y = y.data(), .save_mean = mean.data(), .save_invstd = inv.data()}, hone::kernels::ContextExec());
  bytes(state, 2.0 * 4 * double(n));
}

void BM_batchnorm_backward_train(benchmark::State& state) {
  const int64_t c = state.range(0), hw = state.range(1) * state.range(1), n = kBatch * c * hw;
  auto x = random(n), dy = random(n), gamma = random(c);
  std::vector<float> dx(static_cast<size_t>(n)), mean(static_cast<size_t>(c), 0.f), inv(static_cast<size_t>(c), 1.f),
      dg(static_cast<size_t>(c)), db(static_cast<size_t>(c));
  for (auto _ : state)
    hone::kernels::cpu::batchnorm_backward({.dtype = hone::DType::Float32, .n = kBatch, .c = c, .hw = hw, .x = x.data(),
                                            .gamma = gamma.data(), .dy = dy.data(), .save_mean = mean.data(),
                                            .save_invstd = inv.data(), .used_batch_stats = true, .dx = dx.data(),
                                            .dgamma = dg.data(), .dbeta = db.data()}, hone::kernels::ContextExec());
  bytes(state, 3.0 * 4 * double(n));
}

void BM_maxpool_stem(benchmark::State& state) {  // 64 x 112 x 112 -> 56 x 56, k3 s2 p1
  const hone::kernels::Pool2dGeometry g{.n = kBatch, .c = 64, .h = 112, .w = 112, .kh = 3, .kw = 3, .stride_h = 2,
                                             .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
  const int64_t nin = g.n * g.c * g.h * g.w, nout = g.n * g.c * g.out_h() * g.out_w();
  auto x = random(nin);
  std::vector<float> y(static_cast<size_t>(nout));
  std::vector<int64_t> idx(static_cast<size_t>(nout));
  for (auto _ : state)
    hone::kernels::cpu::max_pool2d_forward({.g = g, .dtype = hone::DType::Float32, .input = x.data(), .output = y.data(),
                                            .indices = idx.data()}, hone::kernels::ContextExec());
  bytes(state, 4.0 * double(nin + nout) + 8.0 * double(nout));
}

void BM_global_avgpool(benchmark::State& state) {  // 512 x 7 x 7 -> 512
  const int64_t c = 512, hw = 7;
  auto x = random(kBatch * c * hw * hw);
  std::vector<float> y(static_cast<size_t>(kBatch * c));
  for (auto _ : state)
    hone::kernels::cpu::adaptive_avg_pool2d_forward({.n = kBatch, .c = c, .h = hw, .w = hw, .out_h = 1, .out_w = 1,
                                                     .dtype = hone::DType::Float32, .input = x.data(), .output = y.data()}, hone::kernels::ContextExec());
  bytes(state, 4.0 * double(kBatch * c * (hw * hw + 1)));
}

void bn_shapes(benchmark::internal::Benchmark* b) {
  for (auto [c, s] : std::vector<std::pair<int64_t, int64_t>>{{64, 112}, {64, 56}, {128, 28}, {256, 14}, {512, 7}})
    b->Args({c, s});
  b->ArgNames({"c", "hw"})->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(BM_batchnorm_forward_train)->Apply(bn_shapes);
BENCHMARK(BM_batchnorm_backward_train)->Apply(bn_shapes);
BENCHMARK(BM_maxpool_stem)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_global_avgpool)->Unit(benchmark::kMicrosecond)->UseRealTime();
