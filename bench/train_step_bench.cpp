// Whole-network throughput on the CPU: ResNet-18 forward and one SGD training step
// (forward, backward, update) at batch 8, 224x224; VGG-16 at batch 2; and the ResNet-18
// step with everything frozen but the head (what feature extraction saves). Reports
// images/s, GFLOP/s and its share of the FMA peak ("%peak", FLOPs counted from the
// network's conv and linear layers: bench/flops.h) and the process's peak resident
// memory; bench/compare_train.sh runs each configuration in its own process beside
// PyTorch's.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <cstdlib>
#include <map>

#include "bench/flops.h"
#include "bench/fma_peak.h"
#include "hone.h"
#include "io/onnx/import.h"
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

// Times forward passes (eval, no_grad) or SGD steps of the parameters that need a gradient,
// on a fixed random batch, after one untimed warm-up (as torch_train_step.py does), and
// reports img/s, peak memory, GFLOP/s and %peak for `flops` per iteration.
void time_steps(benchmark::State& state, hone::nn::Module& net, int64_t batch, bool forward_only, double flops) {
  hone::Generator g(2);
  hone::Tensor x = hone::randn({batch, 3, 224, 224}, {}, &g);
  hone::Tensor y = hone::randint(0, 1000, {batch}, {.dtype = hone::DType::Int64}, &g);
  std::vector<hone::Tensor> params;
  for (const auto& p : net.parameters())
    if (p.requires_grad()) params.push_back(p);
  forward_only ? net.eval() : net.train();
  auto step = [&] {
    if (forward_only) {
      hone::NoGradGuard ng;
      benchmark::DoNotOptimize(net(x).data_ptr());
    } else {
      for (auto& p : params) hone::Tensor(p).set_grad(hone::Tensor());
      hone::Tensor loss = hone::cross_entropy(net(x), y);
      loss.backward();
      sgd_step(params, 1e-3);
    }
  };
  step();
  const hone::bench::PeakClock clock;
  for (auto _ : state) step();
  state.counters["img/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_MB"] = peak_rss_mb();
  // Named to sort before img/s and peak_MB: bench/compare_train.sh reads the last two columns.
  state.counters["GFLOP/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  clock.report(state, flops);
}

// ResNet-18's FLOPs per image for the fine-tuning configurations (from hone's own model:
// an imported file has the same architecture): 0 forward, 1 full step, 2 head-only step,
// 3 layer4 + head step (layer4's weight gradients, and its input gradients but those
// reaching layer3, which is frozen).
double resnet18_finetune_flops(int64_t mode) {
  static double step_flops[4] = {};
  if (step_flops[0] == 0) {
    auto ref = make("resnet18");
    const hone::bench::NetworkFlops f = hone::bench::count_flops(*ref, 3, 224);
    std::map<std::string, hone::nn::Module*> mods;
    for (auto& [name, m] : ref->named_modules()) mods[name] = m;
    const double l4 = hone::bench::count_flops(*mods.at("layer4"), 256, 14).forward;
    const double l4_in = hone::bench::count_flops(*mods.at("layer4.0.conv1"), 256, 14).forward +
                         hone::bench::count_flops(*mods.at("layer4.0.downsample.0"), 256, 14).forward;
    step_flops[0] = f.forward, step_flops[1] = hone::bench::train_step_flops(f);
    step_flops[2] = hone::bench::head_only_step_flops(f), step_flops[3] = f.forward + f.last_layer + 2 * l4 - l4_in;
  }
  return step_flops[mode];
}

// args: 0 = forward only (eval), 1 = training step, 2 = training step, all but the head
// frozen (batch norm on batch statistics, in training mode); ResNet-18 also 3 = head-only
// and 4 = layer4 + head, with the frozen stages' batch norm frozen (hone finetune's
// default), so they run as inference on the blocked path (models/blocked.h).
void run(benchmark::State& state, const std::string& model, int64_t batch) {
  auto net = make(model);
  const int64_t mode = state.range(0);
  hone::bench::fma_peak();  // measured once, before the first timed loop
  static std::map<std::string, hone::bench::NetworkFlops> counted;  // per model, once
  if (!counted.count(model)) counted[model] = hone::bench::count_flops(*net, 3, 224);
  const hone::bench::NetworkFlops& f = counted[model];
  const double flops = double(batch) * (mode == 0   ? f.forward
                                        : mode == 1 ? hone::bench::train_step_flops(f)
                                        : mode == 4 ? resnet18_finetune_flops(3)
                                                    : hone::bench::head_only_step_flops(f));
  auto& classifier = dynamic_cast<hone::models::Classifier&>(*net);
  if (mode == 2 || mode == 3) classifier.freeze_backbone();
  if (mode == 4) classifier.freeze_before("layer4");
  if (mode >= 3) classifier.freeze_batchnorm(false);
  time_steps(state, *net, batch, mode == 0, flops);
}

void BM_resnet18_b8(benchmark::State& s) { run(s, "resnet18", 8); }
void BM_vgg16_b2(benchmark::State& s) { run(s, "vgg16", 2); }

// The fine-tuning configurations as `hone finetune` runs them: an imported ResNet-18 file
// (HONE_BENCH_ONNX; bench/compare_train.sh materializes one with generated weights) with a
// new 1000-class head, frozen by the library's own strategy calls, batch norm frozen in the
// frozen stages (hone finetune's default), so the frozen part runs on the blocked path
// (io/onnx/blocked_run.h). mode 0: forward (eval); 1: full fine-tune step; 2: head-only
// step (feature extraction without the cache); 3: layer4 + head step (partial:layer4).
void BM_finetune_resnet18_b8(benchmark::State& state) {
  const char* file = std::getenv("HONE_BENCH_ONNX");
  if (!file) return state.SkipWithError("set HONE_BENCH_ONNX to an ONNX ResNet-18 (bench/compare_train.sh does)");
  const int64_t mode = state.range(0), batch = 8;
  auto net = hone::io::onnx::import_onnx(file);
  hone::bench::fma_peak();
  net->replace_head(1000);
  if (mode == 2) net->freeze_backbone();
  if (mode == 3) net->freeze_before("layer4");
  net->freeze_batchnorm(false);
  time_steps(state, *net, batch, mode == 0, double(batch) * resnet18_finetune_flops(mode));
}

}  // namespace

BENCHMARK(BM_finetune_resnet18_b8)->DenseRange(0, 3)->ArgName("mode")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_resnet18_b8)->DenseRange(0, 4)->ArgName("mode")->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
// VGG-16 steps take seconds: a fixed three timed steps, as torch_train_step.py's minimum.
BENCHMARK(BM_vgg16_b2)->Arg(0)->Arg(1)->Arg(2)->ArgName("mode")->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(3);
