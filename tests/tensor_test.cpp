// The tensor layer: shapes and broadcasting, factories, views (and when reshape copies),
// channels-last, dtype conversion (float16/bfloat16 rounding included), element access,
// printing, in-place ops and the version counter, raw views and device moves.
#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include "test_util.h"

namespace hone {
namespace {

// Byte distance from `base`'s first element to `view`'s, in elements of `base`.
int64_t elem_offset(const Tensor& view, const Tensor& base) {
  return (static_cast<const char*>(view.data_ptr()) - static_cast<const char*>(base.data_ptr())) /
         int64_t(base.element_size());
}

using test::expect_error;

// ---------------------------------------------------------------- shapes

TEST(Shape, NumelOfOrdinaryEmptyAndScalarShapes) {
  EXPECT_EQ(numel({2, 3, 4}), 24);
  EXPECT_EQ(numel({}), 1);  // a 0-d tensor holds one element
  EXPECT_EQ(numel({2, 0, 3}), 0);
  EXPECT_EQ(numel({std::numeric_limits<int64_t>::max(), 1}), std::numeric_limits<int64_t>::max());
}

TEST(Shape, NumelRejectsNegativeDimsAndOverflow) {
  expect_error([] { numel({2, -1}); }, {"[2,-1]", "negative"});
  expect_error([] { numel({int64_t(1) << 32, int64_t(1) << 32}); }, {"[4294967296,4294967296]", "int64"});
  EXPECT_THROW(numel({std::numeric_limits<int64_t>::max(), 2}), Error);
  // Tensors refuse such shapes too, before allocating anything.
  EXPECT_THROW(empty({3, -2}), Error);
  EXPECT_THROW(zeros({int64_t(1) << 40, int64_t(1) << 40}), Error);
  expect_error([] { empty({int64_t(1) << 47}); }, {"too large"});
}

TEST(Shape, ContiguousAndChannelsLastStrides) {
  EXPECT_EQ(contiguous_strides({2, 3, 4}), (Strides{12, 4, 1}));
  EXPECT_EQ(contiguous_strides({}), Strides{});
  EXPECT_EQ(contiguous_strides({5}), Strides{1});
  EXPECT_EQ(contiguous_strides({2, 0, 3}), (Strides{3, 3, 1}));  // size-0 dims count as 1
  // N=2, C=3, H=4, W=5: [H*W*C, 1, W*C, C]
  EXPECT_EQ(channels_last_strides({2, 3, 4, 5}), (Strides{60, 1, 15, 3}));
  EXPECT_EQ(strides_for({2, 3, 4, 5}, MemoryFormat::ChannelsLast), (Strides{60, 1, 15, 3}));
  EXPECT_EQ(strides_for({2, 3, 4, 5}, MemoryFormat::Contiguous), (Strides{60, 20, 5, 1}));
  expect_error([] { channels_last_strides({2, 3, 4}); }, {"4-D", "[2,3,4]"});
  EXPECT_EQ(shape_str({2, 3}), "[2,3]");
  EXPECT_EQ(shape_str({}), "[]");
}

TEST(Shape, BroadcastShapesAlignsTrailingDims) {
  EXPECT_EQ(broadcast_shapes({2, 1, 3}, {4, 1}, "t"), (Shape{2, 4, 3}));
  EXPECT_EQ(broadcast_shapes({}, {3}, "t"), (Shape{3}));
  EXPECT_EQ(broadcast_shapes({5, 4}, {}, "t"), (Shape{5, 4}));
  EXPECT_EQ(broadcast_shapes({1}, {0}, "t"), (Shape{0}));
  EXPECT_EQ(broadcast_shapes({3, 1}, {1, 7}, "t"), (Shape{3, 7}));
}

TEST(Shape, BroadcastErrorNamesOpAndBothShapes) {
  expect_error([] { broadcast_shapes({2, 3}, {4}, "add"); },
               {"add: shapes [2,3] and [4] cannot broadcast", "3 vs 4"});
  expect_error([] { broadcast_shapes({2, 1}, {3, 5, 1}, "mul"); }, {"mul", "[2,1]", "[3,5,1]"});
}

TEST(Shape, WrapDim) {
  EXPECT_EQ(wrap_dim(-1, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(-3, 3, "t"), 0);
  EXPECT_EQ(wrap_dim(2, 3, "t"), 2);
  EXPECT_EQ(wrap_dim(0, 0, "t"), 0);  // a 0-d tensor accepts 0 and -1
  EXPECT_EQ(wrap_dim(-1, 0, "t"), 0);
  expect_error([] { wrap_dim(3, 3, "size"); }, {"size", "dim 3", "3-D"});
  EXPECT_THROW(wrap_dim(-4, 3, "t"), Error);
  EXPECT_THROW(wrap_dim(1, 0, "t"), Error);
}

// A 0-d tensor has no dims, but wrap_dim accepts 0 and -1 for it (as PyTorch does when
// reducing a scalar), and Tensor::size/stride then index the empty shape vector: a
// segfault instead of an Error. Library bug: tensor/tensor.cpp, Tensor::size() and
// Tensor::stride() (`shape()[wrap_dim(d, dim(), ...)]` with dim() == 0).
// (Crashes when run with --gtest_also_run_disabled_tests.)
TEST(Shape, SizeOfAScalarTensorThrows) {
  Tensor s = scalar_tensor(1);
  EXPECT_THROW(s.size(0), Error);
  EXPECT_THROW(s.size(-1), Error);
  EXPECT_THROW(s.stride(0), Error);
}

// ---------------------------------------------------------------- factories

TEST(Factory, EmptyHasShapeDtypeStridesAndDevice) {
  Tensor t = empty({2, 3}, {.dtype = DType::Float64});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.strides(), (Strides{3, 1}));
  EXPECT_EQ(t.dtype(), DType::Float64);
  EXPECT_EQ(t.device(), Device::cpu());
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.dim(), 2);
  EXPECT_EQ(t.element_size(), 8u);
  EXPECT_EQ(t.offset(), 0);
  EXPECT_EQ(t.storage()->nbytes(), 48u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, 0u);  // 64-byte aligned
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.size(-1), 3);
  EXPECT_EQ(t.stride(0), 3);
  EXPECT_THROW(t.size(2), Error);
  Tensor cl = empty({1, 2, 3, 4}, {.memory_format = MemoryFormat::ChannelsLast});
  EXPECT_EQ(cl.strides(), (Strides{24, 1, 8, 2}));
  EXPECT_THROW(empty({2, 3}, {.memory_format = MemoryFormat::ChannelsLast}), Error);
  Tensor e = empty({0, 4});
  EXPECT_EQ(e.numel(), 0);
  EXPECT_EQ(e.to_vector<float>().size(), 0u);
}

TEST(Factory, ZerosOnesFull) {
  EXPECT_EQ(zeros({2, 2}).to_vector<float>(), (std::vector<float>{0, 0, 0, 0}));
  EXPECT_EQ(ones({3}, {.dtype = DType::Int32}).to_vector<int32_t>(), (std::vector<int32_t>{1, 1, 1}));
  Tensor f = full({2, 3}, -2.5, {.dtype = DType::Float64});
  EXPECT_EQ(f.dtype(), DType::Float64);
  EXPECT_EQ(f.to_vector<double>(), std::vector<double>(6, -2.5));
  EXPECT_EQ(full({2}, 7.9, {.dtype = DType::Int64}).to_vector<int64_t>(), (std::vector<int64_t>{7, 7}));
  EXPECT_EQ(full({2}, 3, {.dtype = DType::Bool}).to_vector<bool>(), (std::vector<bool>{true, true}));
  Tensor r = ones({2}, {.requires_grad = true});
  EXPECT_TRUE(r.requires_grad());
  EXPECT_TRUE(r.is_leaf());
}

TEST(Factory, ArangeIntegerOverload) {
  Tensor a = arange(5);
  EXPECT_EQ(a.dtype(), DType::Int64);
  EXPECT_EQ(a.shape(), (Shape{5}));
  EXPECT_EQ(a.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(arange(3, {.dtype = DType::Float32}).to_vector<float>(), (std::vector<float>{0, 1, 2}));
  EXPECT_EQ(arange(0).shape(), (Shape{0}));
}

TEST(Factory, ArangeDoubleOverload) {
  Tensor a = arange(0.0, 1.0, 0.25);
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 0.25f, 0.5f, 0.75f}));
  // The end is exclusive; a step that does not divide the range rounds the count up.
  EXPECT_EQ(arange(1.0, 2.0, 0.5, {.dtype = DType::Float64}).to_vector<double>(), (std::vector<double>{1.0, 1.5}));
  EXPECT_EQ(arange(5.0, 1.0, -1.5, {.dtype = DType::Float64}).to_vector<double>(),
            (std::vector<double>{5.0, 3.5, 2.0}));
  EXPECT_EQ(arange(2.0, 2.0).numel(), 0);
  expect_error([] { arange(0.0, 1.0, 0.0); }, {"arange"});
  expect_error([] { arange(0.0, 1.0, -1.0); }, {"arange", "away from end"});
  EXPECT_THROW(arange(0.0, INFINITY), Error);
}

TEST(Factory, FromVectorAndScalarTensor) {
  Tensor t = from_vector<int32_t>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(t.dtype(), DType::Int32);
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.at<int32_t>({1, 0}), 4);
  Tensor c = from_vector<double>({1.5, 2.5}, {2}, {.dtype = DType::Float32});  // converts
  EXPECT_EQ(c.dtype(), DType::Float32);
  EXPECT_EQ(c.to_vector<float>(), (std::vector<float>{1.5f, 2.5f}));
  expect_error([] { from_vector<float>({1, 2, 3}, {2, 2}); }, {"from_vector", "3 values", "[2,2]"});
  Tensor s = scalar_tensor(2.5);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.shape(), Shape{});
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<float>(), 2.5f);
  EXPECT_EQ(scalar_tensor(-3, {.dtype = DType::Int64}).item<int64_t>(), -3);
}

TEST(Factory, RandAndUniformStayInRange) {
  Generator g(11);
  Tensor r = rand({100000}, {.dtype = DType::Float64}, &g);
  std::vector<double> v = r.to_vector<double>();
  double lo = 1, hi = 0, sum = 0;
  for (double x : v) { lo = std::min(lo, x); hi = std::max(hi, x); sum += x; }
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_LT(lo, 1e-3);  // 100k draws come close to both ends
  EXPECT_GT(hi, 1 - 1e-3);
  EXPECT_NEAR(sum / double(v.size()), 0.5, 0.01);  // sd of the mean ~ 0.0009
  std::set<double> distinct(v.begin(), v.end());
  EXPECT_GT(distinct.size(), 99990u);

  Tensor u = uniform({100000}, -2.0, 3.0, {}, &g);
  EXPECT_EQ(u.dtype(), DType::Float32);
  std::vector<float> uv = u.to_vector<float>();
  float ulo = 10, uhi = -10;
  double usum = 0;
  for (float x : uv) { ulo = std::min(ulo, x); uhi = std::max(uhi, x); usum += x; }
  EXPECT_GE(ulo, -2.0f);
  EXPECT_LT(uhi, 3.0f);
  EXPECT_LT(ulo, -1.99f);
  EXPECT_GT(uhi, 2.99f);
  EXPECT_NEAR(usum / double(uv.size()), 0.5, 0.05);  // sd of the mean ~ 0.0046
  EXPECT_EQ(uniform({3}, 4.0, 4.0, {}, &g).to_vector<float>(), (std::vector<float>{4, 4, 4}));
  EXPECT_THROW(uniform({3}, 1.0, 0.0), Error);
}

// rand() documents U[0,1), but a float32 result is the float64 draw rounded to float32:
// a draw in [1 - 2^-25, 1) rounds to exactly 1.0f (about once per 2^25 elements).
// Generator 42 at block 52825872 gives such a draw for element 1 (word 2 = 0xffffffbe).
// Library bug: tensor/factory.cpp, uniform()/generate(): the float64 draw is rounded to
// the output dtype without keeping it below `high`.
// The 16-bit types make it common: any draw within 2^-12 (float16) or 2^-9 (bfloat16) of 1
// rounds up to 1.0, so 10000 draws almost surely include some.
TEST(Factory, RandAndUniformStayBelowHighAfterRounding) {
  Generator g(42);
  g.set_offset(52825872);
  std::vector<float> v = rand({2}, {}, &g).to_vector<float>();
  EXPECT_LT(v[1], 1.0f) << "rand() returned exactly 1.0f";
  EXPECT_LT(v[0], 1.0f);
  Generator g16(1);
  for (DType t : {DType::Float16, DType::BFloat16}) {
    std::vector<float> h = rand({10000}, {.dtype = t}, &g16).to_vector<float>();
    EXPECT_LT(*std::max_element(h.begin(), h.end()), 1.0f) << dtype_name(t);
    std::vector<float> u = uniform({10000}, -1.0, 2.0, {.dtype = t}, &g16).to_vector<float>();
    EXPECT_LT(*std::max_element(u.begin(), u.end()), 2.0f) << dtype_name(t);
  }
}

TEST(Factory, RandnHasZeroMeanUnitStd) {
  Generator g(5);
  std::vector<double> v = randn({100000}, {.dtype = DType::Float64}, &g).to_vector<double>();
  double sum = 0, sq = 0;
  int64_t beyond3 = 0;
  for (double x : v) { sum += x; sq += x * x; beyond3 += std::abs(x) > 3; }
  double mean = sum / double(v.size());
  double stdv = std::sqrt(sq / double(v.size()) - mean * mean);
  EXPECT_NEAR(mean, 0.0, 0.02);  // sd of the mean ~ 0.003
  EXPECT_NEAR(stdv, 1.0, 0.02);  // sd of the std ~ 0.0022
  // P(|x| > 3) = 0.0027: about 270 of 100k.
  EXPECT_GT(beyond3, 150);
  EXPECT_LT(beyond3, 400);
  Tensor n = normal({100000}, 10.0, 0.5, {.dtype = DType::Float64}, &g);
  std::vector<double> nv = n.to_vector<double>();
  double nsum = 0;
  for (double x : nv) nsum += x;
  EXPECT_NEAR(nsum / double(nv.size()), 10.0, 0.01);
  EXPECT_THROW(normal({2}, 0.0, -1.0), Error);
}

TEST(Factory, RandintCoversHalfOpenRange) {
  Generator g(3);
  EXPECT_EQ(randint(0, 2, {3}).dtype(), DType::Int64);  // the default options
  Tensor r = randint(-3, 4, {10000}, {.dtype = DType::Int64}, &g);
  std::vector<int64_t> counts(7, 0);
  for (int64_t x : r.to_vector<int64_t>()) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    ++counts[size_t(x + 3)];
  }
  for (int64_t c : counts) {  // 10000/7 ~ 1429 each
    EXPECT_GT(c, 1200);
    EXPECT_LT(c, 1650);
  }
  EXPECT_EQ(randint(5, 6, {4}, {.dtype = DType::Int32}, &g).to_vector<int32_t>(), (std::vector<int32_t>{5, 5, 5, 5}));
  expect_error([] { randint(5, 5, {2}); }, {"randint", "[5,5)"});
}

TEST(Factory, LikeFactoriesCopyShapeDtypeDeviceButNotLayout) {
  Tensor src = arange(6, {.dtype = DType::Int32}).reshape({2, 3}).t();  // non-contiguous
  for (Tensor t : {empty_like(src), zeros_like(src), ones_like(src)}) {
    EXPECT_EQ(t.shape(), (Shape{3, 2}));
    EXPECT_EQ(t.dtype(), DType::Int32);
    EXPECT_EQ(t.device(), Device::cpu());
    EXPECT_EQ(t.strides(), (Strides{2, 1}));
    EXPECT_NE(t.storage(), src.storage());
  }
  EXPECT_EQ(zeros_like(src).to_vector<int32_t>(), std::vector<int32_t>(6, 0));
  EXPECT_EQ(ones_like(src).to_vector<int32_t>(), std::vector<int32_t>(6, 1));
}

// ---------------------------------------------------------------- views

TEST(View, ReshapeOfContiguousIsAView) {
  Tensor a = arange(24);
  Tensor b = a.reshape({2, 3, 4});
  EXPECT_EQ(b.storage(), a.storage());
  EXPECT_EQ(b.data_ptr(), a.data_ptr());
  EXPECT_EQ(b.strides(), (Strides{12, 4, 1}));
  EXPECT_EQ(b.at<int64_t>({1, 2, 3}), 23);
  Tensor c = b.view({6, 4});
  EXPECT_EQ(c.storage(), a.storage());
  EXPECT_EQ(c.at<int64_t>({5, 0}), 20);
}

TEST(View, ReshapeInfersOneMinusOneDim) {
  Tensor a = arange(24);
  EXPECT_EQ(a.reshape({-1, 4}).shape(), (Shape{6, 4}));
  EXPECT_EQ(a.reshape({2, -1, 3}).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(a.view({-1}).shape(), (Shape{24}));
  expect_error([&] { a.reshape({-1, -1}); }, {"only one dim can be -1"});
  expect_error([&] { a.reshape({5, -1}); }, {"reshape", "[24]", "[5,-1]"});
  expect_error([&] { a.reshape({7}); }, {"reshape", "24 elements", "[7]"});
  EXPECT_THROW(a.reshape({-2, 12}), Error);
  Tensor z = zeros({0, 3});
  EXPECT_EQ(z.reshape({3, 0}).shape(), (Shape{3, 0}));
  EXPECT_THROW(z.reshape({-1, 0}), Error);  // -1 is ambiguous beside a 0
}

TEST(View, ReshapeOfTransposedCopiesAndViewRefuses) {
  Tensor a = arange(6).reshape({2, 3});  // [[0,1,2],[3,4,5]]
  Tensor t = a.t();                      // [[0,3],[1,4],[2,5]], strides [1,3]
  EXPECT_EQ(t.strides(), (Strides{1, 3}));
  Tensor flat = t.reshape({6});
  EXPECT_NE(flat.storage(), a.storage());  // strides cannot express it: a copy
  EXPECT_EQ(flat.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
  expect_error([&] { t.view({6}); }, {"view", "[6]", "[1,3]", "reshape()"});
  // Inserting a size-1 dim needs no copy even here.
  Tensor u = t.reshape({3, 1, 2});
  EXPECT_EQ(u.storage(), a.storage());
  EXPECT_EQ(u.stride(0), 1);
  EXPECT_EQ(u.stride(2), 3);
  EXPECT_EQ(u.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
}

TEST(View, ReshapeSplitsAndMergesWhereStridesAllow) {
  Tensor base = arange(24).reshape({2, 3, 4});
  Tensor p = base.permute({1, 0, 2});  // shape [3,2,4], strides [4,12,1]
  ASSERT_EQ(p.strides(), (Strides{4, 12, 1}));
  Tensor split = p.reshape({3, 2, 2, 2});  // splitting the last dim: a view
  EXPECT_EQ(split.storage(), base.storage());
  EXPECT_EQ(split.strides(), (Strides{4, 12, 2, 1}));
  EXPECT_EQ(split.to_vector<int64_t>(), p.contiguous().to_vector<int64_t>());
  Tensor merged = p.reshape({3, 8});  // merging dims of strides 12 and 1: a copy
  EXPECT_NE(merged.storage(), base.storage());
  EXPECT_EQ(merged.to_vector<int64_t>(), p.contiguous().to_vector<int64_t>());
  // Every other column of a [3,4] matrix is a [3,2] view with strides [4,2]: mergeable.
  Tensor m = arange(12).reshape({3, 4});
  Tensor cols = m.slice(1, 0, 4, 2);
  Tensor flat = cols.view({6});
  EXPECT_EQ(flat.storage(), m.storage());
  EXPECT_EQ(flat.strides(), Strides{2});
  EXPECT_EQ(flat.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 4, 6, 8, 10}));
  // The first two columns: strides [4,1] cannot be merged.
  EXPECT_THROW(m.narrow(1, 0, 2).view({6}), Error);
  EXPECT_EQ(m.narrow(1, 0, 2).reshape({6}).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 4, 5, 8, 9}));
}

TEST(View, ReshapeOfExpandedCopies) {
  Tensor a = from_vector<float>({1, 2, 3});
  Tensor e = a.expand({2, 3});
  EXPECT_THROW(e.view({6}), Error);
  Tensor r = e.reshape({6});
  EXPECT_NE(r.storage(), a.storage());
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  Tensor v = e.reshape({2, 3, 1});  // adding a size-1 dim keeps the view
  EXPECT_EQ(v.storage(), a.storage());
  EXPECT_EQ(v.stride(0), 0);
}

TEST(View, PermuteAndTranspose) {
  Tensor a = arange(24).reshape({2, 3, 4});
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Strides{1, 12, 4}));
  EXPECT_EQ(p.storage(), a.storage());
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.at<int64_t>({3, 1, 2}), 1 * 12 + 2 * 4 + 3);  // = a[1][2][3]
  EXPECT_EQ(a.permute({-1, 0, 1}).shape(), (Shape{4, 2, 3}));
  expect_error([&] { a.permute({0, 0, 1}); }, {"permute", "repeated"});
  EXPECT_THROW(a.permute({0, 1}), Error);
  EXPECT_THROW(a.permute({0, 1, 3}), Error);

  Tensor t = a.transpose(0, 2);
  EXPECT_EQ(t.shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.strides(), (Strides{1, 4, 12}));
  EXPECT_EQ(t.storage(), a.storage());
  EXPECT_EQ(a.transpose(-1, -2).shape(), (Shape{2, 4, 3}));
  EXPECT_EQ(a.transpose(1, 1).strides(), a.strides());
}

TEST(View, TOfMatrixVectorAndHigherDims) {
  Tensor m = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor t = m.t();
  EXPECT_EQ(t.shape(), (Shape{3, 2}));
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 4, 2, 5, 3, 6}));
  EXPECT_EQ(t.t().strides(), m.strides());
  Tensor v = from_vector<float>({1, 2});
  EXPECT_EQ(v.t().shape(), (Shape{2}));
  EXPECT_EQ(v.t().storage(), v.storage());
  expect_error([] { zeros({2, 2, 2}).t(); }, {"t:", "[2,2,2]"});
}

TEST(View, NarrowSharesStorageAtOffset) {
  Tensor a = arange(12, {.dtype = DType::Float32}).reshape({3, 4});
  Tensor n = a.narrow(1, 1, 2);
  EXPECT_EQ(n.storage(), a.storage());
  EXPECT_EQ(n.shape(), (Shape{3, 2}));
  EXPECT_EQ(n.strides(), (Strides{4, 1}));
  EXPECT_EQ(n.offset(), 1);
  EXPECT_EQ(elem_offset(n, a), 1);
  EXPECT_EQ(n.to_vector<float>(), (std::vector<float>{1, 2, 5, 6, 9, 10}));
  Tensor rows = a.narrow(0, 2, 1);
  EXPECT_EQ(elem_offset(rows, a), 8);
  EXPECT_EQ(a.narrow(1, -2, 2).to_vector<float>(), (std::vector<float>{2, 3, 6, 7, 10, 11}));
  EXPECT_EQ(a.narrow(0, 3, 0).numel(), 0);
  expect_error([&] { a.narrow(1, 3, 2); }, {"narrow", "[3, 5)", "size 4"});
  EXPECT_THROW(a.narrow(1, 0, -1), Error);
  EXPECT_THROW(a.narrow(2, 0, 1), Error);
}

TEST(View, SliceWithStepAndPythonBounds) {
  Tensor a = arange(10);
  Tensor s = a.slice(0, 1, 8, 3);  // 1, 4, 7
  EXPECT_EQ(s.storage(), a.storage());
  EXPECT_EQ(s.shape(), (Shape{3}));
  EXPECT_EQ(s.strides(), (Strides{3}));
  EXPECT_EQ(elem_offset(s, a), 1);
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{1, 4, 7}));
  EXPECT_EQ(a.slice(0, 0, 10, 4).to_vector<int64_t>(), (std::vector<int64_t>{0, 4, 8}));
  EXPECT_EQ(a.slice(0, -3, 100).to_vector<int64_t>(), (std::vector<int64_t>{7, 8, 9}));  // clamped end
  EXPECT_EQ(elem_offset(a.slice(0, -3, 100), a), 7);
  EXPECT_EQ(a.slice(0, -100, 2).to_vector<int64_t>(), (std::vector<int64_t>{0, 1}));     // clamped start
  EXPECT_EQ(a.slice(0, 2, -5).to_vector<int64_t>(), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(a.slice(0, 7, 3).shape(), (Shape{0}));  // end before start: empty
  EXPECT_EQ(a.slice(0, 20, 30).shape(), (Shape{0}));
  expect_error([&] { a.slice(0, 0, 5, 0); }, {"slice", "step"});
  EXPECT_THROW(a.slice(0, 0, 5, -1), Error);
  EXPECT_THROW(scalar_tensor(1).slice(0, 0, 1), Error);
  // Slicing an inner dim of a 2-D tensor.
  Tensor m = arange(12).reshape({3, 4});
  Tensor c = m.slice(-1, 1, 4, 2);  // columns 1, 3
  EXPECT_EQ(c.strides(), (Strides{4, 2}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 5, 7, 9, 11}));
}

TEST(View, ExpandUsesZeroStrides) {
  Tensor a = from_vector<float>({1, 2, 3}, {3, 1});
  Tensor e = a.expand({2, 3, 4});
  EXPECT_EQ(e.storage(), a.storage());
  EXPECT_EQ(e.shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(e.strides(), (Strides{0, 1, 0}));
  EXPECT_EQ(e.at<float>({1, 2, 3}), 3.0f);
  EXPECT_EQ(e.at<float>({0, 1, 0}), 2.0f);
  EXPECT_EQ(a.expand({-1, 2}).to_vector<float>(), (std::vector<float>{1, 1, 2, 2, 3, 3}));
  expect_error([&] { a.expand({2, 4}); }, {"expand", "[3,1]", "[2,4]"});
  EXPECT_THROW(a.expand({4}), Error);
  EXPECT_THROW(a.expand({-1, 3, 2}), Error);  // -1 only for existing dims
  Tensor s = scalar_tensor(5).expand({2, 2});
  EXPECT_EQ(s.strides(), (Strides{0, 0}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{5, 5, 5, 5}));
}

TEST(View, SqueezeAndUnsqueeze) {
  Tensor a = arange(6).reshape({1, 3, 1, 2});
  Tensor s = a.squeeze();
  EXPECT_EQ(s.shape(), (Shape{3, 2}));
  EXPECT_EQ(s.strides(), (Strides{2, 1}));
  EXPECT_EQ(s.storage(), a.storage());
  EXPECT_EQ(a.squeeze(0).shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(a.squeeze(-2).shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(a.squeeze(1).shape(), (Shape{1, 3, 1, 2}));  // not size 1: unchanged
  EXPECT_THROW(a.squeeze(4), Error);
  EXPECT_EQ(scalar_tensor(1).squeeze(0).dim(), 0);

  Tensor v = arange(6).reshape({3, 2});
  Tensor u0 = v.unsqueeze(0);
  EXPECT_EQ(u0.shape(), (Shape{1, 3, 2}));
  EXPECT_TRUE(u0.is_contiguous());
  EXPECT_EQ(u0.storage(), v.storage());
  Tensor u1 = v.unsqueeze(1);
  EXPECT_EQ(u1.shape(), (Shape{3, 1, 2}));
  EXPECT_EQ(u1.strides(), (Strides{2, 2, 1}));
  EXPECT_TRUE(u1.is_contiguous());
  Tensor ul = v.unsqueeze(-1);
  EXPECT_EQ(ul.shape(), (Shape{3, 2, 1}));
  EXPECT_EQ(ul.to_vector<int64_t>(), v.to_vector<int64_t>());
  EXPECT_THROW(v.unsqueeze(3), Error);
  EXPECT_EQ(scalar_tensor(4).unsqueeze(0).shape(), (Shape{1}));
}

TEST(View, Flatten) {
  Tensor a = arange(24).reshape({2, 3, 4});
  Tensor f = a.flatten();
  EXPECT_EQ(f.shape(), (Shape{24}));
  EXPECT_EQ(f.storage(), a.storage());
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 12}));
  EXPECT_EQ(a.flatten(0, 1).shape(), (Shape{6, 4}));
  EXPECT_EQ(a.flatten(-2, -1).shape(), (Shape{2, 12}));
  EXPECT_THROW(a.flatten(2, 1), Error);
  EXPECT_EQ(scalar_tensor(3).flatten().shape(), (Shape{1}));
  Tensor p = a.permute({2, 1, 0});
  Tensor pf = p.flatten();  // not expressible as a view: copies in permuted order
  EXPECT_NE(pf.storage(), a.storage());
  std::vector<int64_t> pv = pf.to_vector<int64_t>();
  EXPECT_EQ(pv[0], 0);
  EXPECT_EQ(pv[1], 12);  // p[0][0][1] = a[1][0][0]
  EXPECT_EQ(pv[2], 4);   // p[0][1][0] = a[0][1][0]
}

TEST(View, ContiguousReturnsSelfOrCopy) {
  Tensor a = arange(6).reshape({2, 3});
  EXPECT_TRUE(a.contiguous().is_same(a));
  Tensor t = a.t();
  Tensor c = t.contiguous();
  EXPECT_NE(c.storage(), a.storage());
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.strides(), (Strides{2, 1}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
  // Size-1 dims do not count against contiguity.
  Tensor odd = raw::view(a, {1, 3}, {99, 1}, 0);
  EXPECT_TRUE(odd.is_contiguous());
  EXPECT_TRUE(odd.contiguous().is_same(odd));
}

// ---------------------------------------------------------------- channels-last

TEST(ChannelsLast, StridesValuesAndContiguityChecks) {
  const int64_t N = 2, C = 3, H = 4, W = 5;
  Tensor x = arange(double(N * C * H * W) * 0.5, 0.0, -0.5, {.dtype = DType::Float32}).reshape({N, C, H, W});
  EXPECT_TRUE(x.is_contiguous());
  EXPECT_FALSE(x.is_contiguous(MemoryFormat::ChannelsLast));
  Tensor cl = x.contiguous(MemoryFormat::ChannelsLast);
  EXPECT_EQ(cl.shape(), (Shape{N, C, H, W}));
  EXPECT_EQ(cl.strides(), (Strides{H * W * C, 1, W * C, C}));
  EXPECT_TRUE(cl.is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_FALSE(cl.is_contiguous());
  EXPECT_NE(cl.storage(), x.storage());
  EXPECT_TRUE(cl.contiguous(MemoryFormat::ChannelsLast).is_same(cl));
  const float* raw_cl = cl.data<float>();
  const float* raw_x = x.data<float>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          const float want = raw_x[((n * C + c) * H + h) * W + w];
          ASSERT_EQ(cl.at<float>({n, c, h, w}), want) << n << c << h << w;
          ASSERT_EQ(raw_cl[((n * H + h) * W + w) * C + c], want) << "NHWC memory at " << n << c << h << w;
        }
  EXPECT_EQ(cl.to_vector<float>(), x.to_vector<float>());  // logical order is unchanged
  Tensor back = cl.contiguous();
  EXPECT_EQ(back.strides(), (Strides{60, 20, 5, 1}));
  EXPECT_EQ(back.to_vector<float>(), x.to_vector<float>());
  // A permuted NHWC tensor is channels-last without a copy.
  Tensor nhwc = x.permute({0, 2, 3, 1}).contiguous();
  EXPECT_TRUE(nhwc.permute({0, 3, 1, 2}).is_contiguous(MemoryFormat::ChannelsLast));
}

TEST(ChannelsLast, DegenerateShapesSatisfyBothFormats) {
  Tensor one_channel = zeros({2, 1, 4, 5});  // C=1: both layouts coincide
  EXPECT_TRUE(one_channel.is_contiguous());
  EXPECT_TRUE(one_channel.is_contiguous(MemoryFormat::ChannelsLast));
  Tensor pixel = zeros({2, 3, 1, 1});  // H=W=1 too
  EXPECT_TRUE(pixel.is_contiguous(MemoryFormat::ChannelsLast));
  Tensor three_d = zeros({2, 3, 4});
  EXPECT_FALSE(three_d.is_contiguous(MemoryFormat::ChannelsLast));
  EXPECT_THROW(three_d.contiguous(MemoryFormat::ChannelsLast), Error);
}

// ---------------------------------------------------------------- dtypes

TEST(DType, SizesNamesAndPromotion) {
  const std::vector<std::pair<DType, std::pair<size_t, std::string>>> all = {
      {DType::Float32, {4, "float32"}}, {DType::Float64, {8, "float64"}}, {DType::Int64, {8, "int64"}},
      {DType::Int32, {4, "int32"}},     {DType::UInt8, {1, "uint8"}},     {DType::Bool, {1, "bool"}},
      {DType::Float16, {2, "float16"}}, {DType::BFloat16, {2, "bfloat16"}}};
  for (const auto& [t, info] : all) {
    EXPECT_EQ(dtype_size(t), info.first) << info.second;
    EXPECT_EQ(std::string(dtype_name(t)), info.second);
    EXPECT_EQ(empty({3}, {.dtype = t}).storage()->nbytes(), 3 * info.first);
  }
  EXPECT_EQ(promote_types(DType::Int32, DType::Float16), DType::Float16);
  EXPECT_EQ(promote_types(DType::Float16, DType::BFloat16), DType::Float32);
  EXPECT_EQ(promote_types(DType::Bool, DType::UInt8), DType::UInt8);
  EXPECT_EQ(promote_types(DType::Int64, DType::Float32), DType::Float32);
  EXPECT_TRUE(is_floating(DType::BFloat16));
  EXPECT_FALSE(is_integral(DType::Bool));
}

TEST(DType, RoundTripThroughEveryPairOfDtypes) {
  const std::vector<DType> all = {DType::Float32, DType::Float64, DType::Int64,   DType::Int32,
                                  DType::UInt8,   DType::Bool,    DType::Float16, DType::BFloat16};
  const std::vector<double> values = {0, 1, 2, 3, 7, 100, 255};  // exact in every non-bool type
  const std::vector<double> as_bool = {0, 1, 1, 1, 1, 1, 1};
  Tensor src = from_vector<double>(values);
  for (DType a : all) {
    for (DType b : all) {
      Tensor ta = src.to(a);
      ASSERT_EQ(ta.dtype(), a);
      Tensor tb = ta.to(b);
      ASSERT_EQ(tb.dtype(), b);
      const bool via_bool = a == DType::Bool || b == DType::Bool;
      EXPECT_EQ(tb.to_vector<double>(), via_bool ? as_bool : values)
          << dtype_name(a) << " -> " << dtype_name(b);
    }
  }
  EXPECT_TRUE(src.to(DType::Float64).is_same(src));  // same dtype: no copy
}

TEST(DType, FloatToIntegerTruncatesTowardZero) {
  Tensor f = from_vector<float>({2.7f, -2.7f, 0.5f, -0.5f});
  EXPECT_EQ(f.to(DType::Int32).to_vector<int32_t>(), (std::vector<int32_t>{2, -2, 0, 0}));
  EXPECT_EQ(f.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{2, -2, 0, 0}));
  EXPECT_EQ(from_vector<int64_t>({123456789012LL}).to(DType::Float64).item<double>(), 123456789012.0);
}

TEST(DType, BoolConversion) {
  Tensor f = from_vector<float>({0.0f, 0.5f, -1.0f, -0.0f, NAN, INFINITY});
  EXPECT_EQ(f.to(DType::Bool).to_vector<bool>(), (std::vector<bool>{false, true, true, false, true, true}));
  Tensor i = from_vector<int32_t>({0, 2, -3});
  Tensor b = i.to(DType::Bool);
  EXPECT_EQ(b.to_vector<bool>(), (std::vector<bool>{false, true, true}));
  // Stored as 0/1 bytes, whatever the source value was.
  const uint8_t* bytes = static_cast<const uint8_t*>(b.data_ptr());
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[1], 1);
  EXPECT_EQ(bytes[2], 1);
  EXPECT_EQ(b.to(DType::Float32).to_vector<float>(), (std::vector<float>{0, 1, 1}));
  EXPECT_EQ(b.to(DType::Int64).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 1}));
  Tensor h = from_vector<float>({0.0f, 1e-7f, 3.0f}).to(DType::Float16);  // 1e-7 is a half subnormal
  EXPECT_EQ(h.to(DType::Bool).to_vector<bool>(), (std::vector<bool>{false, true, true}));
  EXPECT_EQ(from_vector<float>({0.25f, 0.0f}).to_vector<bool>(), (std::vector<bool>{true, false}));
}

// Bits of each float32 value converted to float16 through a tensor.
std::vector<uint16_t> half_bits(const std::vector<float>& v) {
  Tensor h = from_vector<float>(v).to(DType::Float16);
  std::vector<uint16_t> out;
  for (int64_t i = 0; i < h.numel(); ++i) out.push_back(h.data<Half>()[i].bits);
  return out;
}
std::vector<uint16_t> bf16_bits(const std::vector<float>& v) {
  Tensor h = from_vector<float>(v).to(DType::BFloat16);
  std::vector<uint16_t> out;
  for (int64_t i = 0; i < h.numel(); ++i) out.push_back(h.data<BFloat16>()[i].bits);
  return out;
}

TEST(Half, ExactValuesHaveKnownBits) {
  EXPECT_EQ(half_bits({1.0f, 1.5f, -2.25f, 65504.0f, 0.0f, -0.0f, 0.5f, -65504.0f}),
            (std::vector<uint16_t>{0x3C00, 0x3E00, 0xC080, 0x7BFF, 0x0000, 0x8000, 0x3800, 0xFBFF}));
  Tensor h = from_vector<float>({1.5f, -2.25f, 65504.0f, 6.103515625e-05f}).to(DType::Float16);
  EXPECT_EQ(h.to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 65504.0f, 6.103515625e-05f}));  // 2^-14
  EXPECT_EQ(Half(1.5f).bits, 0x3E00);
  Half x;
  x.bits = 0xC080;
  EXPECT_EQ(float(x), -2.25f);
}

TEST(Half, RoundsToNearestEven) {
  const float ulp = std::ldexp(1.0f, -10);  // spacing of halves in [1,2)
  EXPECT_EQ(half_bits({1.0f + ulp / 2,              // tie: 1.0 is even
                       1.0f + 3 * ulp / 2,          // tie: 1+2ulp is even
                       1.0f + ulp / 2 + ulp / 1024,  // just above the tie: up
                       1.0f + ulp / 2 - ulp / 1024,  // just below: down
                       -(1.0f + 3 * ulp / 2)}),
            (std::vector<uint16_t>{0x3C00, 0x3C02, 0x3C01, 0x3C00, 0xBC02}));
  // Rounding up may carry into the exponent: 2 - ulp/4 rounds to 2.0.
  EXPECT_EQ(half_bits({2.0f - ulp / 4}), (std::vector<uint16_t>{0x4000}));
  // 65519 rounds down to the largest half; 65520 is a tie with 65536 and rounds to inf.
  EXPECT_EQ(half_bits({65519.0f, 65520.0f, 1e6f}), (std::vector<uint16_t>{0x7BFF, 0x7C00, 0x7C00}));
}

TEST(Half, InfNanAndSubnormals) {
  EXPECT_EQ(half_bits({INFINITY, -INFINITY}), (std::vector<uint16_t>{0x7C00, 0xFC00}));
  Tensor n = from_vector<float>({NAN, -NAN}).to(DType::Float16);
  for (int i = 0; i < 2; ++i) {
    uint16_t b = n.data<Half>()[i].bits;
    EXPECT_EQ(b & 0x7C00, 0x7C00);
    EXPECT_NE(b & 0x03FF, 0);  // still a nan, not inf
  }
  for (float v : n.to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  const float tiny = std::ldexp(1.0f, -24);  // smallest half subnormal
  EXPECT_EQ(half_bits({tiny, -tiny, 1023 * tiny, std::ldexp(1.0f, -14)}),
            (std::vector<uint16_t>{0x0001, 0x8001, 0x03FF, 0x0400}));
  Tensor s = from_vector<float>({tiny, 1023 * tiny, 3 * tiny}).to(DType::Float16);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{tiny, 1023 * tiny, 3 * tiny}));
  // Subnormal rounding: half of tiny ties to 0 (even), 1.5 tiny ties to 2 tiny (even),
  // 1.25 tiny rounds down, a quarter of tiny underflows to (signed) zero.
  EXPECT_EQ(half_bits({tiny / 2, 1.5f * tiny, 1.25f * tiny, 2.5f * tiny, tiny / 4, -tiny / 4, 1023.5f * tiny}),
            (std::vector<uint16_t>{0x0000, 0x0002, 0x0001, 0x0002, 0x0000, 0x8000, 0x0400}));
}

TEST(BFloat16, ExactValuesRoundingInfNan) {
  EXPECT_EQ(bf16_bits({1.0f, 1.5f, -2.25f, 0.0f, -0.0f, 0x1p100f}),
            (std::vector<uint16_t>{0x3F80, 0x3FC0, 0xC010, 0x0000, 0x8000, 0x7180}));
  Tensor b = from_vector<float>({1.5f, -2.25f, 65504.0f, 1.0e30f}).to(DType::BFloat16);
  std::vector<float> back = b.to_vector<float>();
  EXPECT_EQ(back[0], 1.5f);
  EXPECT_EQ(back[1], -2.25f);
  EXPECT_EQ(back[2], 65536.0f);  // 65504 needs 11 significant bits; bfloat16 keeps 8
  EXPECT_NEAR(back[3], 1.0e30f, 1.0e30f / 128);
  const float ulp = std::ldexp(1.0f, -7);  // spacing of bfloat16 in [1,2)
  EXPECT_EQ(bf16_bits({1.0f + ulp / 2, 1.0f + 3 * ulp / 2, 1.0f + ulp / 2 + ulp / 1024, 1.0f + ulp / 2 - ulp / 1024}),
            (std::vector<uint16_t>{0x3F80, 0x3F82, 0x3F81, 0x3F80}));
  EXPECT_EQ(bf16_bits({INFINITY, -INFINITY, std::numeric_limits<float>::max()}),
            (std::vector<uint16_t>{0x7F80, 0xFF80, 0x7F80}));  // float max is past the last tie
  uint16_t nb = bf16_bits({NAN})[0];
  EXPECT_EQ(nb & 0x7F80, 0x7F80);
  EXPECT_NE(nb & 0x007F, 0);
  EXPECT_TRUE(std::isnan(from_vector<float>({NAN}).to(DType::BFloat16).item<float>()));
}

TEST(Half, ConvertsBetweenHalfTypesThroughFloat) {
  Tensor h = from_vector<float>({1.5f, -2.25f, 3.0f}).to(DType::Float16);
  Tensor b = h.to(DType::BFloat16);
  EXPECT_EQ(b.to_vector<float>(), (std::vector<float>{1.5f, -2.25f, 3.0f}));
  EXPECT_EQ(b.to(DType::Float16).data<Half>()[1].bits, 0xC080);
  EXPECT_EQ(h.to(DType::Int32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
  EXPECT_EQ(from_vector<int32_t>({-7, 2048}).to(DType::Float16).to_vector<float>(), (std::vector<float>{-7, 2048}));
}

// ---------------------------------------------------------------- element access

TEST(Access, ItemAtAndToVector) {
  Tensor m = from_vector<double>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(m.at<double>({1, 2}), 6.0);
  EXPECT_EQ(m.at<int64_t>({0, 1}), 2);
  Tensor t = m.t();  // at() follows the view's strides
  EXPECT_EQ(t.at<double>({2, 0}), 3.0);
  EXPECT_EQ(t.at<double>({0, 1}), 4.0);
  EXPECT_EQ(t.to_vector<double>(), (std::vector<double>{1, 4, 2, 5, 3, 6}));  // row-major of the view
  EXPECT_EQ(m.narrow(1, 1, 1).at<float>({1, 0}), 5.0f);
  expect_error([&] { m.at<double>({2, 0}); }, {"at", "index 2", "dim 0"});
  EXPECT_THROW(m.at<double>({0, -1}), Error);
  expect_error([&] { m.at<double>({1}); }, {"at", "1 indices", "[2,3]"});
  EXPECT_EQ(from_vector<float>({3.75f}).item<float>(), 3.75f);
  EXPECT_EQ(m.narrow(0, 1, 1).narrow(1, 2, 1).item<double>(), 6.0);
  expect_error([&] { m.item<double>(); }, {"item", "[2,3]", "6 elements"});
  EXPECT_EQ(from_vector<int64_t>({(int64_t(1) << 53) + 1}).item<int64_t>(), (int64_t(1) << 53) + 1);
  EXPECT_EQ(scalar_tensor(0.5).item<bool>(), true);
  EXPECT_THROW(Tensor().shape(), Error);
  EXPECT_THROW(m.data<float>(), Error);  // wrong type for a float64 tensor
}

// ---------------------------------------------------------------- printing

TEST(Print, ValuesShapeAndDtype) {
  EXPECT_EQ(from_vector<float>({1.0f, 2.5f, -3.0f}).str(), "tensor([1.0000, 2.5000, -3.0000], shape=[3], dtype=float32)");
  EXPECT_EQ(from_vector<double>({3.14159265}).str(), "tensor([3.1416], shape=[1], dtype=float64)");
  EXPECT_EQ(from_vector<int64_t>({1, 2, 3, 4}, {2, 2}).str(),
            "tensor([[1, 2],\n        [3, 4]], shape=[2,2], dtype=int64)");
  EXPECT_EQ(scalar_tensor(2.5).str(), "tensor(2.5000, shape=[], dtype=float32)");
  EXPECT_EQ(from_vector<uint8_t>({0, 1}, {2}, {.dtype = DType::Bool}).str(),
            "tensor([false, true], shape=[2], dtype=bool)");
  EXPECT_EQ(from_vector<float>({1.5f}).to(DType::Float16).str(), "tensor([1.5000], shape=[1], dtype=float16)");
  EXPECT_EQ(ones({1}, {.requires_grad = true}).str(), "tensor([1.0000], shape=[1], dtype=float32, requires_grad=true)");
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  EXPECT_EQ(zeros({0}).str(), "tensor([], shape=[0], dtype=float32)");
  // Views print their logical contents.
  EXPECT_EQ(from_vector<int32_t>({1, 2, 3, 4}, {2, 2}).t().str(),
            "tensor([[1, 3],\n        [2, 4]], shape=[2,2], dtype=int32)");
  std::ostringstream os;
  os << from_vector<int32_t>({7});
  EXPECT_EQ(os.str(), "tensor([7], shape=[1], dtype=int32)");
}

TEST(Print, LargeTensorsElide) {
  EXPECT_EQ(arange(100).str(), "tensor([0, 1, 2, ..., 97, 98, 99], shape=[100], dtype=int64)");
  EXPECT_EQ(arange(6).str(), "tensor([0, 1, 2, 3, 4, 5], shape=[6], dtype=int64)");  // 6 = 2*3 fits
  std::string big = arange(10000).reshape({100, 100}).str();
  EXPECT_NE(big.find("..."), std::string::npos);
  EXPECT_NE(big.find("shape=[100,100]"), std::string::npos);
  EXPECT_NE(big.find("9999"), std::string::npos);     // the last element is shown
  EXPECT_EQ(big.find("5050"), std::string::npos);     // the middle one is not
  EXPECT_LT(big.size(), 600u);  // printed in full it would be ~60k characters
}

// Printing goes through float64, so int64 values above 2^53 print rounded.
// Library bug: tensor/tensor.cpp, operator<<: `std::vector<double> v = h.to_vector<double>()`
// then "%lld" of the double: 9007199254740993 prints as 9007199254740992.
TEST(Print, LargeInt64PrintsExactly) {
  Tensor t = from_vector<int64_t>({(int64_t(1) << 53) + 1, std::numeric_limits<int64_t>::max()});
  EXPECT_EQ(t.str(), "tensor([9007199254740993, 9223372036854775807], shape=[2], dtype=int64)");
}

// ---------------------------------------------------------------- in-place ops

TEST(InPlace, AddBroadcastsWithAlphaAndBumpsVersionOnce) {
  Tensor a = zeros({2, 3});
  const uint64_t v0 = a.version();
  a.add_(from_vector<float>({1, 2, 3}), 2.0);
  EXPECT_EQ(a.version(), v0 + 1);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{2, 4, 6, 2, 4, 6}));
  a.add_(from_vector<float>({10, 20}, {2, 1}));
  EXPECT_EQ(a.version(), v0 + 2);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{12, 14, 16, 22, 24, 26}));
  a.add_(0.5);
  EXPECT_EQ(a.version(), v0 + 3);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{12.5, 14.5, 16.5, 22.5, 24.5, 26.5}));
  a.add_(from_vector<double>({1.0}), -1.0);  // other dtype converts to the tensor's
  EXPECT_EQ(a.dtype(), DType::Float32);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{11.5, 13.5, 15.5, 21.5, 23.5, 25.5}));
  EXPECT_EQ(a.version(), v0 + 4);
}

TEST(InPlace, FailedOpsLeaveVersionAndValuesAlone) {
  Tensor a = from_vector<float>({1, 2, 3});
  const uint64_t v0 = a.version();
  expect_error([&] { a.add_(zeros({2, 3})); }, {"add_", "[2,3]", "[3]"});
  Tensor i = from_vector<int64_t>({1, 2});
  const uint64_t iv0 = i.version();
  expect_error([&] { i.add_(from_vector<float>({0.5f, 0.5f})); }, {"add_", "float32", "int64"});
  EXPECT_THROW(i.add_(0.5), Error);  // 0.5 is not an integer
  EXPECT_THROW(a.copy_(zeros({4})), Error);
  EXPECT_EQ(a.version(), v0);
  EXPECT_EQ(i.version(), iv0);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 2, 3}));
  i.add_(2.0);  // a whole number is fine
  EXPECT_EQ(i.to_vector<int64_t>(), (std::vector<int64_t>{3, 4}));
}

TEST(InPlace, MulFillZero) {
  Tensor a = from_vector<double>({1, 2, 3, 4}, {2, 2});
  uint64_t v = a.version();
  a.mul_(from_vector<double>({10, -1}));
  EXPECT_EQ(a.version(), ++v);
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{10, -2, 30, -4}));
  a.mul_(0.5);
  EXPECT_EQ(a.version(), ++v);
  EXPECT_EQ(a.to_vector<double>(), (std::vector<double>{5, -1, 15, -2}));
  a.fill_(7.25);
  EXPECT_EQ(a.version(), ++v);
  EXPECT_EQ(a.to_vector<double>(), std::vector<double>(4, 7.25));
  a.zero_();
  EXPECT_EQ(a.version(), ++v);
  EXPECT_EQ(a.to_vector<double>(), std::vector<double>(4, 0.0));
  Tensor i = from_vector<int32_t>({1, -2, 3});
  i.mul_(3.0);
  EXPECT_EQ(i.to_vector<int32_t>(), (std::vector<int32_t>{3, -6, 9}));
}

TEST(InPlace, CopyConvertsDtypeAndBroadcasts) {
  Tensor dst = zeros({2, 3});
  const uint64_t v0 = dst.version();
  dst.copy_(from_vector<int64_t>({1, 2, 3}));
  EXPECT_EQ(dst.version(), v0 + 1);
  EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{1, 2, 3, 1, 2, 3}));
  dst.copy_(from_vector<double>({-1.5, 2.5}, {2, 1}));
  EXPECT_EQ(dst.version(), v0 + 2);
  EXPECT_EQ(dst.to_vector<float>(), (std::vector<float>{-1.5, -1.5, -1.5, 2.5, 2.5, 2.5}));
  Tensor ints = zeros({3}, {.dtype = DType::Int32});
  ints.copy_(from_vector<double>({1.7, -1.7, 42.0}));
  EXPECT_EQ(ints.to_vector<int32_t>(), (std::vector<int32_t>{1, -1, 42}));
  Tensor half = zeros({2}, {.dtype = DType::Float16});
  half.copy_(from_vector<float>({1.5f, 65504.0f}));
  EXPECT_EQ(half.data<Half>()[0].bits, 0x3E00);
  EXPECT_EQ(half.data<Half>()[1].bits, 0x7BFF);
  // A transposed source lands in row-major order of the logical view.
  Tensor m = zeros({3, 2}, {.dtype = DType::Int64});
  m.copy_(arange(6).reshape({2, 3}).t());
  EXPECT_EQ(m.to_vector<int64_t>(), (std::vector<int64_t>{0, 3, 1, 4, 2, 5}));
}

TEST(InPlace, ViewsShareTheVersionCounterAndWriteThrough) {
  Tensor a = zeros({3, 4});
  Tensor v = a.narrow(1, 1, 2);
  Tensor t = a.t();
  const uint64_t v0 = a.version();
  v.fill_(5);
  EXPECT_EQ(a.version(), v0 + 1);
  EXPECT_EQ(v.version(), a.version());
  EXPECT_EQ(t.version(), a.version());
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 5, 5, 0, 0, 5, 5, 0, 0, 5, 5, 0}));
  v.add_(from_vector<float>({1, 2}));
  EXPECT_EQ(a.version(), v0 + 2);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{0, 6, 7, 0, 0, 6, 7, 0, 0, 6, 7, 0}));
  // Writing through a transposed view: t[j][i] = a[i][j].
  t.add_(from_vector<float>({100, 200, 300}));  // broadcasts along t's rows: adds 100*(i+1) to a's row i
  EXPECT_EQ(a.version(), v0 + 3);
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{100, 106, 107, 100, 200, 206, 207, 200, 300, 306, 307, 300}));
  t.mul_(from_vector<float>({1, 0, 1, 0}, {4, 1}));  // zeroes a's columns 1 and 3
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{100, 0, 107, 0, 200, 0, 207, 0, 300, 0, 307, 0}));
  Tensor e = a.reshape({12});  // a view too
  e.zero_();
  EXPECT_EQ(a.version(), v0 + 5);
  EXPECT_EQ(a.to_vector<float>(), std::vector<float>(12, 0));
  // A copy does not share the counter.
  Tensor c = a.clone();
  const uint64_t cv = c.version();
  a.fill_(1);
  EXPECT_EQ(c.version(), cv);
  EXPECT_EQ(c.to_vector<float>(), std::vector<float>(12, 0));
}

// A destination whose layout maps several indices to one element (an expand()ed dim, or
// overlapping strides from raw::view) would be written by several threads at once, with a
// result that depends on their order. Every in-place entry point refuses it, naming the op
// and the destination's shape and strides, and leaves the data and version alone.
TEST(InPlace, OverlappingDestinationsAreRefusedByEveryEntryPoint) {
  Tensor row = from_vector<float>({1, 2, 3});
  Tensor expanded = row.unsqueeze(0).expand({5, 3});                       // strides [0,1]
  Tensor storage = arange(0.0, 10.0);
  Tensor overlapping = raw::view(storage, {3, 4}, {2, 1}, 0);             // row i starts inside row i-1
  const std::vector<std::pair<Tensor, std::string>> cases = {{expanded, "strides [0,1]"},
                                                             {overlapping, "strides [2,1]"}};
  for (const auto& [dst, strides] : cases) {
    SCOPED_TRACE(strides);
    const std::string shape = "shape " + shape_str(dst.shape());
    Tensor base = raw::view(dst, {int64_t(dst.storage()->nbytes() / 4)}, {1}, 0);  // the whole storage
    const std::vector<float> before = base.to_vector<float>();
    const uint64_t v0 = dst.version();
    Tensor d = dst;
    const Tensor src = ones(dst.shape());
    const std::vector<std::pair<const char*, std::function<void()>>> writes = {
        {"copy_", [&] { d.copy_(src); }},        {"fill_", [&] { d.fill_(7); }},
        {"zero_", [&] { d.zero_(); }},           {"add_", [&] { d.add_(src); }},
        {"add_", [&] { d.add_(1.0); }},          {"mul_", [&] { d.mul_(src); }},
        {"mul_", [&] { d.mul_(2.0); }},          {"copy", [&] { raw::copy(d, src); }},
        {"fill", [&] { raw::fill(d, 7); }},
    };
    for (const auto& [op, write] : writes) {
      SCOPED_TRACE(op);
      expect_error(write, {std::string(op) + ": ", shape, strides, "overlap"});
    }
    EXPECT_EQ(dst.version(), v0);
    EXPECT_EQ(base.to_vector<float>(), before);
  }
  // Reading such views is fine.
  EXPECT_EQ(expanded.sum().item<float>(), 30.0f);
  EXPECT_EQ(overlapping.contiguous().to_vector<float>(),
            (std::vector<float>{0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7}));
  Tensor sum = zeros({5, 3});
  sum.add_(expanded);  // an expanded source is fine too
  EXPECT_EQ(sum.to_vector<float>()[14], 3.0f);
}

TEST(InPlace, ViewsThatDoNotOverlapStayWritable) {
  // Stride 0 on a dim of size 1, a negative stride, a stepped slice, a transpose.
  Tensor a = zeros({6});
  raw::view(a, {1, 3}, {0, 1}, 0).fill_(1);
  raw::view(a, {3}, {-2}, 5).add_(from_vector<float>({10, 20, 30}));
  EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1, 31, 1, 20, 0, 10}));
  Tensor m = zeros({4, 4});
  m.slice(1, 0, 4, 2).t().copy_(ones({2, 4}));
  EXPECT_EQ(m.sum().item<float>(), 8.0f);
  // Interleaved strides, as raw::view can make: i*2 + j*3 reaches 0,3,2,5,4,7 (all distinct).
  Tensor s = zeros({8});
  raw::view(s, {3, 2}, {2, 3}, 0).fill_(1);
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{1, 0, 1, 1, 1, 1, 0, 1}));
  raw::copy(raw::view(s, {3, 2}, {2, 3}, 0), arange(0.0, 6.0).reshape({3, 2}));
  EXPECT_EQ(s.to_vector<float>(), (std::vector<float>{0, 0, 2, 1, 4, 3, 0, 5}));
  // Empty views write nothing, whatever their strides.
  raw::view(s, {0, 4}, {0, 0}, 0).fill_(9);
  EXPECT_EQ(s.to_vector<float>()[1], 0.0f);
}

// ---------------------------------------------------------------- raw views

TEST(RawView, ChecksBoundsOfTheStorage) {
  Tensor a = arange(6);
  EXPECT_EQ(raw::view(a, {2}, {1}, 4).to_vector<int64_t>(), (std::vector<int64_t>{4, 5}));
  EXPECT_EQ(raw::view(a, {2, 2}, {1, 2}, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 3, 2, 4}));
  EXPECT_EQ(raw::view(a, {3}, {-2}, 5).to_vector<int64_t>(), (std::vector<int64_t>{5, 3, 1}));  // negative stride
  EXPECT_EQ(raw::view(a, {0}, {1}, 100).numel(), 0);  // an empty view touches nothing
  expect_error([&] { raw::view(a, {7}, {1}, 0); }, {"view", "[7]", "[0,6]", "6 elements"});
  EXPECT_THROW(raw::view(a, {2}, {1}, 5), Error);     // reaches element 6
  EXPECT_THROW(raw::view(a, {3}, {-2}, 3), Error);    // reaches element -1
  EXPECT_THROW(raw::view(a, {2, 3}, {3, 1}, 1), Error);
  EXPECT_THROW(raw::view(a, {2}, {1, 1}, 0), Error);  // sizes and strides disagree
  Tensor v = raw::view(a, {2, 3}, {1, 2}, 0);
  EXPECT_EQ(v.storage(), a.storage());
  EXPECT_EQ(v.to_vector<int64_t>(), (std::vector<int64_t>{0, 2, 4, 1, 3, 5}));
}

// The bounds check adds (size-1)*stride per dim in int64 without checking for overflow:
// 4 * 2^62 wraps to 0, so a view whose element 1 lies 2^62 elements past a 6-element
// storage is accepted. Library bug: tensor/copy.cpp, raw::view(), `int64_t span =
// (shape[d] - 1) * strides[d]` (signed overflow; the view must be refused).
TEST(RawView, OverflowingStridesAreRefused) {
  Tensor a = arange(6);
  EXPECT_THROW(raw::view(a, {5}, {int64_t(1) << 62}, 0), Error);
  EXPECT_THROW(raw::view(a, {2, 5}, {1, int64_t(1) << 62}, 0), Error);
}

// ---------------------------------------------------------------- devices

TEST(Devices, CudaCopyFailsWithoutAGpu) {
  if (cuda_built() && cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  Tensor x = from_vector<float>({1, 2, 3});
  EXPECT_THROW(x.to(Device::cuda()), Error);
  EXPECT_THROW(empty({2}, {.device = Device::cuda()}), Error);
  EXPECT_THROW(zeros({2}, {.device = Device::cuda(1)}), Error);
  if (!cuda_built()) {
    EXPECT_EQ(cuda_device_count(), 0);
    expect_error([&] { x.to(Device::cuda()); }, {"without CUDA"});
  }
  EXPECT_TRUE(x.to(Device::cpu()).is_same(x));  // same device: no copy
}

TEST(Devices, CudaRoundTripPreservesValues) {
  HONE_REQUIRE_CUDA();
  Tensor x = arange(0.0, 12.0, 1.0).reshape({3, 4});
  Tensor g = x.to(Device::cuda());
  EXPECT_EQ(g.device(), Device::cuda(0));
  EXPECT_EQ(g.shape(), x.shape());
  Tensor back = g.to(Device::cpu());
  EXPECT_EQ(back.device(), Device::cpu());
  EXPECT_EQ(back.to_vector<float>(), x.to_vector<float>());
  EXPECT_EQ(g.to_vector<float>(), x.to_vector<float>());  // element access copies from the GPU
  EXPECT_EQ(g.at<float>({2, 1}), 9.0f);
  // Strided and converting copies on the device.
  Tensor gt = x.t().to(Device::cuda());
  EXPECT_EQ(gt.to(Device::cpu()).to_vector<float>(), x.t().to_vector<float>());
  EXPECT_EQ(g.t().contiguous().to(Device::cpu()).to_vector<float>(), x.t().to_vector<float>());
  EXPECT_EQ(g.to(DType::Float16).to(Device::cpu()).to_vector<float>(), x.to_vector<float>());
  Tensor z = zeros({2, 2}, {.device = Device::cuda()});
  z.fill_(3.5);
  EXPECT_EQ(z.to_vector<float>(), std::vector<float>(4, 3.5f));
  EXPECT_NE(g.str().find("device=cuda:0"), std::string::npos) << g.str();
}

}  // namespace
}  // namespace hone

namespace hone {
namespace {

// Pinned memory needs the CUDA driver: where there is none, asking for it is a hone::Error
// naming pin_memory (never a silent pageable copy); ordinary tensors are not pinned, and a
// non_blocking move within the CPU is no move at all. gpu_check covers the pinned path itself.
TEST(PinnedMemory, WithoutAGpuItIsAClearError) {
  Tensor x = ones({3, 4});
  EXPECT_FALSE(x.is_pinned());
  EXPECT_TRUE(x.to(Device::cpu(), /*non_blocking=*/true).is_same(x));
  if (cuda_device_count() > 0) GTEST_SKIP() << "a GPU is present: gpu_check covers pinned memory";
  const std::string why = cuda_built() ? "no CUDA device or driver" : "built without CUDA";
  test::expect_error([&] { x.pin_memory(); }, {"pin_memory", why});
  test::expect_error([&] { empty({2}, {.pin_memory = true}); }, {"pin_memory", why});
}

TEST(PinnedMemory, OnlyCpuTensorsArePinned) {
  test::expect_error([] { empty({2}, {.device = Device::cuda(), .pin_memory = true}); },
                     {"empty: pin_memory is for CPU tensors", "cuda:0"});
}

}  // namespace
}  // namespace hone
