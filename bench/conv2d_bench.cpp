// conv2d forward and backward (input + weight gradients) on every distinct conv layer of
// ResNet-18 at batch 8 and VGG-16 at batch 2, 224x224 input, in GFLOP/s and images/s. bench/compare_conv.sh
// runs this beside PyTorch's CPU conv on the same shapes in one script run.
#include <benchmark/benchmark.h>

#include <vector>

#include "bench/fma_peak.h"
#include "hone.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_blocked.h"
#include "kernels/cpu/nchwc.h"

namespace {

using hone::kernels::Conv2dGeometry;

struct Layer {
  const char* name;
  int64_t cin, cout, k, stride, pad, hw;
  int64_t batch = 8;
};
// name, c_in, c_out, kernel, stride, padding, input size
const std::vector<Layer> kLayers = {
    {"conv1", 3, 64, 7, 2, 3, 224},           {"layer1", 64, 64, 3, 1, 1, 56},
    {"layer2.0.conv1", 64, 128, 3, 2, 1, 56}, {"layer2.0.down", 64, 128, 1, 2, 0, 56},
    {"layer2", 128, 128, 3, 1, 1, 28},        {"layer3.0.conv1", 128, 256, 3, 2, 1, 28},
    {"layer3.0.down", 128, 256, 1, 2, 0, 28}, {"layer3", 256, 256, 3, 1, 1, 14},
    {"layer4.0.conv1", 256, 512, 3, 2, 1, 14}, {"layer4.0.down", 256, 512, 1, 2, 0, 14},
    {"layer4", 512, 512, 3, 1, 1, 7},
    // VGG-16's distinct conv shapes at batch 2 (the train-step benchmark's batch)
    {"vgg16.conv1_1", 3, 64, 3, 1, 1, 224, 2},    {"vgg16.conv1_2", 64, 64, 3, 1, 1, 224, 2},
    {"vgg16.conv2_1", 64, 128, 3, 1, 1, 112, 2},  {"vgg16.conv2_2", 128, 128, 3, 1, 1, 112, 2},
    {"vgg16.conv3_1", 128, 256, 3, 1, 1, 56, 2},  {"vgg16.conv3_2", 256, 256, 3, 1, 1, 56, 2},
    {"vgg16.conv4_1", 256, 512, 3, 1, 1, 28, 2},  {"vgg16.conv4_2", 512, 512, 3, 1, 1, 28, 2},
    {"vgg16.conv5", 512, 512, 3, 1, 1, 14, 2},
};

Conv2dGeometry geometry(const Layer& l) {
  return {.n = l.batch, .c_in = l.cin, .h = l.hw, .w = l.hw, .c_out = l.cout, .kh = l.k, .kw = l.k, .stride_h = l.stride,
          .stride_w = l.stride, .pad_top = l.pad, .pad_left = l.pad, .pad_bottom = l.pad, .pad_right = l.pad};
}

double flops(const Conv2dGeometry& g) {  // multiply-adds x 2 for one forward pass
  return 2.0 * double(g.n * g.c_out * g.out_h() * g.out_w()) * double(g.c_in / g.groups * g.kh * g.kw);
}

std::vector<float> random(int64_t n) {
  hone::Generator gen(1);
  return hone::uniform({n}, -1, 1, {}, &gen).to_vector<float>();
}

void counters(benchmark::State& state, const hone::bench::PeakClock& clock, double f, int64_t batch) {
  clock.report(state, f);
  state.counters["GFLOP/s"] = benchmark::Counter(f, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
  state.counters["img/s"] = benchmark::Counter(double(batch), benchmark::Counter::kIsIterationInvariantRate);
}

using hone::kernels::Conv2dAlgorithm;

void BM_conv2d_forward(benchmark::State& state, Layer l, Conv2dAlgorithm algo, hone::kernels::cpu::CpuIsa isa) {
  const Conv2dGeometry g = geometry(l);
  hone::bench::fma_peak();  // measured once, before the first timed loop
  auto x = random(g.n * g.c_in * g.h * g.w), w = random(g.c_out * g.c_in * g.kh * g.kw), b = random(g.c_out);
  std::vector<float> y(size_t(g.n * g.c_out * g.out_h() * g.out_w()));
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    hone::kernels::cpu::conv2d_forward({.g = g, .dtype = hone::DType::Float32, .input = x.data(), .weight = w.data(),
                                        .bias = b.data(), .output = y.data(), .algorithm = algo, .isa = isa},
                                       hone::kernels::ContextExec());
    benchmark::ClobberMemory();
  }
  counters(state, clock, flops(g), g.n);
}

// Backward: input and weight gradients (what a fine-tuned middle layer needs): 2x forward
// flops. A network's first conv (3 input channels: the image) computes the weight gradient
// alone, as in training, where the image needs no gradient: 1x forward flops.
void BM_conv2d_backward(benchmark::State& state, Layer l, Conv2dAlgorithm algo, hone::kernels::cpu::CpuIsa isa) {
  const Conv2dGeometry g = geometry(l);
  hone::bench::fma_peak();  // measured once, before the first timed loop
  auto x = random(g.n * g.c_in * g.h * g.w), w = random(g.c_out * g.c_in * g.kh * g.kw),
       dy = random(g.n * g.c_out * g.out_h() * g.out_w());
  std::vector<float> dx(x.size()), dw(w.size()), db(size_t(g.c_out));
  const bool stem = g.c_in == 3;
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    hone::kernels::cpu::conv2d_backward({.g = g, .dtype = hone::DType::Float32, .input = x.data(), .weight = w.data(),
                                         .grad_output = dy.data(), .grad_input = stem ? nullptr : dx.data(),
                                         .grad_weight = dw.data(), .grad_bias = db.data(), .algorithm = algo, .isa = isa},
                                        hone::kernels::ContextExec());
    benchmark::ClobberMemory();
  }
  counters(state, clock, (stem ? 1 : 2) * flops(g), g.n);
}

// The blocked (NCHWc) inference conv (kernels/cpu/nchwc.h) with its fused bias and ReLU,
// input and output already blocked, as between two layers of an imported network's
// forward; the stem reads its 3-channel image with 3 lanes.
void BM_conv2d_blocked(benchmark::State& state, Layer l) {
  namespace nc = hone::kernels::cpu::nchwc;
  const Conv2dGeometry g = geometry(l);
  hone::bench::fma_peak();
  const int64_t B = nc::lanes(), in_lanes = g.c_in < B ? g.c_in : B;
  const nc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = in_lanes, .border = g.pad_top};
  const nc::Layout yl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = 1};
  const auto x = random(g.n * g.c_in * g.h * g.w), w = random(g.c_out * g.c_in * g.kh * g.kw), b = random(g.c_out);
  hone::kernels::cpu::AlignedFloats xb(size_t(xl.size())), yb(size_t(yl.size()));
  const hone::kernels::ContextExec exec;
  nc::to_blocked(x.data(), xl, xb.data(), exec);
  nc::zero_border(yb.data(), yl, exec);
  const nc::PackedConv pw = nc::pack_conv(w.data(), b.data(), g.c_out, g.c_in, g.kh, g.kw, in_lanes);
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    nc::conv({.g = g, .x = xb.data(), .xl = xl, .w = &pw, .y = yb.data(), .yl = yl, .relu = true}, exec);
    benchmark::ClobberMemory();
  }
  counters(state, clock, flops(g), g.n);
}

// The blocked weight gradient (nchwc::conv_grad_weight) alone, x and dy already blocked:
// the same FLOPs as the forward, so its %peak reads against "/blocked".
void BM_conv2d_grad_weight_blocked(benchmark::State& state, Layer l) {
  namespace nc = hone::kernels::cpu::nchwc;
  const Conv2dGeometry g = geometry(l);
  hone::bench::fma_peak();
  const int64_t B = nc::lanes(), in_lanes = nc::grad_weight_lanes(g.c_in);
  const nc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = in_lanes, .border = g.pad_top};
  const nc::Layout dyl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = 1};
  const auto x = random(g.n * g.c_in * g.h * g.w), dy = random(g.n * g.c_out * g.out_h() * g.out_w());
  hone::kernels::cpu::AlignedFloats xb(size_t(xl.size())), dyb(size_t(dyl.size()));
  std::vector<float> dw(size_t(g.c_out * g.c_in * g.kh * g.kw));
  const hone::kernels::ContextExec exec;
  nc::to_blocked(x.data(), xl, xb.data(), exec);
  nc::to_blocked(dy.data(), dyl, dyb.data(), exec);
  const hone::bench::PeakClock clock;
  for (auto _ : state) {
    nc::conv_grad_weight({.g = g, .x = xb.data(), .xl = xl, .dy = dyb.data(), .dyl = dyl, .dw = dw.data()}, exec);
    benchmark::ClobberMemory();
  }
  counters(state, clock, flops(g), g.n);
}

// Each layer under Auto (what the library runs), and where the direct kernel can run also
// under it, under the blocked tiles on NCHW tensors and under the im2col lowering
// ("/direct", "/blocked_nchw", "/im2col"), so Auto's choice can be checked in one run.
int register_all = [] {
  for (const Layer& l : kLayers) {
    const Conv2dGeometry g = geometry(l);
    const bool direct = hone::kernels::cpu::conv2d_direct_supported(g);
    const Conv2dAlgorithm im2col = g.c_out <= 128 && g.c_in * g.kh * g.kw >= 256 ? Conv2dAlgorithm::Transposed
                                                                                 : Conv2dAlgorithm::Columns;
    using hone::kernels::cpu::CpuIsa;
    auto add = [&](const std::string& name, auto fn, Conv2dAlgorithm algo, CpuIsa isa = CpuIsa::Auto) {
      benchmark::RegisterBenchmark(name.c_str(), fn, l, algo, isa)->Unit(benchmark::kMillisecond)->UseRealTime();
    };
    add(std::string("conv2d_forward/") + l.name, BM_conv2d_forward, Conv2dAlgorithm::Auto);
    add(std::string("conv2d_backward/") + l.name, BM_conv2d_backward, Conv2dAlgorithm::Auto);
    if (hone::kernels::cpu::nchwc::lanes() > 0) {
      benchmark::RegisterBenchmark((std::string("conv2d_forward/") + l.name + "/blocked").c_str(), BM_conv2d_blocked, l)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark((std::string("conv2d_grad_weight/") + l.name + "/blocked").c_str(),
                                   BM_conv2d_grad_weight_blocked, l)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    if (hone::kernels::cpu::conv_blocked::supported(g)) {  // the blocked tiles on NCHW tensors (training's convs)
      add(std::string("conv2d_forward/") + l.name + "/blocked_nchw", BM_conv2d_forward, Conv2dAlgorithm::Blocked);
      add(std::string("conv2d_backward/") + l.name + "/blocked_nchw", BM_conv2d_backward, Conv2dAlgorithm::Blocked);
    }
    // On an AVX-512 CPU, the AVX2 kernels too: how Auto's rule for AVX2-only CPUs compares
    // them (the AVX2 rule cannot be measured on an AVX-512 CPU's clock and caches exactly).
    if (hone::kernels::cpu::cpu_isa_supported(CpuIsa::Avx512) && hone::kernels::cpu::conv_blocked::supported(g, CpuIsa::Avx2)) {
      for (auto [suffix, algo] : {std::pair{"/blocked_nchw_avx2", Conv2dAlgorithm::Blocked}, {"/direct_avx2", Conv2dAlgorithm::Direct}}) {
        add(std::string("conv2d_forward/") + l.name + suffix, BM_conv2d_forward, algo, CpuIsa::Avx2);
        add(std::string("conv2d_backward/") + l.name + suffix, BM_conv2d_backward, algo, CpuIsa::Avx2);
      }
    }
    if (direct) {
      add(std::string("conv2d_forward/") + l.name + "/direct", BM_conv2d_forward, Conv2dAlgorithm::Direct);
      add(std::string("conv2d_backward/") + l.name + "/direct", BM_conv2d_backward, Conv2dAlgorithm::Direct);
      add(std::string("conv2d_forward/") + l.name + "/im2col", BM_conv2d_forward, im2col);
      add(std::string("conv2d_backward/") + l.name + "/im2col", BM_conv2d_backward, Conv2dAlgorithm::Columns);
    }
  }
  return 0;
}();

}  // namespace
