// conv2d: the im2col+GEMM kernel against the naive seven-loop reference on awkward
// geometries (forward and all three gradients), gradcheck of the op in float64, the
// layer shapes of ResNet-18 and VGG-16, and the errors users see.
#include "kernels/context_exec.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_blocked.h"
#include "kernels/cpu/conv2d_direct.h"
#include "test_util.h"

namespace hone {
namespace {

using kernels::Conv2dGeometry;

std::vector<float> random_floats(int64_t n, uint64_t seed) {
  Generator g(seed);
  return uniform({n}, -1, 1, {}, &g).to_vector<float>();
}

// Every float32 lowering this geometry can take on this CPU: Direct and Blocked once per
// instruction set the CPU has (AVX-512 and AVX2 on an AVX-512 machine; DirectConvolutionEdges says
// when there is none).
struct Variant {
  kernels::Conv2dAlgorithm algorithm;
  kernels::cpu::CpuIsa isa = kernels::cpu::CpuIsa::Auto;
};
std::vector<Variant> algorithms_for(const Conv2dGeometry& g) {
  std::vector<Variant> algos = {{kernels::Conv2dAlgorithm::Auto},
                                {kernels::Conv2dAlgorithm::Columns},
                                {kernels::Conv2dAlgorithm::Transposed}};
  if (kernels::cpu::conv2d_direct_supported(g))
    for (auto isa : kernels::cpu::conv_direct::isas()) algos.push_back({kernels::Conv2dAlgorithm::Direct, isa});
  for (auto isa : {kernels::cpu::CpuIsa::Avx512, kernels::cpu::CpuIsa::Avx2})
    if (kernels::cpu::conv_blocked::supported(g, isa)) algos.push_back({kernels::Conv2dAlgorithm::Blocked, isa});
  return algos;
}

// Runs fast and reference kernels (float32) on random data and compares all outputs.
void compare_with_reference(const Conv2dGeometry& g, bool with_bias = true) {
  SCOPED_TRACE(::testing::Message() << "n=" << g.n << " c_in=" << g.c_in << " " << g.h << "x" << g.w << " c_out="
                                    << g.c_out << " k=" << g.kh << "x" << g.kw << " stride=" << g.stride_h << ","
                                    << g.stride_w << " pads=" << g.pad_top << "," << g.pad_left << "," << g.pad_bottom
                                    << "," << g.pad_right << " dil=" << g.dilation_h << "," << g.dilation_w
                                    << " groups=" << g.groups);
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t nx = g.n * g.c_in * g.h * g.w, nw = g.c_out * (g.c_in / g.groups) * g.kh * g.kw, ny = g.n * g.c_out * oh * ow;
  std::vector<float> x = random_floats(nx, 1), w = random_floats(nw, 2), b = random_floats(g.c_out, 3),
                     dy = random_floats(ny, 4);
  std::vector<float> y(static_cast<size_t>(ny)), y_ref(static_cast<size_t>(ny));
  kernels::Conv2dForwardArgs f{.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                    .bias = with_bias ? b.data() : nullptr, .output = y.data()};
  kernels::cpu::conv2d_forward_reference({.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                          .bias = with_bias ? b.data() : nullptr, .output = y_ref.data()});
  const double tol = 1e-4 * std::sqrt(double(g.c_in / g.groups * g.kh * g.kw));
  for (auto [algo, isa] : algorithms_for(g)) {
    std::fill(y.begin(), y.end(), std::nanf(""));
    f.algorithm = algo;
    f.isa = isa;
    kernels::cpu::conv2d_forward(f, kernels::ContextExec());
    for (size_t i = 0; i < y.size(); ++i)
      ASSERT_NEAR(y[i], y_ref[i], tol) << "forward output " << i << ", algorithm " << int(algo) << " " << kernels::cpu::cpu_isa_name(isa);
  }

  std::vector<float> dx(static_cast<size_t>(nx)), dw(static_cast<size_t>(nw)), db(static_cast<size_t>(g.c_out));
  std::vector<float> dx_ref(static_cast<size_t>(nx)), dw_ref(static_cast<size_t>(nw)), db_ref(static_cast<size_t>(g.c_out));
  kernels::Conv2dBackwardArgs bw{.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                      .grad_output = dy.data(), .grad_input = dx.data(), .grad_weight = dw.data(),
                                      .grad_bias = db.data()};
  kernels::Conv2dBackwardArgs ref = bw;
  ref.grad_input = dx_ref.data();
  ref.grad_weight = dw_ref.data();
  ref.grad_bias = db_ref.data();
  kernels::cpu::conv2d_backward_reference(ref);
  const double tol_w = 1e-4 * std::sqrt(double(g.n * oh * ow));
  for (auto [algo, isa] : algorithms_for(g)) {
    if (algo == kernels::Conv2dAlgorithm::Transposed) continue;  // a forward-only choice
    for (auto* v : {&dx, &dw, &db}) std::fill(v->begin(), v->end(), std::nanf(""));
    bw.algorithm = algo;
    bw.isa = isa;
    kernels::cpu::conv2d_backward(bw, kernels::ContextExec());
    const std::string where = ", algorithm " + std::to_string(int(algo)) + " " + kernels::cpu::cpu_isa_name(isa);
    for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dx_ref[i], tol) << "grad_input " << i << where;
    for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], dw_ref[i], tol_w) << "grad_weight " << i << where;
    for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], db_ref[i], tol_w) << "grad_bias " << i << where;
  }
}

TEST(Conv2dKernel, MatchesReferenceOnAwkwardGeometries) {
  std::vector<Conv2dGeometry> cases = {
      {.n = 1, .c_in = 3, .h = 9, .w = 7, .c_out = 5, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},
      {.n = 2, .c_in = 17, .h = 6, .w = 6, .c_out = 19, .kh = 1, .kw = 1},  // pointwise, odd channels
      {.n = 2, .c_in = 4, .h = 1, .w = 1, .c_out = 3, .kh = 1, .kw = 1},    // 1x1 spatial
      {.n = 1, .c_in = 2, .h = 3, .w = 3, .c_out = 2, .kh = 5, .kw = 5, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},  // kernel > padded edge
      {.n = 2, .c_in = 3, .h = 11, .w = 10, .c_out = 4, .kh = 2, .kw = 2, .stride_h = 3, .stride_w = 3},  // stride > kernel
      {.n = 1, .c_in = 3, .h = 8, .w = 9, .c_out = 2, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1, .pad_top = 0, .pad_left = 2, .pad_bottom = 1, .pad_right = 0},  // asymmetric (ONNX pads)
      {.n = 2, .c_in = 4, .h = 9, .w = 9, .c_out = 6, .kh = 3, .kw = 3, .pad_top = 2, .pad_left = 2, .pad_bottom = 2, .pad_right = 2, .dilation_h = 2, .dilation_w = 2},
      {.n = 2, .c_in = 6, .h = 5, .w = 7, .c_out = 4, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = 2},
      {.n = 1, .c_in = 8, .h = 6, .w = 6, .c_out = 8, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = 8},  // depthwise
      {.n = 3, .c_in = 3, .h = 15, .w = 15, .c_out = 8, .kh = 7, .kw = 7, .stride_h = 2, .stride_w = 2, .pad_top = 3, .pad_left = 3, .pad_bottom = 3, .pad_right = 3},  // ResNet stem
      {.n = 2, .c_in = 8, .h = 7, .w = 7, .c_out = 16, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2},  // downsample 1x1 stride 2
  };
  // Columns of 576 x 64*64 floats per image exceed the 8 MiB chunk budget: the three
  // images run as three GEMM chunks, and the weight gradient accumulates across them.
  cases.push_back({.n = 3, .c_in = 64, .h = 64, .w = 64, .c_out = 2, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1,
                   .pad_bottom = 1, .pad_right = 1});
  for (const auto& g : cases) {
    compare_with_reference(g);
    if (::testing::Test::HasFatalFailure()) return;
  }
  compare_with_reference(cases[0], /*with_bias=*/false);
}

// Every distinct conv of ResNet-18 and VGG-16 (channels, kernel, stride, padding) at a
// reduced spatial size, checked in full against the naive reference.
TEST(Conv2dKernel, ResNet18AndVgg16LayerShapesAtReducedSize) {
  struct L { int64_t cin, cout, k, s, p, hw; };
  const std::vector<L> layers = {
      {3, 64, 7, 2, 3, 32},     // resnet conv1
      {64, 64, 3, 1, 1, 8},     {64, 128, 3, 2, 1, 8},  {64, 128, 1, 2, 0, 8},  {128, 128, 3, 1, 1, 6},
      {128, 256, 3, 2, 1, 6},   {128, 256, 1, 2, 0, 6}, {256, 256, 3, 1, 1, 4}, {256, 512, 3, 2, 1, 4},
      {256, 512, 1, 2, 0, 4},   {512, 512, 3, 1, 1, 3},  // layer4
      {3, 64, 3, 1, 1, 8},      {64, 64, 3, 1, 1, 6},   {64, 128, 3, 1, 1, 5},  {128, 256, 3, 1, 1, 4},
      {256, 512, 3, 1, 1, 3},   // vgg16 blocks (its other convs repeat these shapes)
  };
  for (const L& l : layers)
    compare_with_reference({.n = 1, .c_in = l.cin, .h = l.hw, .w = l.hw, .c_out = l.cout, .kh = l.k, .kw = l.k,
                            .stride_h = l.s, .stride_w = l.s, .pad_top = l.p, .pad_left = l.p, .pad_bottom = l.p,
                            .pad_right = l.p});
}

TEST(Conv2dOp, GradcheckAllInputs) {
  Tensor x = test::random_leaf({2, 4, 5, 4}, 1), w = test::random_leaf({6, 2, 3, 2}, 2), b = test::random_leaf({6}, 3);
  Conv2dFuncOptions o{.stride = {2, 1}, .padding = {1, 0, 0, 1}, .dilation = {1, 2}, .groups = 2};
  test::expect_gradcheck([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], o); }, {x, w, b});
}

TEST(Conv2dOp, GradcheckPointwiseNoBias) {
  Tensor x = test::random_leaf({2, 3, 3, 3}, 4), w = test::random_leaf({2, 3, 1, 1}, 5);
  test::expect_gradcheck([&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1]); }, {x, w});
}

TEST(Conv2dOp, HandComputedValues) {
  // 1 channel 3x3 input, 2x2 all-ones kernel, bias 0.5: each output is a 2x2 window sum.
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor w = ones({1, 1, 2, 2});
  Tensor b = from_vector<float>({0.5f});
  test::expect_close(conv2d(x, w, b), {12.5, 16.5, 24.5, 28.5});
  // Padding 1 on top/left only (asymmetric), stride 2: windows at (-1,-1), (-1,1), (1,-1), (1,1).
  Tensor y = conv2d(x, w, Tensor(), {.stride = {2, 2}, .padding = {1, 1, 0, 0}});
  test::expect_close(y, {1, 5, 11, 28});
}

TEST(Conv2dOp, FrozenWeightGetsNoGradAndInputStillDoes) {
  Tensor x = test::random_leaf({1, 2, 4, 4}, 1);
  Tensor w = test::random_leaf({3, 2, 3, 3}, 2).set_requires_grad(false);
  conv2d(x, w).sum().backward();
  EXPECT_TRUE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Conv2dOp, ErrorsNameTheProblem) {
  test::expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 2, 3, 3})); }, "input has 3 channels");
  test::expect_error([] { conv2d(zeros({3, 8, 8}), zeros({4, 3, 3, 3})); }, "input must be 4-D");
  test::expect_error([] { conv2d(zeros({1, 3, 2, 2}), zeros({4, 3, 5, 5}), Tensor(), {.padding = {1, 0, 0, 0}}); },
                     {"conv2d: input 2x2 is too small for kernel 5x5 with stride 1x1, dilation 1x1",
                      "pads top=1 left=0 bottom=0 right=0 (output would be -1x-2)"});
  test::expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}), Tensor(), {.stride = {0, 1}}); },
                     "conv2d: stride and dilation must be positive, got stride 0x1 and dilation 1x1");
  test::expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}), Tensor(), {.padding = {0, -1, 0, 0}}); },
                     "conv2d: padding must be non-negative, got top=0 left=-1 bottom=0 right=0");
  test::expect_error([] { conv2d(zeros({1, 4, 8, 8}), zeros({5, 2, 3, 3}), Tensor(), {.groups = 2}); },
                     "conv2d: 5 output channels not divisible by groups=2");
  test::expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}), zeros({5})); }, "bias must be [4]");
  test::expect_error([] { conv2d(zeros({1, 3, 8, 8}), zeros({4, 3, 3, 3}, {.dtype = DType::Float64})); }, "dtype");
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {

// The real sizes: ResNet-18's stem and VGG-16's first conv on one 224x224 image, and
// layer shapes at their true spatial sizes; 200 random output points each are checked
// against the convolution formula evaluated directly.
TEST(Conv2dKernel, RealSizeLayersAtSampledPoints) {
  struct L { int64_t cin, cout, k, s, p, hw; };
  for (const L& l : std::vector<L>{{3, 64, 7, 2, 3, 224}, {3, 64, 3, 1, 1, 224}, {64, 64, 3, 1, 1, 56},
                                   {128, 256, 3, 2, 1, 28}, {256, 512, 1, 2, 0, 14}, {512, 512, 3, 1, 1, 14}}) {
    const Conv2dGeometry g{.n = 1, .c_in = l.cin, .h = l.hw, .w = l.hw, .c_out = l.cout, .kh = l.k, .kw = l.k,
                           .stride_h = l.s, .stride_w = l.s, .pad_top = l.p, .pad_left = l.p, .pad_bottom = l.p,
                           .pad_right = l.p};
    const int64_t oh = g.out_h(), ow = g.out_w();
    std::vector<float> x = random_floats(g.c_in * g.h * g.w, 11), w = random_floats(g.c_out * g.c_in * g.kh * g.kw, 12),
                       b = random_floats(g.c_out, 13), y(static_cast<size_t>(g.c_out * oh * ow));
    kernels::cpu::conv2d_forward({.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                  .bias = b.data(), .output = y.data()}, kernels::ContextExec());
    Generator gen(99);
    std::vector<int64_t> pick = randint(0, g.c_out * oh * ow, {200}, {.dtype = DType::Int64}, &gen).to_vector<int64_t>();
    for (int64_t idx : pick) {
      const int64_t co = idx / (oh * ow), oy = (idx / ow) % oh, ox = idx % ow;
      double ref = b[size_t(co)];
      for (int64_t ci = 0; ci < g.c_in; ++ci)
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky, ix = ox * g.stride_w - g.pad_left + kx;
            if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
              ref += double(x[size_t((ci * g.h + iy) * g.w + ix)]) * double(w[size_t(((co * g.c_in + ci) * g.kh + ky) * g.kw + kx)]);
          }
      ASSERT_NEAR(y[size_t(idx)], ref, 2e-4 * std::sqrt(double(g.c_in * g.kh * g.kw))) << "cin=" << l.cin << " k=" << l.k
                                                                                      << " at (" << co << "," << oy << "," << ox << ")";
    }
  }
}

// The direct kernel's grid: rows and images share their padding, positions that are no
// output pixel are computed and dropped, input channels come in chunks of 64 (3x3) or 576
// (1x1), output channels in blocks of 8 (forward) and 64 (weight gradient). These shapes
// hit every edge of that: asymmetric and zero padding, kernels wider than tall, channel
// counts just past a block or chunk, one input channel, grids of one tile and of many,
// and strides (phases).
TEST(Conv2dKernel, DirectConvolutionEdges) {
  const Conv2dGeometry probe{.n = 1, .c_in = 1, .h = 3, .w = 3, .c_out = 1, .kh = 3, .kw = 3};
  if (!kernels::cpu::conv2d_direct_supported(probe)) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2+FMA: the direct kernel never runs";
  for (auto isa : kernels::cpu::conv_direct::isas()) std::printf("direct kernel runs with %s\n", kernels::cpu::cpu_isa_name(isa));
  std::vector<Conv2dGeometry> cases = {
      {.n = 1, .c_in = 1, .h = 5, .w = 4, .c_out = 1, .kh = 3, .kw = 3},  // no padding: out 3x2 inside a 5x4 grid
      {.n = 3, .c_in = 5, .h = 7, .w = 9, .c_out = 9, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},
      {.n = 2, .c_in = 3, .h = 8, .w = 9, .c_out = 7, .kh = 3, .kw = 2, .pad_top = 0, .pad_left = 1, .pad_bottom = 2, .pad_right = 0},
      {.n = 2, .c_in = 4, .h = 6, .w = 11, .c_out = 65, .kh = 2, .kw = 5, .pad_top = 1, .pad_left = 4, .pad_bottom = 0, .pad_right = 2},
      {.n = 1, .c_in = 130, .h = 6, .w = 5, .c_out = 17, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},  // chunks 64+64+2
      {.n = 2, .c_in = 600, .h = 3, .w = 4, .c_out = 70, .kh = 1, .kw = 1},  // 1x1: chunks 576+24
      {.n = 2, .c_in = 6, .h = 13, .w = 12, .c_out = 8, .kh = 5, .kw = 5, .pad_top = 2, .pad_left = 2, .pad_bottom = 2, .pad_right = 2},
      {.n = 4, .c_in = 16, .h = 30, .w = 29, .c_out = 24, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},  // many tiles
      {.n = 1, .c_in = 2, .h = 1, .w = 1, .c_out = 3, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},  // 1x1 image
      // Strided: phases of unequal size (odd sides), stride > kernel (phases no tap reads,
      // whose input gradient is zero), unequal strides, the ResNet stem and downsample.
      {.n = 2, .c_in = 5, .h = 9, .w = 11, .c_out = 9, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},
      {.n = 2, .c_in = 8, .h = 10, .w = 7, .c_out = 16, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2},
      {.n = 1, .c_in = 3, .h = 11, .w = 10, .c_out = 4, .kh = 2, .kw = 2, .stride_h = 3, .stride_w = 3},
      {.n = 2, .c_in = 3, .h = 8, .w = 9, .c_out = 5, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1, .pad_top = 0, .pad_left = 1, .pad_bottom = 1, .pad_right = 0},
      {.n = 2, .c_in = 3, .h = 15, .w = 16, .c_out = 8, .kh = 7, .kw = 7, .stride_h = 2, .stride_w = 2, .pad_top = 3, .pad_left = 3, .pad_bottom = 3, .pad_right = 3},
      {.n = 1, .c_in = 70, .h = 7, .w = 7, .c_out = 20, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1},
      {.n = 1, .c_in = 2, .h = 5, .w = 5, .c_out = 3, .kh = 3, .kw = 3, .stride_h = 4, .stride_w = 4, .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 2},
  };
  for (const auto& g : cases) {
    ASSERT_TRUE(kernels::cpu::conv2d_direct_supported(g));
    compare_with_reference(g);
    if (::testing::Test::HasFatalFailure()) return;
  }
  compare_with_reference(cases[1], /*with_bias=*/false);
}

TEST(Conv2dKernel, DirectRefusesWhatItCannotRun) {
  const Conv2dGeometry dilated{.n = 1, .c_in = 2, .h = 6, .w = 6, .c_out = 2, .kh = 3, .kw = 3, .dilation_h = 2, .dilation_w = 2};
  EXPECT_FALSE(kernels::cpu::conv2d_direct_supported(dilated));
  std::vector<float> x(72), w(36), y(8);
  test::expect_error(
      [&] {
        kernels::cpu::conv2d_forward({.g = dilated, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                      .bias = nullptr, .output = y.data(), .algorithm = kernels::Conv2dAlgorithm::Direct}, kernels::ContextExec());
      },
      {"conv2d", "direct", "dilation"});
  const Conv2dGeometry grouped{.n = 1, .c_in = 4, .h = 6, .w = 6, .c_out = 4, .kh = 3, .kw = 3, .groups = 2};
  EXPECT_FALSE(kernels::cpu::conv2d_direct_supported(grouped));
  const Conv2dGeometry wide_pad{.n = 1, .c_in = 1, .h = 4, .w = 4, .c_out = 1, .kh = 3, .kw = 3, .pad_top = 3};
  EXPECT_FALSE(kernels::cpu::conv2d_direct_supported(wide_pad));  // pad >= kernel: grad input needs pad k-1-p >= 0
  // An instruction set this CPU lacks (or one the kernel has no tile for) is refused by name.
  const Conv2dGeometry plain{.n = 1, .c_in = 2, .h = 6, .w = 6, .c_out = 2, .kh = 3, .kw = 3};
  EXPECT_FALSE(kernels::cpu::conv2d_direct_supported(plain, kernels::cpu::CpuIsa::Portable));
  std::vector<float> y16(32);
  test::expect_error(
      [&] {
        kernels::cpu::conv2d_forward({.g = plain, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                      .bias = nullptr, .output = y16.data(), .algorithm = kernels::Conv2dAlgorithm::Direct,
                                      .isa = kernels::cpu::CpuIsa::Portable}, kernels::ContextExec());
      },
      {"conv2d", "direct", "portable"});
  if (!kernels::cpu::cpu_isa_supported(kernels::cpu::CpuIsa::Avx512))
    EXPECT_FALSE(kernels::cpu::conv2d_direct_supported(plain, kernels::cpu::CpuIsa::Avx512));
}

TEST(Conv2dKernel, BlockedRefusesWhatItCannotRun) {
  const Conv2dGeometry dilated{.n = 1, .c_in = 2, .h = 6, .w = 6, .c_out = 2, .kh = 3, .kw = 3, .dilation_h = 2, .dilation_w = 2};
  const Conv2dGeometry grouped{.n = 1, .c_in = 4, .h = 6, .w = 6, .c_out = 4, .kh = 3, .kw = 3, .groups = 2};
  const Conv2dGeometry wide_pad{.n = 1, .c_in = 1, .h = 4, .w = 4, .c_out = 1, .kh = 3, .kw = 3, .pad_top = 3};
  for (const auto& g : {dilated, grouped, wide_pad}) EXPECT_FALSE(kernels::cpu::conv_blocked::supported(g));
  std::vector<float> x(72), w(36), y(16), dy(16), dw(36);
  test::expect_error(
      [&] {
        kernels::cpu::conv2d_forward({.g = dilated, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                      .bias = nullptr, .output = y.data(), .algorithm = kernels::Conv2dAlgorithm::Blocked},
                                     kernels::ContextExec());
      },
      {"conv2d", "blocked", "dilation"});
  test::expect_error(
      [&] {
        kernels::cpu::conv2d_backward({.g = grouped, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                       .grad_output = dy.data(), .grad_input = nullptr, .grad_weight = dw.data(),
                                       .grad_bias = nullptr, .algorithm = kernels::Conv2dAlgorithm::Blocked,
                                       .isa = kernels::cpu::CpuIsa::Portable},
                                      kernels::ContextExec());
      },
      {"conv2d backward", "blocked", "one group"});
}

TEST(Conv2dKernel, BitIdenticalForAnyThreadCount) {
  const Conv2dGeometry g{.n = 2, .c_in = 29, .h = 17, .w = 15, .c_out = 21, .kh = 3, .kw = 3, .stride_h = 2,
                         .stride_w = 1, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
  auto run = [](const Conv2dGeometry& g, int threads, kernels::Conv2dAlgorithm algo) {
    const int64_t ny = g.n * g.c_out * g.out_h() * g.out_w();
    std::vector<float> x = random_floats(g.n * g.c_in * g.h * g.w, 1), w = random_floats(g.c_out * g.c_in * 9, 2),
                       dy = random_floats(ny, 3);
    Context ctx;
    ctx.set_num_threads(threads);
    ContextGuard guard(ctx);
    std::vector<float> y(static_cast<size_t>(ny)), dx(x.size()), dw(w.size()), db(static_cast<size_t>(g.c_out));
    kernels::cpu::conv2d_forward({.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                  .bias = nullptr, .output = y.data(), .algorithm = algo}, kernels::ContextExec());
    kernels::cpu::conv2d_backward({.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                   .grad_output = dy.data(), .grad_input = dx.data(), .grad_weight = dw.data(),
                                   .grad_bias = db.data(), .algorithm = algo}, kernels::ContextExec());
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dw.begin(), dw.end());
    y.insert(y.end(), db.begin(), db.end());
    return y;
  };
  // The direct kernel on a stride-1 shape whose grid spans many tiles and both channel splits.
  const Conv2dGeometry d{.n = 3, .c_in = 70, .h = 19, .w = 21, .c_out = 72, .kh = 3, .kw = 3, .pad_top = 1,
                         .pad_left = 1, .pad_bottom = 1, .pad_right = 1};
  std::vector<std::pair<Conv2dGeometry, kernels::Conv2dAlgorithm>> runs = {
      {g, kernels::Conv2dAlgorithm::Columns}, {g, kernels::Conv2dAlgorithm::Transposed},
      {d, kernels::Conv2dAlgorithm::Columns}};
  if (kernels::cpu::conv2d_direct_supported(d)) runs.push_back({d, kernels::Conv2dAlgorithm::Direct});
  if (kernels::cpu::conv_blocked::supported(d)) runs.push_back({d, kernels::Conv2dAlgorithm::Blocked});
  if (kernels::cpu::conv_blocked::supported(g)) runs.push_back({g, kernels::Conv2dAlgorithm::Blocked});
  for (const auto& [geom, algo] : runs) {
    const std::vector<float> one = run(geom, 1, algo);
    for (int t : {2, 3}) {
      const std::vector<float> other = run(geom, t, algo);
      EXPECT_EQ(std::memcmp(one.data(), other.data(), one.size() * sizeof(float)), 0)
          << t << " threads, algorithm " << int(algo) << ", c_in " << geom.c_in;
    }
  }
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {

TEST(Conv2dOp, PaddingReadsAsPyTorchUsersWriteIt) {
  // {h, w} pads both sides of each dim, as PyTorch's padding=(h, w); one value pads all four
  // sides; four values are top, left, bottom, right (ONNX's pads).
  const Tensor x = randn({1, 2, 7, 9}), w = randn({3, 2, 3, 3});
  const Tensor both = conv2d(x, w, Tensor(), {.padding = {1, 2}});
  EXPECT_EQ(both.shape(), (Shape{1, 3, 7, 11}));
  EXPECT_EQ(max(abs(both - conv2d(x, w, Tensor(), {.padding = {1, 2, 1, 2}}))).item<float>(), 0.0f);
  EXPECT_EQ(conv2d(x, w, Tensor(), {.padding = 1}).shape(), (Shape{1, 3, 7, 9}));
  EXPECT_EQ(conv2d(x, w, Tensor(), {.padding = {1, 0, 0, 2}}).shape(), (Shape{1, 3, 6, 9}));
  EXPECT_EQ(max_pool2d(x, {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}}).shape(), (Shape{1, 2, 7, 9}));
  EXPECT_EQ(Padding2d(1, 2), Padding2d(1, 2, 1, 2));
  EXPECT_EQ(symmetric_padding(3, 4), (Padding2d{3, 4, 3, 4}));
}

}  // namespace
}  // namespace hone
