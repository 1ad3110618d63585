// Whole-network throughput on the CPU: ResNet-18 forward and one SGD training step
// (forward, backward, update) at batch 8, 224x224; VGG-16 at batch 2; and the ResNet-18
// step with everything frozen but the head (what feature extraction saves). Reports
// images/s, GFLOP/s and its share of the FMA peak ("%peak", FLOPs counted from the
// network's conv and linear layers: bench/flops.h) and the process's peak resident
// memory; bench/compare_train.sh runs each configuration in its own process beside
// PyTorch's.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <map>

#include "bench/flops.h"
#include "bench/fma_peak.h"
#include "hone.h"
#include "models/resnet.h"
#include "models/vgg.h"

namespace {

double peak_rss_mb() {
  rusage r{};
  getrusage(RUSAGE_SELF, &r);
  return double(r.ru_maxrss) / 1024.0;
}

std::shared_ptr<hone::nn::Module> make(const std::string& name) {
  hone::Generator g(1);
  if (name == "vgg16") return hone::models::vgg16(1000, false, &g);
  return hone::models::resnet18(1000, &g);
}

void sgd_step(const std::vector<hone::Tensor>& params, double lr) {
  hone::NoGradGuard ng;
  for (const auto& p : params)
    if (p.grad().defined()) hone::Tensor(p).add_(p.grad(), -lr);
}

// args: 0 = forward only (eval), 1 = training step, 2 = training step, all but head frozen
void run(benchmark::State& state, const std::string& model, int64_t batch) {
  auto net = make(model);
  const int64_t mode = state.range(0);
  hone::bench::fma_peak();  // measured once, before the first timed loop
  static std::map<std::string, hone::bench::NetworkFlops> counted;  // per model, once
  if (!counted.count(model)) counted[model] = hone::bench::count_flops(*net, 3, 224);
  const hone::bench::NetworkFlops& f = counted[model];
  const double flops = double(batch) * (mode == 0 ? f.forward
                                        : mode == 1 ? hone::bench::train_step_flops(f)
                                                    : hone::bench::head_only_step_flops(f));
  if (mode == 2) {
    net->freeze();
    net->unfreeze({model == "vgg16" ? "classifier.6.*" : "fc.*"});
  }
  hone::Generator g(2);
  hone::Tensor x = hone::randn({batch, 3, 224, 224}, {}, &g);
  hone::Tensor y = hone::randint(0, 1000, {batch}, {.dtype = hone::DType::Int64}, &g);
  std::vector<hone::Tensor> params = net->parameters();
  if (mode == 0) net->eval();
  auto step = [&] {
    if (mode == 0) {
      hone::NoGradGuard ng;
      benchmark::DoNotOptimize((*net)(x).data_ptr());
    } else {
      for (auto& p : params) hone::Tensor(p).set_grad(hone::Tensor());
      hone::Tensor loss = hone::cross_entropy((*net)(x), y);
      loss.backward();
      sgd_step(params, 1e-3);
    }
  };
  step();  // warm-up, untimed (as torch_train_step.py does)
  const hone::bench::PeakClock clock;
  for (auto _ : state) step();
  state.counters["img/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_MB"] = peak_rss_mb();
  // Named to sort before img/s and peak_MB: bench/compare_train.sh reads the last two columns.
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  clock.report(state, flops);
}

void BM_resnet18_b8(benchmark::State& s) { run(s, "resnet18", 8); }
void BM_vgg16_b2(benchmark::State& s) { run(s, "vgg16", 2); }

}  // namespace

BENCHMARK(BM_resnet18_b8)->Arg(0)->Arg(1)->Arg(2)->ArgName("mode")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
// VGG-16 steps take seconds: a fixed three timed steps, as torch_train_step.py's minimum.
BENCHMARK(BM_vgg16_b2)->Arg(0)->Arg(1)->Arg(2)->ArgName("mode")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
