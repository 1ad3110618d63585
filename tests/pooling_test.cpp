// Pooling: each kernel against its naive reference on awkward geometries (plus the
// backward kernels through the adjoint identity <forward(x), dy> = <x, backward(dy)>),
// hand-computed values, PyTorch's output-size rules, float64 gradcheck of every op, the
// ResNet-18 and VGG pools, and the errors users see.
#include <algorithm>
#include <cmath>
#include <functional>
#include <iostream>
#include <limits>
#include <numeric>
#include <random>
#include <sstream>

#include "autograd/ops/pooling.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/pooling.h"
#include "test_util.h"

namespace hone {
namespace {

namespace k = kernels::cpu;
using kernels::Pool2dGeometry;

template <typename T>
std::vector<T> random_values(int64_t n, uint64_t seed) {
  Generator g(seed);
  return uniform({n}, -1, 1, {.dtype = dtype_of<T>()}, &g).template to_vector<T>();
}

template <typename T>
double dot(const std::vector<T>& a, const std::vector<T>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

std::string describe(const Pool2dGeometry& g) {
  std::ostringstream os;
  os << "n=" << g.n << " c=" << g.c << " " << g.h << "x" << g.w << " k=" << g.kh << "x" << g.kw << " stride="
     << g.stride_h << "," << g.stride_w << " pads=" << g.pad_top << "," << g.pad_left << "," << g.pad_bottom << ","
     << g.pad_right << " dil=" << g.dilation_h << "," << g.dilation_w << " ceil=" << g.ceil_mode << " -> "
     << g.out_h() << "x" << g.out_w();
  return os.str();
}

// Max pool: values and indices must match the reference exactly (same first-maximum
// rule); the backward kernel must scatter exactly as a plain loop over the indices does.
template <typename T>
void compare_max_pool(const Pool2dGeometry& g, std::vector<T> x = {}, k::CpuIsa isa = k::CpuIsa::Auto) {
  SCOPED_TRACE(describe(g) + (sizeof(T) == 8 ? " float64 " : " float32 ") + k::cpu_isa_name(isa));
  const int64_t nx = g.n * g.c * g.h * g.w, ny = g.n * g.c * g.out_h() * g.out_w();
  if (x.empty()) x = random_values<T>(nx, 1);
  const std::vector<T> dy = random_values<T>(ny, 2);
  std::vector<T> y(static_cast<size_t>(ny)), y_ref(static_cast<size_t>(ny));
  std::vector<int64_t> idx(static_cast<size_t>(ny)), idx_ref(static_cast<size_t>(ny));
  kernels::MaxPool2dForwardArgs f{.g = g, .dtype = dtype_of<T>(), .input = x.data(), .output = y.data(), .indices = idx.data()};
  k::max_pool2d_forward(f, kernels::ContextExec(), isa);
  f.output = y_ref.data();
  f.indices = idx_ref.data();
  k::max_pool2d_reference(f);
  for (size_t i = 0; i < y.size(); ++i) {
    ASSERT_TRUE(y[i] == y_ref[i] || (std::isnan(y[i]) && std::isnan(y_ref[i]))) << "value " << i << ": " << y[i] << " vs " << y_ref[i];
    ASSERT_EQ(idx[i], idx_ref[i]) << "index " << i;
  }
  std::vector<T> dx(static_cast<size_t>(nx), T(7));  // garbage: the kernel must overwrite it
  k::max_pool2d_backward({.g = g, .dtype = dtype_of<T>(), .grad_output = dy.data(), .indices = idx.data(),
                          .grad_input = dx.data()}, kernels::ContextExec());
  std::vector<double> dx_ref(size_t(nx), 0.0);
  const int64_t plane_out = g.out_h() * g.out_w();
  for (int64_t o = 0; o < ny; ++o) dx_ref[size_t((o / plane_out) * g.h * g.w + idx_ref[size_t(o)])] += double(dy[size_t(o)]);
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dx_ref[i], 1e-5) << "grad_input " << i;
}

// Average pool: forward against the reference; backward through the adjoint identity.
template <typename T>
void compare_avg_pool(const Pool2dGeometry& g, bool count_include_pad) {
  SCOPED_TRACE(describe(g) + " count_include_pad=" + std::to_string(count_include_pad) +
               (sizeof(T) == 8 ? " float64" : " float32"));
  const int64_t nx = g.n * g.c * g.h * g.w, ny = g.n * g.c * g.out_h() * g.out_w();
  const std::vector<T> x = random_values<T>(nx, 3), dy = random_values<T>(ny, 4);
  std::vector<T> y(static_cast<size_t>(ny)), y_ref(static_cast<size_t>(ny)), dx(static_cast<size_t>(nx), T(7));
  kernels::AvgPool2dForwardArgs f{.g = g, .dtype = dtype_of<T>(), .count_include_pad = count_include_pad,
                            .input = x.data(), .output = y.data()};
  k::avg_pool2d_forward(f, kernels::ContextExec());
  f.output = y_ref.data();
  k::avg_pool2d_reference(f);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-6) << "value " << i;
  k::avg_pool2d_backward({.g = g, .dtype = dtype_of<T>(), .count_include_pad = count_include_pad,
                          .grad_output = dy.data(), .grad_input = dx.data()}, kernels::ContextExec());
  EXPECT_NEAR(dot(y_ref, dy), dot(x, dx), 1e-4 * std::sqrt(double(ny))) << "backward is not the adjoint";
}

template <typename T>
void compare_adaptive(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  SCOPED_TRACE(::testing::Message() << "adaptive n=" << n << " c=" << c << " " << h << "x" << w << " -> " << oh << "x"
                                    << ow << (sizeof(T) == 8 ? " float64" : " float32"));
  const int64_t nx = n * c * h * w, ny = n * c * oh * ow;
  const std::vector<T> x = random_values<T>(nx, 5), dy = random_values<T>(ny, 6);
  std::vector<T> y(static_cast<size_t>(ny)), y_ref(static_cast<size_t>(ny)), dx(static_cast<size_t>(nx), T(7));
  kernels::AdaptiveAvgPool2dForwardArgs f{.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow, .dtype = dtype_of<T>(),
                                    .input = x.data(), .output = y.data()};
  k::adaptive_avg_pool2d_forward(f, kernels::ContextExec());
  f.output = y_ref.data();
  k::adaptive_avg_pool2d_reference(f);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], y_ref[i], 1e-6) << "value " << i;
  k::adaptive_avg_pool2d_backward({.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow, .dtype = dtype_of<T>(),
                                   .grad_output = dy.data(), .grad_input = dx.data()}, kernels::ContextExec());
  EXPECT_NEAR(dot(y_ref, dy), dot(x, dx), 1e-4 * std::sqrt(double(ny))) << "backward is not the adjoint";
}

Pool2dGeometry geo(int64_t n, int64_t c, int64_t h, int64_t w, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                   std::array<int64_t, 4> pads = {0, 0, 0, 0}, bool ceil_mode = false, int64_t dh = 1, int64_t dw = 1) {
  return {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw, .stride_h = sh, .stride_w = sw, .pad_top = pads[0],
          .pad_left = pads[1], .pad_bottom = pads[2], .pad_right = pads[3], .dilation_h = dh, .dilation_w = dw,
          .ceil_mode = ceil_mode};
}

// Geometries without dilation: shared by max and average pool.
std::vector<Pool2dGeometry> awkward_geometries() {
  return {
      geo(1, 3, 9, 7, 3, 3, 2, 2, {1, 1, 1, 1}),                 // batch 1, 3 channels, odd sizes
      geo(2, 5, 1, 1, 1, 1, 1, 1),                               // 1x1 input
      geo(2, 3, 1, 1, 2, 2, 2, 2, {1, 1, 1, 1}),                 // 1x1 input, window mostly padding
      geo(1, 5, 1, 1, 3, 3, 1, 1, {1, 1, 1, 1}),                 // kernel as large as the padded 1x1
      geo(2, 3, 3, 3, 5, 5, 1, 1, {2, 2, 2, 2}),                 // kernel wider than the image
      geo(1, 3, 3, 3, 4, 4, 2, 2, {0, 0, 0, 0}, true),           // kernel larger than the input (ceil)
      geo(2, 3, 11, 10, 2, 2, 3, 3),                             // stride larger than the kernel
      geo(1, 5, 5, 7, 2, 2, 2, 2, {0, 0, 0, 0}, true),           // ceil: last window overhangs
      geo(2, 3, 6, 6, 3, 3, 2, 2, {0, 0, 0, 0}, true),           // ceil, k3 s2
      geo(1, 3, 5, 5, 2, 2, 2, 2, {1, 1, 1, 1}, true),           // ceil with padding: PyTorch drops a window
      geo(1, 3, 8, 9, 3, 2, 2, 1, {0, 1, 1, 0}),                 // asymmetric (ONNX) pads
      geo(2, 5, 7, 8, 3, 4, 3, 2, {1, 0, 0, 2}, true),           // asymmetric pads with ceil
      geo(1, 3, 6, 13, 1, 3, 1, 2, {0, 1, 0, 1}),                // 1-row kernel
      geo(1, 3, 7, 6, 3, 3, 1, 1, {2, 2, 2, 2}),                 // pads of kernel - 1 (ONNX allows them)
      geo(2, 3, 9, 8, 3, 4, 2, 3, {2, 0, 1, 3}, true),           // the same, asymmetric, strided, ceil
  };
}

TEST(PoolingKernel, OutputSizesFollowPyTorch) {
  // (in, kernel, stride, pad_before, pad_after, dilation, ceil) -> out, checked by hand.
  EXPECT_EQ(kernels::pool_output_size(5, 2, 2, 0, 0, 1, false), 2);
  EXPECT_EQ(kernels::pool_output_size(5, 2, 2, 0, 0, 1, true), 3);
  EXPECT_EQ(kernels::pool_output_size(4, 2, 2, 1, 1, 1, true), 3);   // windows start at -1, 1, 3
  EXPECT_EQ(kernels::pool_output_size(4, 2, 2, 1, 1, 1, false), 3);
  EXPECT_EQ(kernels::pool_output_size(5, 2, 2, 1, 1, 1, true), 3);   // ceil alone gives 4; that window starts in the pad
  EXPECT_EQ(kernels::pool_output_size(3, 2, 2, 1, 1, 1, true), 2);   // likewise 3 -> 2
  EXPECT_EQ(kernels::pool_output_size(112, 3, 2, 1, 1, 1, false), 56);  // ResNet-18 stem pool
  EXPECT_EQ(kernels::pool_output_size(14, 2, 2, 0, 0, 1, false), 7);    // VGG's last pool
  EXPECT_EQ(kernels::pool_output_size(9, 3, 1, 1, 1, 2, false), 7);     // dilation 2: effective kernel 5
  EXPECT_EQ(kernels::pool_output_size(3, 4, 2, 0, 0, 1, true), 1);      // a window larger than the input, with ceil
  EXPECT_EQ(kernels::pool_output_size(3, 4, 2, 0, 0, 1, false), 0);     // ... and without: empty
  EXPECT_EQ(kernels::pool_output_size(4, 2, 2, 1, 0, 1, true), 3);      // asymmetric: left pad only
  EXPECT_EQ(kernels::pool_output_size(4, 2, 2, 0, 1, 1, true), 2);      // right pad only: a 3rd window would start in it
}

TEST(PoolingKernel, MaxPoolMatchesReference) {
  for (const Pool2dGeometry& g : awkward_geometries()) {
    compare_max_pool<float>(g);
    if (HasFatalFailure()) return;
  }
  const std::vector<Pool2dGeometry> dilated = {
      geo(2, 3, 9, 9, 3, 3, 1, 1, {1, 1, 1, 1}, false, 2, 2),
      geo(1, 5, 10, 7, 3, 2, 2, 3, {1, 0, 0, 1}, true, 2, 3),
      geo(1, 3, 8, 8, 2, 3, 2, 2, {1, 1, 1, 1}, true, 2, 2),
  };
  for (const Pool2dGeometry& g : dilated) {
    compare_max_pool<float>(g);
    if (HasFatalFailure()) return;
  }
  compare_max_pool<double>(awkward_geometries()[0]);
  compare_max_pool<double>(dilated[1]);
}

TEST(PoolingKernel, AvgPoolMatchesReference) {
  for (const Pool2dGeometry& g : awkward_geometries())
    for (bool include_pad : {true, false}) {
      compare_avg_pool<float>(g, include_pad);
      if (HasFatalFailure()) return;
    }
  compare_avg_pool<double>(awkward_geometries()[11], true);
  compare_avg_pool<double>(awkward_geometries()[11], false);
}

TEST(PoolingKernel, AdaptiveAvgPoolMatchesReference) {
  compare_adaptive<float>(2, 3, 7, 7, 3, 3);   // overlapping windows [0,3) [2,5) [4,7)
  compare_adaptive<float>(1, 5, 5, 5, 5, 5);   // identity
  compare_adaptive<float>(1, 3, 1, 1, 3, 2);   // upsampling a 1x1 plane
  compare_adaptive<float>(2, 3, 7, 7, 1, 1);   // ResNet's global pool
  compare_adaptive<float>(1, 5, 13, 11, 4, 6);
  compare_adaptive<float>(1, 3, 4, 9, 6, 2);   // more outputs than rows
  compare_adaptive<double>(2, 3, 10, 6, 3, 4);
}

TEST(PoolingKernel, ResNet18StemPoolAndVggPool) {
  const Pool2dGeometry stem = geo(1, 64, 112, 112, 3, 3, 2, 2, {1, 1, 1, 1});
  EXPECT_EQ(stem.out_h(), 56);
  EXPECT_EQ(stem.out_w(), 56);
  compare_max_pool<float>(stem);
  const Pool2dGeometry vgg = geo(1, 512, 14, 14, 2, 2, 2, 2);
  EXPECT_EQ(vgg.out_h(), 7);
  compare_max_pool<float>(vgg);
}

// Rows wide enough for the vector paths (kernels/cpu/pooling_rows.h: 16 outputs at a time
// with AVX-512, 8 with AVX2; each ISA this CPU runs, and the portable loop) at each way they
// load: stride 1, stride 2 (the permute), stride 3 and a dilated window (the gather); on
// values from a handful of levels, so most windows hold ties, with NaNs among them: the same
// first maximum, the same last NaN and the same indices as the reference.
TEST(PoolingKernel, WideRowsWithTiesAndNansMatchTheReference) {
  const std::vector<Pool2dGeometry> wide = {
      geo(1, 3, 9, 70, 3, 3, 1, 1, {1, 1, 1, 1}),
      geo(2, 2, 11, 101, 3, 3, 2, 2, {1, 1, 1, 1}),
      geo(1, 2, 7, 120, 2, 4, 1, 3, {0, 2, 1, 1}),
      geo(1, 2, 9, 90, 3, 3, 2, 1, {1, 2, 1, 2}, false, 1, 2),
  };
  for (const Pool2dGeometry& g : wide) {
    const int64_t n = g.n * g.c * g.h * g.w;
    std::vector<float> x(static_cast<size_t>(n));
    std::mt19937 rng(5);
    for (auto& v : x) {
      const unsigned r = rng() % 23;
      v = r == 0 ? std::numeric_limits<float>::quiet_NaN() : float(int(r % 4) - 1);  // -1, 0, 1, 2 and NaN
    }
    for (k::CpuIsa isa : {k::CpuIsa::Portable, k::CpuIsa::Avx2, k::CpuIsa::Avx512}) {
      if (!k::cpu_isa_supported(isa)) {
        std::cout << "skipping " << k::cpu_isa_name(isa) << ": this CPU lacks it\n";
        continue;
      }
      compare_max_pool<float>(g, {}, isa);
      compare_max_pool<float>(g, x, isa);
      if (HasFatalFailure()) return;
    }
  }
}

// ---- the ops, hand-computed values ----

TEST(PoolingOp, MaxPool2x2OnA4x4Image) {
  Tensor x = from_vector<float>({1, 5, 2, 0,
                                 3, 4, 8, 7,
                                 9, 6, 1, 2,
                                 0, 2, 3, 11}, {1, 1, 4, 4});
  MaxPoolResult r = max_pool2d_with_indices(x, {.kernel = {2, 2}});
  EXPECT_EQ(r.values.shape(), (Shape{1, 1, 2, 2}));
  test::expect_close(r.values, {5, 8, 9, 11});
  EXPECT_EQ(r.indices.dtype(), DType::Int64);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 6, 8, 15}));
  test::expect_close(max_pool2d(x, {.kernel = {2, 2}}), {5, 8, 9, 11});
}

TEST(PoolingOp, MaxPoolBackwardRoutesToTheMaximum) {
  Tensor x = from_vector<double>({1, 5, 2, 0,
                                  3, 4, 8, 7,
                                  9, 6, 1, 2,
                                  0, 2, 3, 11}, {1, 1, 4, 4});
  x.set_requires_grad(true);
  Tensor y = max_pool2d(x, {.kernel = {2, 2}});
  y.backward(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
  test::expect_close(x.grad(), {0, 1, 0, 0,
                                0, 0, 2, 0,
                                3, 0, 0, 0,
                                0, 0, 0, 4});
  // Overlapping windows (k2 s1) that all pick the centre accumulate into it.
  Tensor z = from_vector<double>({1, 2, 3,
                                  4, 9, 5,
                                  6, 7, 8}, {1, 1, 3, 3});
  z.set_requires_grad(true);
  MaxPoolResult r = max_pool2d_with_indices(z, {.kernel = {2, 2}, .stride = {1, 1}});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{4, 4, 4, 4}));
  r.values.backward(from_vector<double>({1, 2, 3, 4}, {1, 1, 2, 2}));
  test::expect_close(z.grad(), {0, 0, 0, 0, 10, 0, 0, 0, 0});
}

TEST(PoolingOp, MaxPoolPaddingNeverWinsTiesKeepTheFirstNanPropagates) {
  // All values negative: a zero from the padding must not win. Pads left 1, right 1.
  Tensor x = from_vector<float>({-1, -2, -3, -4}, {1, 1, 1, 4});
  MaxPoolResult r = max_pool2d_with_indices(x, {.kernel = {1, 2}, .padding = {0, 1, 0, 1}});
  test::expect_close(r.values, {-1, -2, -4});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 3}));
  Tensor ties = from_vector<float>({3, 3, 3, 3}, {1, 1, 2, 2});
  EXPECT_EQ(max_pool2d_with_indices(ties, {.kernel = {2, 2}}).indices.to_vector<int64_t>(), (std::vector<int64_t>{0}));
  // NaN propagates (as PyTorch), and its index is the NaN's.
  Tensor nan = from_vector<float>({1, std::numeric_limits<float>::quiet_NaN(), 3, 2}, {1, 1, 2, 2});
  MaxPoolResult rn = max_pool2d_with_indices(nan, {.kernel = {2, 2}});
  EXPECT_TRUE(std::isnan(rn.values.item<float>()));
  EXPECT_EQ(rn.indices.item<int64_t>(), 1);
}

TEST(PoolingOp, AvgPool3x3Pad1BothDivisorModes) {
  Tensor x = from_vector<float>({1, 2, 3,
                                 4, 5, 6,
                                 7, 8, 9}, {1, 1, 3, 3});
  Pool2dOptions o{.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1, 1, 1}};
  // Window sums: corners 12, 16, 24, 28; edges 21, 27, 33, 39; centre 45.
  test::expect_close(avg_pool2d(x, o), {12.0 / 9, 21.0 / 9, 16.0 / 9,
                                        27.0 / 9, 45.0 / 9, 33.0 / 9,
                                        24.0 / 9, 39.0 / 9, 28.0 / 9});
  o.count_include_pad = false;
  test::expect_close(avg_pool2d(x, o), {12.0 / 4, 21.0 / 6, 16.0 / 4,
                                        27.0 / 6, 45.0 / 9, 33.0 / 6,
                                        24.0 / 4, 39.0 / 6, 28.0 / 4});
}

TEST(PoolingOp, AvgPoolCeilModeDivisors) {
  // 3x3, k2 s2, ceil: the overhanging windows divide by their clipped size in either mode.
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 1, 3, 3});
  Tensor y = avg_pool2d(x, {.kernel = {2, 2}, .ceil_mode = true});
  EXPECT_EQ(y.shape(), (Shape{1, 1, 2, 2}));
  test::expect_close(y, {3, 4.5, 7.5, 9});
  // One row; pads left 1, right 0; k2 s2 ceil: windows [-1,0], [1,2], [3,4]. With
  // count_include_pad the left pad counts, the overhang past the (absent) right pad not.
  Tensor r = from_vector<float>({1, 2, 3, 4}, {1, 1, 1, 4});
  Pool2dOptions o{.kernel = {1, 2}, .padding = {0, 1, 0, 0}, .ceil_mode = true};
  test::expect_close(avg_pool2d(r, o), {0.5, 2.5, 4});
  o.count_include_pad = false;
  test::expect_close(avg_pool2d(r, o), {1, 2.5, 4});
  // With a right pad of 1 the last window's pad column counts too.
  o = {.kernel = {1, 2}, .padding = {0, 1, 0, 1}, .ceil_mode = true};
  test::expect_close(avg_pool2d(r, o), {0.5, 2.5, 2});
}

TEST(PoolingOp, AdaptiveAndGlobalAverage) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5}, {1, 1, 1, 5});
  // Windows [0,2), [1,4), [3,5).
  test::expect_close(adaptive_avg_pool2d(x, {1, 3}), {1.5, 3, 4.5});
  Tensor g = from_vector<float>({1, 2, 3, 4, 10, 20, 30, 40}, {1, 2, 2, 2});
  Tensor y = global_avg_pool2d(g);
  EXPECT_EQ(y.shape(), (Shape{1, 2, 1, 1}));
  test::expect_close(y, {2.5, 25});
}

TEST(PoolingOp, StridedInputMatchesContiguous) {
  Tensor base = test::random_leaf({2, 3, 5, 6}, 9).detach();
  Tensor t = base.transpose(2, 3);  // [2,3,6,5], not contiguous
  ASSERT_FALSE(t.is_contiguous());
  Tensor c = t.contiguous();
  Pool2dOptions o{.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 0, 0, 1}, .ceil_mode = true};
  test::expect_close(max_pool2d(t, o), max_pool2d(c, o));
  test::expect_close(avg_pool2d(t, o), avg_pool2d(c, o));
  test::expect_close(adaptive_avg_pool2d(t, {4, 3}), adaptive_avg_pool2d(c, {4, 3}));
}

TEST(PoolingOp, MaxPoolDoesNotSaveItsInput) {
  // If max_pool2d saved y, changing y in place would make backward throw.
  Tensor x = test::random_leaf({1, 2, 4, 4}, 3);
  Tensor y = x * 2.0;
  Tensor z = max_pool2d(y, {.kernel = {2, 2}});
  {
    NoGradGuard no_grad;
    y.add_(1.0);
  }
  z.sum().backward();
  std::vector<double> g = x.grad().to_vector<double>();
  EXPECT_DOUBLE_EQ(std::accumulate(g.begin(), g.end(), 0.0), 2.0 * 8);  // 8 maxima, d(2x)/dx = 2
}

// ---- float64 gradient checks (distinct values for max pool: no ties) ----

Tensor distinct_leaf(const Shape& shape, uint64_t seed) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), 0.0);
  std::shuffle(v.begin(), v.end(), std::mt19937_64(seed));
  for (double& e : v) e = e / double(n) - 0.5;  // spacing 1/n, far above the finite-difference step
  return from_vector<double>(v, shape).set_requires_grad(true);
}

TEST(PoolingOp, GradcheckMaxPool) {
  Tensor x = distinct_leaf({2, 3, 5, 6}, 1);
  for (const Pool2dOptions& o : {Pool2dOptions{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}, .ceil_mode = true},
                                 Pool2dOptions{.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0, 0, 1}, .dilation = {2, 1}},
                                 Pool2dOptions{.kernel = {2, 2}}})
    test::expect_gradcheck([&](const std::vector<Tensor>& in) { return max_pool2d(in[0], o); }, {x});
}

TEST(PoolingOp, GradcheckAvgPool) {
  Tensor x = test::random_leaf({2, 3, 5, 6}, 2);
  for (bool include_pad : {true, false}) {
    for (Pool2dOptions o : {Pool2dOptions{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}, .ceil_mode = true},
                            Pool2dOptions{.kernel = {2, 3}, .stride = {1, 2}, .padding = {1, 0, 0, 1}}}) {
      o.count_include_pad = include_pad;
      test::expect_gradcheck([&](const std::vector<Tensor>& in) { return avg_pool2d(in[0], o); }, {x});
    }
  }
}

TEST(PoolingOp, GradcheckAdaptiveAndGlobal) {
  Tensor x = test::random_leaf({2, 3, 7, 5}, 3);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {3, 2}); }, {x});
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {9, 6}); }, {x});
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return global_avg_pool2d(in[0]); }, {x});
}

// ---- errors ----

using test::expect_error;

TEST(PoolingOp, ErrorsNameTheProblem) {
  expect_error([] { max_pool2d(zeros({3, 8, 8}), {.kernel = {2, 2}}); }, "max_pool2d: input must be 4-D [N,C,H,W], got [3,8,8]");
  expect_error([] { avg_pool2d(zeros({3, 8, 8}), {.kernel = {2, 2}}); }, "avg_pool2d: input must be 4-D");
  expect_error([] { global_avg_pool2d(zeros({8, 8})); }, "adaptive_avg_pool2d: input must be 4-D");
  expect_error([] { max_pool2d(zeros({1, 1, 8, 8}), {.kernel = {2, 2}, .stride = {-1, 2}}); },
               "max_pool2d: stride must be positive, got -1x2");
  expect_error([] { max_pool2d(zeros({1, 1, 8, 8}), {.kernel = {0, 2}}); }, "kernel size must be positive");
  expect_error([] { max_pool2d(zeros({1, 1, 8, 8}), {.kernel = {3, 3}, .padding = {3, 1, 1, 1}}); },
               "max_pool2d: padding must be below the kernel size, got pads top=3");
  expect_error([] { avg_pool2d(zeros({1, 1, 8, 8}), {.kernel = {2, 2}, .padding = {0, 0, 0, 2}}); },
               "avg_pool2d: padding must be below the kernel size");
  expect_error([] { max_pool2d(zeros({1, 1, 8, 8}), {.kernel = {3, 3}, .padding = {2, 1, 1, 1}, .dilation = {2, 2}}); },
               "max_pool2d: padding must be at most half the kernel size (dilated)");
  expect_error([] { max_pool2d(zeros({1, 1, 2, 2}), {.kernel = {3, 3}}); }, "too small");
  expect_error([] { avg_pool2d(zeros({1, 1, 8, 8}), {.kernel = {2, 2}, .dilation = {2, 2}}); },
               "avg_pool2d: dilation is not supported");
  expect_error([] { max_pool2d(zeros({1, 1, 2, 2}), {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 0, 1, 0}, .dilation = {3, 1}}); },
               "covers only padding");
  expect_error([] { max_pool2d(zeros({1, 1, 4, 4}, {.dtype = DType::Int64}), {.kernel = {2, 2}}); },
               "max_pool2d: input must be float32 or float64, got int64");
  expect_error([] { adaptive_avg_pool2d(zeros({1, 1, 4, 4}), {0, 2}); }, "output size must be positive, got 0x2");
}

TEST(PoolingKernel, ErrorsNameTheProblem) {
  std::vector<float> x(64), y(64);
  std::vector<int64_t> idx(64);
  Pool2dGeometry g = geo(1, 1, 8, 8, 2, 2, 0, 2);  // zero stride
  // The op validates the geometry once, with the kernels' validate_pool2d; the kernels
  // assume it valid.
  expect_error([&] { kernels::validate_pool2d(g, "max_pool2d"); }, "max_pool2d: stride must be positive, got 0x2");
  g = geo(1, 1, 8, 8, 2, 2, 2, 2, {0, 0, 2, 0});
  expect_error([&] { kernels::validate_pool2d(g, "avg_pool2d"); }, "avg_pool2d: padding must be below the kernel size");
  g = geo(1, 1, 8, 8, 2, 2, 2, 2);
  expect_error([&] { k::max_pool2d_forward({.g = g, .dtype = DType::Int64, .input = x.data(), .output = y.data(),
                                            .indices = idx.data()}, kernels::ContextExec()); },
               "max_pool2d: dtype int64 is not supported");
}

}  // namespace
}  // namespace hone
