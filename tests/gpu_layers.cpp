// Every distinct layer of ResNet-18 and VGG-16, for gpu_check. The layers are found by
// tracing one forward of each model (autograd/trace.h), so the list is the networks' own,
// not a hand-copied table; each is replayed through its op on fresh random inputs:
//   check: batch 2 on CUDA against the same op on the CPU (our CPU kernels, proven against
//          the float64 references by the op harness), output and every gradient norm-wise;
//   perf:  batch 64 and 256, forward and forward + backward, ours and, where the vendor
//          backend has the op, the vendor's, with vendor time / our time.
#include "gpu_layers.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "autograd/trace.h"
#include "hone.h"
#include "models/zoo.h"
#include "tensor/cuda_runtime.h"

namespace hone::gpu_check {
namespace {

using autograd::TraceEvent;

// The ops a layer can be; the registry family whose backend selects its kernels.
const std::map<std::string, std::string>& layer_ops() {
  static const std::map<std::string, std::string> ops{
      {"conv2d", "conv2d"}, {"batch_norm", "batch_norm"}, {"max_pool2d", "max_pool2d"},
      {"adaptive_avg_pool2d", "adaptive_avg_pool2d"}, {"linear", "matmul"}};
  return ops;
}

struct Layer {
  std::string model, op, key;
  TraceEvent event;  // traced at batch 1: shapes are scaled to the batch asked for
};

std::string shape_text(const Tensor& t) { return t.defined() ? shape_str(t.shape()) : std::string("-"); }

std::string attribute_text(const TraceEvent& e) {
  std::string out;
  for (const auto& a : e.attributes) {
    out += " " + a.name + "=";
    if (auto* i = std::get_if<int64_t>(&a.value)) out += std::to_string(*i);
    else if (auto* v = std::get_if<std::vector<int64_t>>(&a.value)) {
      for (size_t k = 0; k < v->size(); ++k) out += (k ? "," : "") + std::to_string((*v)[k]);
    } else if (auto* d = std::get_if<double>(&a.value)) out += std::to_string(*d);
    else out += std::get<std::string>(a.value);
  }
  return out;
}

std::vector<Layer> distinct_layers(const std::string& model) {
  Generator gen(3);
  auto net = models::create(model, 1000, &gen);
  net->train();
  autograd::Tracer tracer;
  {
    NoGradGuard ng;
    autograd::TraceGuard tg(tracer);
    net->forward(randn({1, 3, 224, 224}, {}, &gen));
  }
  std::vector<Layer> out;
  std::map<std::string, bool> seen;
  for (const TraceEvent& e : tracer.events()) {
    if (!layer_ops().count(e.op)) continue;
    std::string key = e.op;
    for (const Tensor& t : e.inputs) key += " " + shape_text(t);
    key += attribute_text(e);
    if (seen[key]) continue;
    seen[key] = true;
    out.push_back({model, e.op, key, e});
  }
  return out;
}

// The layer's inputs at `batch` on `device`, random from `seed` (the same numbers on every
// device); floating inputs other than running statistics require gradients.
std::vector<Tensor> make_inputs(const Layer& l, int64_t batch, Device device, uint64_t seed) {
  Generator gen(seed);
  std::vector<Tensor> in;
  for (size_t i = 0; i < l.event.inputs.size(); ++i) {
    const Tensor& t = l.event.inputs[i];
    if (!t.defined()) {
      in.emplace_back();
      continue;
    }
    Shape s = t.shape();
    if (i == 0) s[0] = batch;
    const bool running = l.op == "batch_norm" && i >= 3;
    Tensor v = running && i == 4 ? uniform(s, 0.5, 1.5, {}, &gen) : randn(s, {}, &gen);
    v = v.to(device);
    if (!running) v.set_requires_grad(true);
    in.push_back(v);
  }
  return in;
}

Tensor replay(const Layer& l, const std::vector<Tensor>& in) {
  const TraceEvent& e = l.event;
  if (l.op == "conv2d")
    return conv2d(in[0], in[1], in[2],
                  {.stride = {e.ints("stride")[0], e.ints("stride")[1]},
                   .padding = Padding2d(e.ints("padding")[0], e.ints("padding")[1], e.ints("padding")[2], e.ints("padding")[3]),
                   .dilation = {e.ints("dilation")[0], e.ints("dilation")[1]}, .groups = e.i("groups")});
  if (l.op == "batch_norm")
    return batch_norm(in[0], in[1], in[2], in[3], in[4],
                      {.use_batch_stats = e.i("use_batch_stats") != 0, .update_running_stats = false,
                       .momentum = e.f("momentum"), .eps = e.f("eps"),
                       .convention = BatchNormConvention(e.i("convention")),
                       .fuse_relu = e.has("fuse_relu") && e.i("fuse_relu") != 0});
  if (l.op == "max_pool2d")
    return max_pool2d(in[0], {.kernel = {e.ints("kernel")[0], e.ints("kernel")[1]},
                              .stride = {e.ints("stride")[0], e.ints("stride")[1]},
                              .padding = Padding2d(e.ints("padding")[0], e.ints("padding")[1], e.ints("padding")[2], e.ints("padding")[3]),
                              .dilation = {e.ints("dilation")[0], e.ints("dilation")[1]}, .ceil_mode = e.i("ceil_mode") != 0});
  if (l.op == "adaptive_avg_pool2d") return adaptive_avg_pool2d(in[0], {e.ints("output_size")[0], e.ints("output_size")[1]});
  return linear(in[0], in[1], in[2]);
}

double normwise_error(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < va.size(); ++i) num += (va[i] - vb[i]) * (va[i] - vb[i]), den += vb[i] * vb[i];
  return std::sqrt(num) / std::max(std::sqrt(den), 1e-30);
}

// Runs the layer forward and backward (with a fixed random output gradient); returns the
// output and the inputs' gradients, on the host.
std::vector<Tensor> forward_backward(const Layer& l, int64_t batch, Device device) {
  std::vector<Tensor> in = make_inputs(l, batch, device, 5);
  Tensor y = replay(l, in);
  Generator gen(9);
  y.backward(randn(y.shape(), {}, &gen).to(device));
  std::vector<Tensor> out{y.detach().to(Device::cpu())};
  for (const Tensor& t : in)
    if (t.defined() && t.requires_grad()) out.push_back(t.grad().to(Device::cpu()));
  return out;
}

void sync(Device d) {
  if (!d.is_cpu()) cuda_synchronize();
}

double median_ms(const std::function<void()>& fn, int reps, Device d) {
  fn();  // warm-up: the allocator caches, the vendor picks its algorithm
  sync(d);
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    sync(d);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int check_layers(const std::vector<std::string>& models, double tolerance, Device device, const Setup& setup) {
  int failed = 0, passed = 0;
  for (const std::string& m : models)
    for (const Layer& l : distinct_layers(m)) {
      try {
        const std::vector<Tensor> cpu = forward_backward(l, 2, Device::cpu());
        std::vector<Tensor> gpu;
        {
          SetupGuard on(setup);
          gpu = forward_backward(l, 2, device);
        }
        double worst = 0;
        for (size_t i = 0; i < cpu.size(); ++i) worst = std::max(worst, normwise_error(gpu[i], cpu[i]));
        const bool ok = worst <= tolerance;
        (ok ? passed : failed)++;
        std::printf("%s layer %s batch 2 on %s, %s | %s: worst of output and gradients %.2g (tolerance %.2g)\n",
                    ok ? "PASS" : "FAIL", m.c_str(), device.str().c_str(), setup.name().c_str(), l.key.c_str(), worst,
                    tolerance);
      } catch (const Error& e) {
        ++failed;
        std::printf("FAIL layer %s batch 2, %s | %s: %s\n", m.c_str(), setup.name().c_str(), l.key.c_str(), e.what());
      }
    }
  std::printf("gpu_check layers (%s): %d passed, %d failed\n", setup.name().c_str(), passed, failed);
  return failed;
}

int bench_layers(const std::vector<std::string>& models, const std::vector<int64_t>& batches, int reps, Device device,
                 bool tf32) {
  Context& ctx = Context::current();
  const SetupGuard precision(Setup{.tf32 = tf32});
  std::printf("layer timings, %s\n", tf32 ? "TF32 allowed (ours and the vendor's)" : "exact float32");
  int failed = 0;
  for (const std::string& m : models)
    for (const Layer& l : distinct_layers(m))
      for (int64_t batch : batches) {
        const std::string family = layer_ops().at(l.op);
        auto time_with = [&](Backend b, double* fwd, double* step) {
          const Backend before = ctx.backend(family);
          ctx.set_backend(family, b);
          try {
            std::vector<Tensor> in = make_inputs(l, batch, device, 5);
            Tensor gy;
            {
              NoGradGuard ng;
              gy = replay(l, in);
            }
            *fwd = median_ms([&] { NoGradGuard ng; replay(l, in); }, reps, device);
            *step = median_ms([&] { replay(l, in).backward(gy); }, reps, device);
            ctx.set_backend(family, before);
            return true;
          } catch (const Error& e) {
            ctx.set_backend(family, before);
            if (b == Backend::Native) std::printf("FAIL perf %s batch %lld | %s: %s\n", m.c_str(), (long long)batch, l.key.c_str(), e.what());
            return false;
          }
        };
        double f = 0, s = 0, vf = 0, vs = 0;
        if (!time_with(Backend::Native, &f, &s)) {
          ++failed;
          continue;
        }
        std::printf("perf %s batch %lld | %s | ours fwd %.3f ms, fwd+bwd %.3f ms", m.c_str(), (long long)batch,
                    l.key.c_str(), f, s);
        if (time_with(Backend::Vendor, &vf, &vs))
          std::printf(" | vendor fwd %.3f ms, fwd+bwd %.3f ms | vendor/ours fwd %.2f, fwd+bwd %.2f", vf, vs, vf / f, vs / s);
        else std::printf(" | no vendor kernel");
        std::printf("\n");
      }
  return failed;
}

}  // namespace hone::gpu_check
