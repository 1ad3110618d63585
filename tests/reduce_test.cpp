// The reduction kernels (sum, max over a dim, and max's backward index_add_dim) against their
// naive references on strided views of random data, and the references by hand; after them
// the ops' shape rules, gradients and errors.
#include <algorithm>
#include <sstream>

#include "kernels/context_exec.h"
#include "kernels/cpu/reduce.h"
#include "test_util.h"

namespace hone {
namespace {

namespace k = kernels::cpu;

// A strided view of a buffer of `buffer` elements, and which of its dims are reduced.
struct View {
  int64_t buffer;
  std::vector<int64_t> sizes, strides;
  std::vector<bool> reduced;
};

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Odd sizes, size-1 dims, transposed and gapped (stride-2) views, an empty reduced dim,
// nothing reduced and everything reduced.
const std::vector<View> kViews = {
    {1, {}, {}, {}},
    {7, {7}, {1}, {true}},
    {12, {3, 1, 4}, {4, 4, 1}, {false, true, false}},
    {12, {3, 1, 4}, {4, 4, 1}, {true, false, true}},
    {12, {3, 1, 4}, {4, 4, 1}, {false, false, false}},
    {30, {6, 5}, {1, 6}, {true, false}},                      // transposed
    {30, {2, 5, 3}, {3, 6, 1}, {true, false, true}},          // dims permuted (1, 0, 2)
    {36, {4, 5}, {9, 2}, {false, true}},                      // every other column
    {36, {4, 5}, {9, 2}, {true, false}},
    {2145, {33, 65}, {1, 33}, {true, false}},                 // transposed, odd sizes
    {2145, {33, 65}, {1, 33}, {false, true}},
    {1, {1, 1, 1}, {1, 1, 1}, {true, false, true}},
    {0, {2, 0}, {0, 1}, {false, true}},                       // reduces an empty dim: zeros
};

std::string describe(const View& v) {
  std::ostringstream os;
  os << "sizes " << shape_str(v.sizes) << " strides " << shape_str(v.strides) << " reduced";
  for (size_t d = 0; d < v.reduced.size(); ++d)
    if (v.reduced[d]) os << " " << d;
  return os.str();
}

// The kernel's arguments for a reduction of `v` into a contiguous output over the kept dims.
kernels::ReduceArgs reduce_args(const View& v, DType t, void* out, const void* in, double scale) {
  kernels::ReduceArgs a{.dtype = t, .out = out, .in = in, .scale = scale};
  std::vector<int64_t> kept;
  for (size_t d = 0; d < v.sizes.size(); ++d)
    if (!v.reduced[d]) kept.push_back(v.sizes[d]);
  const std::vector<int64_t> out_strides = contiguous_strides(kept);
  for (size_t d = 0, o = 0; d < v.sizes.size(); ++d) {
    if (v.reduced[d]) {
      a.inner_sizes.push_back(v.sizes[d]);
      a.inner_in_strides.push_back(v.strides[d]);
    } else {
      a.outer_sizes.push_back(v.sizes[d]);
      a.outer_in_strides.push_back(v.strides[d]);
      a.outer_out_strides.push_back(out_strides[o++]);
    }
  }
  return a;
}

// Tolerances: float sums accumulate in double in the same row-major order on both sides, so
// they agree to the final rounding (rtol 1e-6 float32, 1e-12 float64); integers exactly.
template <typename T>
void compare_sum(double scale) {
  uint64_t seed = 10;
  for (const View& v : kViews) {
    SCOPED_TRACE(describe(v) + " scale " + std::to_string(scale) + " " + dtype_name(dtype_of<T>()));
    const std::vector<T> in = test::random_vector<T>(v.buffer, seed++, -100, 100);
    int64_t out_n = 1;
    for (size_t d = 0; d < v.sizes.size(); ++d) out_n *= v.reduced[d] ? 1 : v.sizes[d];
    std::vector<T> out = test::unwritten<T>(out_n), out_ref = test::unwritten<T>(out_n);
    k::sum(reduce_args(v, dtype_of<T>(), out.data(), in.data(), scale), kernels::ContextExec());
    k::sum_reference(reduce_args(v, dtype_of<T>(), out_ref.data(), in.data(), scale));
    const double tol = std::is_integral_v<T> ? 0 : sizeof(T) == 8 ? 1e-12 : 1e-6;
    test::expect_all_close(out, out_ref, tol, tol, "sum");
  }
}

TEST(ReduceKernel, SumMatchesReference) {
  for (double scale : {1.0, 0.25}) {
    compare_sum<float>(scale);
    compare_sum<double>(scale);
    compare_sum<int64_t>(scale);
    compare_sum<int32_t>(scale);
  }
}

// Max over each dim of each view with at least one dim: values and first-maximum indices
// exactly. Integers come from a small range so ties are common; floats get NaNs.
template <typename T>
void compare_max_dim() {
  uint64_t seed = 20;
  for (const View& v : kViews)
    for (size_t dim = 0; dim < v.sizes.size(); ++dim) {
      if (v.sizes[dim] == 0) continue;
      SCOPED_TRACE(describe(v) + " max over dim " + std::to_string(dim) + " " + dtype_name(dtype_of<T>()));
      std::vector<T> in = test::random_vector<T>(v.buffer, seed++, 0, 3);
      if constexpr (std::is_floating_point_v<T>)
        for (size_t i = 5; i < in.size(); i += 11) in[i] = std::numeric_limits<T>::quiet_NaN();
      View outer = v;
      outer.reduced.assign(v.sizes.size(), false);
      outer.reduced[dim] = true;
      const kernels::ReduceArgs r = reduce_args(outer, dtype_of<T>(), nullptr, in.data(), 1);
      const int64_t out_n = product(r.outer_sizes);
      std::vector<T> values[2] = {test::unwritten<T>(out_n), test::unwritten<T>(out_n)};
      std::vector<int64_t> indices[2] = {test::unwritten<int64_t>(out_n), test::unwritten<int64_t>(out_n)};
      for (int which = 0; which < 2; ++which) {
        const kernels::MaxDimArgs a{.dtype = dtype_of<T>(), .outer_sizes = r.outer_sizes, .outer_in_strides = r.outer_in_strides,
                              .outer_out_strides = r.outer_out_strides, .dim_size = v.sizes[dim],
                              .dim_stride = v.strides[dim], .values = values[which].data(),
                              .indices = indices[which].data(), .in = in.data()};
        which == 0 ? k::max_dim(a, kernels::ContextExec()) : k::max_dim_reference(a);
      }
      test::expect_all_close(values[0], values[1], 0, 0, "values");
      EXPECT_EQ(indices[0], indices[1]);
    }
}

TEST(ReduceKernel, MaxDimMatchesReference) {
  compare_max_dim<float>();
  compare_max_dim<double>();
  compare_max_dim<int64_t>();
  compare_max_dim<int32_t>();
  compare_max_dim<uint8_t>();
}

// Max backward: each outer position adds to one element of its own slice, so results agree
// exactly. dst starts from random values (the kernel accumulates), src may be transposed.
template <typename T>
void compare_index_add_dim() {
  struct Case {
    std::vector<int64_t> dst_sizes;
    size_t dim;
    bool transposed_src;
  };
  const std::vector<Case> cases = {{{7}, 0, false},         {{3, 1, 4}, 1, false}, {{3, 1, 4}, 2, true},
                                   {{33, 65}, 0, true},     {{33, 65}, 1, false},  {{2, 5, 3}, 0, true},
                                   {{1, 1, 1}, 2, false}};
  uint64_t seed = 30;
  for (const Case& c : cases) {
    SCOPED_TRACE("dst " + shape_str(c.dst_sizes) + " dim " + std::to_string(c.dim) +
                 (c.transposed_src ? " transposed src " : " ") + dtype_name(dtype_of<T>()));
    const std::vector<int64_t> dst_strides = contiguous_strides(c.dst_sizes);
    kernels::IndexAddDimArgs a{.dtype = dtype_of<T>(), .dim_size = c.dst_sizes[c.dim], .dim_stride = dst_strides[c.dim]};
    for (size_t d = 0; d < c.dst_sizes.size(); ++d)
      if (d != c.dim) {
        a.outer_sizes.push_back(c.dst_sizes[d]);
        a.outer_dst_strides.push_back(dst_strides[d]);
      }
    // src and indices: contiguous over the outer dims, or with their strides reversed.
    std::vector<int64_t> rev = a.outer_sizes;
    std::reverse(rev.begin(), rev.end());
    a.outer_src_strides = contiguous_strides(c.transposed_src ? rev : a.outer_sizes);
    if (c.transposed_src) std::reverse(a.outer_src_strides.begin(), a.outer_src_strides.end());
    const int64_t n_src = product(a.outer_sizes);
    const std::vector<T> src = test::random_vector<T>(n_src, seed++);
    const std::vector<int64_t> indices = test::random_vector<int64_t>(n_src, seed++, 0, double(a.dim_size - 1));
    std::vector<T> dst[2] = {test::random_vector<T>(product(c.dst_sizes), seed), test::random_vector<T>(product(c.dst_sizes), seed)};
    ++seed;
    a.src = src.data();
    a.indices = indices.data();
    a.dst = dst[0].data();
    k::index_add_dim(a, kernels::ContextExec());
    a.dst = dst[1].data();
    k::index_add_dim_reference(a);
    test::expect_all_close(dst[0], dst[1], 0, 0, "dst");
  }
}

TEST(ReduceKernel, IndexAddDimMatchesReference) {
  compare_index_add_dim<float>();
  compare_index_add_dim<double>();
}

// ---- the references by hand ----

TEST(ReduceReference, SumHandComputed) {
  // x = [[1, 2, 3], [4, 5, 6]]; over dim 1: (6, 15); over dim 0 of the transposed view
  // (sizes [3, 2], strides [1, 3]) reduces x's rows: (6, 15) again, scaled by 0.5.
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};
  std::vector<double> out(2);
  k::sum_reference(reduce_args({6, {2, 3}, {3, 1}, {false, true}}, DType::Float64, out.data(), x.data(), 1));
  EXPECT_EQ(out, (std::vector<double>{6, 15}));
  k::sum_reference(reduce_args({6, {3, 2}, {1, 3}, {true, false}}, DType::Float64, out.data(), x.data(), 0.5));
  EXPECT_EQ(out, (std::vector<double>{3, 7.5}));
  std::vector<double> all(1);
  k::sum_reference(reduce_args({6, {2, 3}, {3, 1}, {true, true}}, DType::Float64, all.data(), x.data(), 1));
  EXPECT_EQ(all[0], 21);
  // Every other element of 0..8: 0 + 2 + 4 + 6 + 8.
  const std::vector<int32_t> ints = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int32_t> s(1);
  k::sum_reference(reduce_args({9, {5}, {2}, {true}}, DType::Int32, s.data(), ints.data(), 1));
  EXPECT_EQ(s[0], 20);
  // Integers accumulate in int64: 2e9 + 2e9 does not wrap before the result is stored.
  const std::vector<int64_t> big = {2000000000, 2000000000};
  std::vector<int64_t> b(1);
  k::sum_reference(reduce_args({2, {2}, {1}, {true}}, DType::Int64, b.data(), big.data(), 1));
  EXPECT_EQ(b[0], 4000000000LL);
  // Nothing to sum: 0.
  std::vector<float> empty_out = test::unwritten<float>(2);
  k::sum_reference(reduce_args({0, {2, 0}, {0, 1}, {false, true}}, DType::Float32, empty_out.data(), nullptr, 1));
  EXPECT_EQ(empty_out, (std::vector<float>{0, 0}));
}

TEST(ReduceReference, MaxDimHandComputed) {
  // Rows (1, 5, 3) and (7, 2, 7): maxima 5 at 1 and 7 at 0 (the first of a tie).
  const double nan = std::nan("");
  const std::vector<double> x = {1, 5, 3, 7, 2, 7};
  std::vector<double> v(2);
  std::vector<int64_t> idx(2);
  kernels::MaxDimArgs a{.dtype = DType::Float64, .outer_sizes = {2}, .outer_in_strides = {3}, .outer_out_strides = {1},
                  .dim_size = 3, .dim_stride = 1, .values = v.data(), .indices = idx.data(), .in = x.data()};
  k::max_dim_reference(a);
  EXPECT_EQ(v, (std::vector<double>{5, 7}));
  EXPECT_EQ(idx, (std::vector<int64_t>{1, 0}));
  // Columns (the transposed view): (1, 7), (5, 2), (3, 7) -> 7 at 1, 5 at 0, 7 at 1.
  std::vector<double> vc(3);
  std::vector<int64_t> ic(3);
  k::max_dim_reference({.dtype = DType::Float64, .outer_sizes = {3}, .outer_in_strides = {1}, .outer_out_strides = {1},
                        .dim_size = 2, .dim_stride = 3, .values = vc.data(), .indices = ic.data(), .in = x.data()});
  EXPECT_EQ(vc, (std::vector<double>{7, 5, 7}));
  EXPECT_EQ(ic, (std::vector<int64_t>{1, 0, 1}));
  // NaN is the maximum, the first one wins: (1, NaN, 9, NaN) -> NaN at 1; (NaN, 2) -> NaN at 0.
  const std::vector<double> with_nan = {1, nan, 9, nan, nan, 2};
  k::max_dim_reference({.dtype = DType::Float64, .outer_sizes = {}, .outer_in_strides = {}, .outer_out_strides = {},
                        .dim_size = 4, .dim_stride = 1, .values = v.data(), .indices = idx.data(), .in = with_nan.data()});
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(idx[0], 1);
  k::max_dim_reference({.dtype = DType::Float64, .outer_sizes = {}, .outer_in_strides = {}, .outer_out_strides = {},
                        .dim_size = 2, .dim_stride = 1, .values = v.data(), .indices = idx.data(), .in = with_nan.data() + 4});
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(idx[0], 0);
  test::expect_error([&] {
    k::max_dim_reference({.dtype = DType::Float64, .dim_size = 0, .dim_stride = 1, .values = v.data(), .indices = idx.data(),
                          .in = x.data()});
  }, "size 0");
}

TEST(ReduceReference, IndexAddDimHandComputed) {
  // dst [2, 3] starts at 1; row 0 gets 10 at column 2, row 1 gets 100 at column 0.
  std::vector<float> dst(6, 1.0f);
  const std::vector<float> src = {10, 100};
  const std::vector<int64_t> indices = {2, 0};
  kernels::IndexAddDimArgs a{.dtype = DType::Float32, .outer_sizes = {2}, .outer_src_strides = {1}, .outer_dst_strides = {3},
                       .dim_size = 3, .dim_stride = 1, .dst = dst.data(), .src = src.data(), .indices = indices.data()};
  k::index_add_dim_reference(a);
  EXPECT_EQ(dst, (std::vector<float>{1, 1, 11, 101, 1, 1}));
  const std::vector<int64_t> bad = {3, 0};
  a.indices = bad.data();
  test::expect_error([&] { k::index_add_dim_reference(a); }, "index 3 out of range [0,3)");
}

}  // namespace
}  // namespace hone

// ---- the ops sum, mean and max (autograd/ops.h): shape rules, gradients by hand and
// against finite differences, integer dtypes and error messages ----
#include "ops_test_util.h"

namespace hone {
namespace {

using namespace ops_test;

// ============================== reductions ==============================

TEST(OpsReduce, SumOverDims) {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor all = x.sum();
  EXPECT_EQ(all.shape(), Shape{});
  test::expect_close(all, {21});
  Tensor s0 = sum(x, {0});
  EXPECT_EQ(s0.shape(), (Shape{3}));
  test::expect_close(s0, {5, 7, 9});
  Tensor s1 = x.sum({1});
  EXPECT_EQ(s1.shape(), (Shape{2}));
  test::expect_close(s1, {6, 15});
  Tensor sk = x.sum({-1}, true);
  EXPECT_EQ(sk.shape(), (Shape{2, 1}));
  test::expect_close(sk, {6, 15});
  Tensor both = x.sum({0, 1});
  EXPECT_EQ(both.shape(), Shape{});
  test::expect_close(both, {21});
  Tensor both_k = x.sum({1, 0}, true);
  EXPECT_EQ(both_k.shape(), (Shape{1, 1}));
  test::expect_close(both_k, {21});
  Tensor all_k = sum(x, {}, true);
  EXPECT_EQ(all_k.shape(), (Shape{1, 1}));
  test::expect_close(all_k, {21});
}

TEST(OpsReduce, SumOverSeveralDimsOf3D) {
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[size_t(i)] = i;
  Tensor y = f64(v, {2, 3, 4});  // y[i,j,k] = 12 i + 4 j + k
  Tensor r = y.sum({0, 2});
  EXPECT_EQ(r.shape(), (Shape{3}));
  test::expect_close(r, {60, 92, 124});
  Tensor rk = y.sum({-1, -3}, true);
  EXPECT_EQ(rk.shape(), (Shape{1, 3, 1}));
  test::expect_close(rk, {60, 92, 124});
  // Over a non-contiguous view: y.transpose(0, 2) is [4,3,2]; summing its dim 0 sums k.
  Tensor rt = y.transpose(0, 2).sum({0});
  EXPECT_EQ(rt.shape(), (Shape{3, 2}));
  // rt[j,i] = sum_k (12 i + 4 j + k) = 48 i + 16 j + 6
  test::expect_close(rt, {6, 54, 22, 70, 38, 86});
}

TEST(OpsReduce, MeanOverDims) {
  Tensor x = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  test::expect_close(x.mean(), {3.5});
  EXPECT_EQ(x.mean().shape(), Shape{});
  Tensor m1 = mean(x, {1});
  EXPECT_EQ(m1.shape(), (Shape{2}));
  test::expect_close(m1, {2, 5});
  Tensor m0 = x.mean({0}, true);
  EXPECT_EQ(m0.shape(), (Shape{1, 3}));
  test::expect_close(m0, {2.5, 3.5, 4.5});
  std::vector<double> v(24);
  for (int i = 0; i < 24; ++i) v[size_t(i)] = i;
  Tensor y = f64(v, {2, 3, 4});
  Tensor my = y.mean({0, -1});
  EXPECT_EQ(my.shape(), (Shape{3}));
  test::expect_close(my, {7.5, 11.5, 15.5});
  Tensor mf = f32({1, 2, 3, 4}, {4}).mean();
  EXPECT_EQ(mf.dtype(), DType::Float32);
  test::expect_close(mf, {2.5});
}

TEST(OpsReduce, ZeroDimInputReducesToItself) {
  Tensor s = scalar_tensor(4.0, {.dtype = DType::Float64});
  EXPECT_EQ(s.sum().shape(), Shape{});
  test::expect_close(s.sum({0}), {4});
  test::expect_close(s.sum({-1}, true), {4});
  EXPECT_EQ(s.sum({0}, true).shape(), Shape{});
  test::expect_close(s.mean(), {4});
}

TEST(OpsReduce, IntegerSumsAreInt64AndMeanOfIntThrows) {
  Tensor i = from_vector<int64_t>({1, 2, 3, 4}, {2, 2});
  Tensor s = i.sum();
  EXPECT_EQ(s.dtype(), DType::Int64);
  EXPECT_EQ(s.item<int64_t>(), 10);
  Tensor s0 = i.sum({0});
  EXPECT_EQ(s0.dtype(), DType::Int64);
  EXPECT_EQ(s0.to_vector<int64_t>(), (std::vector<int64_t>{4, 6}));
  // Exact beyond float precision.
  Tensor big = from_vector<int64_t>({(int64_t(1) << 60), 1});
  EXPECT_EQ(big.sum().item<int64_t>(), (int64_t(1) << 60) + 1);
  Tensor i32 = from_vector<int32_t>({2000000000, 2000000000});
  EXPECT_EQ(i32.sum().dtype(), DType::Int64);
  EXPECT_EQ(i32.sum().item<int64_t>(), 4000000000LL);
  std::string msg = error_message([&] { i.mean(); });
  EXPECT_CONTAINS(msg, "mean");
  EXPECT_CONTAINS(msg, "int64");
  EXPECT_THROW(mean(i, {0}), Error);
}

// BUG: kernels/cpu/reduce.cpp sum() divides 4096 by the number of reduced elements when
// choosing a grain, so reducing an empty dim into a non-empty output (zeros({2,0}).sum({1}),
// zeros({0}).sum(), zeros({0}).mean()) dies with SIGFPE. Expected: zeros, and NaN for mean.
TEST(OpsReduce, SumAndMeanOverEmptyDim) {
  Tensor x = zeros({2, 0}, {.dtype = DType::Float64});
  Tensor s = x.sum({1});
  EXPECT_EQ(s.shape(), (Shape{2}));
  test::expect_close(s, {0, 0});
  test::expect_close(zeros({0}).sum(), {0.0});
  EXPECT_TRUE(std::isnan(zeros({0}).mean().item<double>()));
}

struct ReduceCase {
  Shape shape;
  std::vector<int64_t> dims;
  bool keepdim;
  Shape out;
};

const std::vector<ReduceCase> kReduceCases = {
    {{3, 1, 4}, {0}, false, {1, 4}},     {{3, 1, 4}, {1}, false, {3, 4}},       {{3, 1, 4}, {-1}, true, {3, 1, 1}},
    {{3, 1, 4}, {0, 2}, false, {1}},     {{3, 1, 4}, {0, -1}, true, {1, 1, 1}}, {{3, 1, 4}, {}, false, {}},
    {{3, 1, 4}, {}, true, {1, 1, 1}},    {{2, 3}, {-2}, false, {3}},            {{2, 3}, {0, 1}, false, {}},
    {{}, {}, false, {}},                 {{}, {0}, true, {}},                   {{5}, {0}, false, {}},
    {{2, 3, 2}, {1}, true, {2, 1, 2}}};

TEST(OpsReduce, GradcheckSum) {
  uint64_t seed = 3000;
  for (const ReduceCase& c : kReduceCases) {
    SCOPED_TRACE("sum " + shape_str(c.shape) + " dims " + shape_str(c.dims) + (c.keepdim ? " keepdim" : ""));
    Tensor x = test::random_leaf(c.shape, seed++);
    Tensor y = sum(x, c.dims, c.keepdim);
    EXPECT_EQ(y.shape(), c.out);
    test::expect_gradcheck([&](const std::vector<Tensor>& in) { return sum(in[0], c.dims, c.keepdim); }, {x});
  }
}

TEST(OpsReduce, GradcheckMean) {
  uint64_t seed = 3100;
  for (const ReduceCase& c : kReduceCases) {
    SCOPED_TRACE("mean " + shape_str(c.shape) + " dims " + shape_str(c.dims) + (c.keepdim ? " keepdim" : ""));
    Tensor x = test::random_leaf(c.shape, seed++);
    Tensor y = mean(x, c.dims, c.keepdim);
    EXPECT_EQ(y.shape(), c.out);
    test::expect_gradcheck([&](const std::vector<Tensor>& in) { return mean(in[0], c.dims, c.keepdim); }, {x});
  }
}

TEST(OpsReduce, SumAndMeanGradientsByHand) {
  Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  (x.sum({1}) * f64({1, 10})).sum().backward();
  test::expect_close(x.grad(), {1, 1, 1, 10, 10, 10});
  reset_grads({x});
  (x.mean({0}, true) * f64({1, 2, 3}, {1, 3})).sum().backward();
  test::expect_close(x.grad(), {0.5, 1, 1.5, 0.5, 1, 1.5});
  reset_grads({x});
  x.mean().backward();
  test::expect_close(x.grad(), {1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6, 1.0 / 6});
}

TEST(OpsReduce, SumErrors) {
  std::string msg = error_message([] { zeros({2, 3}).sum({2}); });
  EXPECT_CONTAINS(msg, "sum");
  EXPECT_CONTAINS(msg, "dim 2");
  EXPECT_CONTAINS(msg, "2-D");
  msg = error_message([] { zeros({2, 3}).sum({-3}); });
  EXPECT_CONTAINS(msg, "dim -3");
  msg = error_message([] { zeros({2, 3}).sum({1, -1}); });
  EXPECT_CONTAINS(msg, "more than once");
  msg = error_message([] { zeros({2, 3}).mean({5}); });
  EXPECT_CONTAINS(msg, "mean");
  EXPECT_CONTAINS(msg, "dim 5");
}

// ============================== max ==============================

TEST(OpsMax, ValuesAndIndicesOverADim) {
  Tensor x = f64({1, 5, 3, 7, 2, 7}, {2, 3});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.values.shape(), (Shape{2}));
  EXPECT_EQ(r.indices.shape(), (Shape{2}));
  EXPECT_EQ(r.indices.dtype(), DType::Int64);
  EXPECT_EQ(r.values.dtype(), DType::Float64);
  test::expect_close(r.values, {5, 7});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));  // tie 7,7: first
  MaxResult c = max(x, 0);
  test::expect_close(c.values, {7, 5, 7});
  EXPECT_EQ(c.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1}));
  MaxResult k = max(x, -1, true);
  EXPECT_EQ(k.values.shape(), (Shape{2, 1}));
  EXPECT_EQ(k.indices.shape(), (Shape{2, 1}));
  test::expect_close(k.values, {5, 7});
  EXPECT_EQ(k.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  Tensor all = max(x);
  EXPECT_EQ(all.shape(), Shape{});
  test::expect_close(all, {7});
}

TEST(OpsMax, TiesPickFirstIndexEverywhere) {
  Tensor x = f64({2, 2, 2, -1, 4, 4, 4, 0}, {2, 4});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
  test::expect_close(r.values, {2, 4});
  Tensor y = f64({3, 3, 3, 3, 3, 3}, {3, 2});
  EXPECT_EQ(max(y, 0).indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
}

TEST(OpsMax, ThreeDimsNonContiguousAndIntegers) {
  // x[i,j,k] = values below, shape [2,2,3]; reduce the middle dim.
  Tensor x = f64({1, 9, 3, 4, 5, 6, -1, -2, -3, -4, 0, -6}, {2, 2, 3});
  MaxResult r = max(x, 1);
  EXPECT_EQ(r.values.shape(), (Shape{2, 3}));
  test::expect_close(r.values, {4, 9, 6, -1, 0, -3});
  EXPECT_EQ(r.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0, 1, 0, 1, 0}));
  // Over a transposed view: x.t() of [[1,2],[3,0]] is [[1,3],[2,0]].
  MaxResult t = max(f64({1, 2, 3, 0}, {2, 2}).t(), 1);
  test::expect_close(t.values, {3, 2});
  EXPECT_EQ(t.indices.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  MaxResult i = max(from_vector<int64_t>({3, -8, 10, 10}, {2, 2}), 1);
  EXPECT_EQ(i.values.dtype(), DType::Int64);
  EXPECT_EQ(i.values.to_vector<int64_t>(), (std::vector<int64_t>{3, 10}));
  EXPECT_EQ(i.indices.to_vector<int64_t>(), (std::vector<int64_t>{0, 0}));
}

TEST(OpsMax, GradientGoesToFirstMaximumOnly) {
  Tensor x = leaf({1, 5, 3, 7, 2, 7}, {2, 3});
  (max(x, 1).values * f64({10, 100})).sum().backward();
  test::expect_close(x.grad(), {0, 10, 0, 100, 0, 0});
  EXPECT_FALSE(max(x, 1).indices.requires_grad());
  reset_grads({x});
  max(x).backward();
  test::expect_close(x.grad(), {0, 0, 0, 1, 0, 0});
}

TEST(OpsMax, Gradcheck) {
  struct Case {
    Shape shape;
    int64_t dim;
  };
  const std::vector<Case> cases = {{{3, 1, 4}, 0}, {{3, 1, 4}, 1}, {{3, 1, 4}, 2},  {{3, 1, 4}, -1},
                                   {{2, 3, 5}, 1}, {{5}, 0},       {{1, 5}, -2},    {{2, 5}, 1}};
  for (const Case& c : cases) {
    for (bool keepdim : {false, true}) {
      SCOPED_TRACE("max " + shape_str(c.shape) + " dim " + std::to_string(c.dim) + (keepdim ? " keepdim" : ""));
      Tensor x = distinct_leaf(c.shape);
      test::expect_gradcheck([&](const std::vector<Tensor>& in) { return max(in[0], c.dim, keepdim).values; }, {x});
    }
  }
  SCOPED_TRACE("max over a transposed view");
  Tensor x = distinct_leaf({3, 4});
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return max(in[0].t(), 1, false).values; }, {x});
  Tensor y = distinct_leaf({2, 3, 2});
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return max(in[0]); }, {y});
}

TEST(OpsMax, Errors) {
  std::string msg = error_message([] { max(zeros({2, 0}), 1); });
  EXPECT_CONTAINS(msg, "max");
  EXPECT_CONTAINS(msg, "[2,0]");
  msg = error_message([] { max(zeros({0})); });
  EXPECT_CONTAINS(msg, "[0]");
  msg = error_message([] { max(zeros({2, 3}), 2); });
  EXPECT_CONTAINS(msg, "dim 2");
  EXPECT_THROW(max(scalar_tensor(1.0), 0), Error);
  // Reducing a non-empty dim of a tensor with another empty dim is fine: empty result.
  MaxResult r = max(zeros({2, 0}), 0);
  EXPECT_EQ(r.values.shape(), (Shape{0}));
}

}  // namespace
}  // namespace hone
