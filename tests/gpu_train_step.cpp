// The whole training step on the GPU, for gpu_check: a ResNet-18 SGD step (forward,
// cross-entropy, backward, momentum update) on CUDA against the same step on the CPU, and
// its speed in images per second. Needs only libhone (models/, nn/), so it builds where
// bench/gpu.sh builds (no io/).
#include "gpu_train_step.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "hone.h"
#include "models/zoo.h"
#include "tensor/caching_allocator.h"
#include "tensor/cuda_runtime.h"

namespace hone::gpu_check {
namespace {

struct Step {
  std::shared_ptr<models::Classifier> net;
  std::unique_ptr<optim::SGD> opt;
};

// The same initial weights on every device: the generator's seed fixes them.
Step make_step(const std::string& model, Device device) {
  Generator gen(7);
  Step s;
  s.net = models::create(model, 1000, &gen);
  s.net->to(device);
  s.net->train();
  s.opt = std::make_unique<optim::SGD>(s.net->named_parameters(),
                                       optim::SGDOptions{.lr = 0.01, .momentum = 0.9, .weight_decay = 1e-4});
  return s;
}

Tensor run_step(Step& s, const Tensor& x, const Tensor& y) {
  s.opt->zero_grad();
  Tensor loss = cross_entropy(s.net->forward(x), y);
  loss.backward();
  s.opt->step();
  return loss;
}

// |a - b| / |b| over all elements (norm-wise, as the op harness).
double normwise_error(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < va.size(); ++i) num += (va[i] - vb[i]) * (va[i] - vb[i]), den += vb[i] * vb[i];
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

}  // namespace

int check_train_step(const std::string& model, double tolerance, Device device, const Setup& setup) {
  // Batch 4 at 128 x 128 keeps the CPU side short, and layer4's batch norm still sees 64
  // values per channel (fewer would amplify rounding through its backward's cancellation).
  Generator data(11);
  const Tensor x = randn({4, 3, 128, 128}, {}, &data);
  const Tensor y = from_vector<int64_t>({3, 998, 500, 0}, {4});
  Step cpu = make_step(model, Device::cpu()), gpu = make_step(model, device);
  int failed = 0;
  for (int step = 1; step <= 2; ++step) {
    const double lc = run_step(cpu, x, y).item<double>();
    double lg = 0;
    {
      const SetupGuard on(setup);
      lg = run_step(gpu, x.to(device), y.to(device)).item<double>();
    }
    const double loss_err = std::abs(lg - lc) / std::max(std::abs(lc), 1e-30);
    double worst = 0;
    std::string worst_name = "-";
    const auto pc = cpu.net->named_parameters(), pg = gpu.net->named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      // The gradients are what the step computed; the weights then differ by lr times their difference.
      const Tensor gg = pg[i].second.grad(), gc = pc[i].second.grad();
      if (gg.defined() != gc.defined()) {
        std::printf("FAIL train step %d of %s: %s has a gradient on one device only\n", step, model.c_str(), pc[i].first.c_str());
        ++failed;
        continue;
      }
      if (!gc.defined()) continue;
      const double ge = normwise_error(gg.to(Device::cpu()), gc);
      if (ge > worst) worst = ge, worst_name = pc[i].first;
    }
    const bool ok = loss_err <= tolerance && worst <= tolerance;
    failed += !ok;
    std::printf("%s train step %d of %s (batch 4, 128x128, SGD momentum, %s): loss cpu %.6f %s %.6f (error %.2g); "
                "worst gradient error %.2g in %s (tolerance %.2g)\n",
                ok ? "PASS" : "FAIL", step, model.c_str(), setup.name().c_str(), lc, device.str().c_str(), lg, loss_err, worst, worst_name.c_str(), tolerance);
  }
  return failed;
}

int bench_train_step(const std::string& model, int64_t batch, int64_t size, int steps, Device device, const Setup& setup) {
  const SetupGuard on(setup);
  Step s = make_step(model, device);
  Generator data(11);
  const Tensor x = randn({batch, 3, size, size}, {}, &data).to(device);
  std::vector<int64_t> labels(static_cast<size_t>(batch));
  for (int64_t i = 0; i < batch; ++i) labels[size_t(i)] = (i * 37) % 1000;
  const Tensor y = from_vector<int64_t>(labels, {batch}).to(device);
  for (int i = 0; i < 3; ++i) run_step(s, x, y);  // warm-up: the allocator's cache fills
  if (!device.is_cpu()) cuda_synchronize(), cuda_allocator().reset_peaks(device.index);
  std::vector<double> ms;
  double loss = 0;
  for (int i = 0; i < steps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    loss = run_step(s, x, y).item<double>();  // the one host round trip of a step
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  const double med = ms[ms.size() / 2];
  const double peak = device.is_cpu() ? 0.0 : double(cuda_memory_stats(device.index).peak_allocated_bytes);
  std::printf("train step %s on %s (%s), batch %lld, %lldx%lld, SGD momentum: median %.1f ms (min %.1f) = %.1f images/s; "
              "peak allocated %.2f GiB; loss %.4f\n",
              model.c_str(), device.str().c_str(), setup.name().c_str(), (long long)batch, (long long)size, (long long)size, med, ms.front(),
              double(batch) * 1000.0 / med, peak / double(1ull << 30), loss);
  return std::isfinite(loss) ? 0 : 1;
}

}  // namespace hone::gpu_check
