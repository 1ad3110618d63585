// The index arithmetic of the CUDA strided copy (tensor/strided_index.h), checked on the
// CPU: for many shapes and strides (permuted, sliced, gapped, flipped, broadcast), the
// offsets a thread computes from its linear index are the ones the CPU copy loop
// (StridedLayout::for_each_row) walks, in the same order; and a copy emulated with them
// equals raw::copy. The kernel itself (tensor/copy_cuda.cu) is compiled but runs only in
// gpu_check on a GPU machine.
#include <random>

#include "tensor/strided_index.h"
#include "test_util.h"

namespace hone {
namespace {

// Every (dst, src) offset pair the CPU loop visits, row-major.
std::vector<std::array<int64_t, 2>> cpu_loop_offsets(const StridedLayout<2>& layout) {
  std::vector<std::array<int64_t, 2>> out;
  layout.for_each_row(0, layout.num_rows(), [&](const auto& off, int64_t len, const auto& inner) {
    for (int64_t i = 0; i < len; ++i) out.push_back({off[0] + i * inner[0], off[1] + i * inner[1]});
  });
  return out;
}

TEST(StridedIndex, OffsetsAreTheCpuLoopsOnManyShapesAndStrides) {
  std::mt19937_64 rng(2026);
  auto pick = [&](int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); };
  int checked = 0;
  for (int trial = 0; trial < 2000; ++trial) {
    const int rank = int(pick(0, 7));
    std::vector<int64_t> shape(static_cast<size_t>(rank)), sd(shape.size()), ss(shape.size());
    for (int d = 0; d < rank; ++d) shape[size_t(d)] = pick(1, 4);
    // Destination: contiguous, then permuted; source: any mix of gaps, flips and broadcasts.
    int64_t step = 1;
    for (int d = rank - 1; d >= 0; --d) sd[size_t(d)] = step, step *= shape[size_t(d)];
    std::shuffle(sd.begin(), sd.end(), rng);
    for (int d = 0; d < rank; ++d) {
      const int64_t kind = pick(0, 3);
      ss[size_t(d)] = kind == 0 ? 0 : (kind == 1 ? 1 : -1) * pick(1, 40);
    }
    const StridedLayout<2> layout(shape, {sd, ss});
    StridedIndex<2> index;
    ASSERT_TRUE(make_strided_index(layout, index));
    const auto expected = cpu_loop_offsets(layout);
    ASSERT_EQ(index.numel, int64_t(expected.size()));
    for (int64_t i = 0; i < index.numel; ++i) {
      int64_t off[2];
      index.offsets(i, off);
      ASSERT_EQ(off[0], expected[size_t(i)][0]) << "trial " << trial << " element " << i;
      ASSERT_EQ(off[1], expected[size_t(i)][1]) << "trial " << trial << " element " << i;
      ++checked;
    }
  }
  EXPECT_GT(checked, 10000);
}

// The kernel's loop, run on the CPU over real views: the same values as raw::copy.
TEST(StridedIndex, AnEmulatedDeviceCopyEqualsRawCopy) {
  Generator g(4);
  const Tensor base = uniform({4, 5, 6}, -9, 9, {.dtype = DType::Float64}, &g);
  const std::vector<Tensor> sources{base.permute({2, 0, 1}), base.slice(1, 1, 5, 2).transpose(0, 2),
                                    base.narrow(2, 1, 1).expand({4, 5, 7}),
                                    raw::view(base, {6, 5}, {-1, 6}, 35)};  // flipped, with an offset
  for (const Tensor& src : sources) {
    SCOPED_TRACE(shape_str(src.shape()) + " strides " + shape_str(src.strides()));
    Tensor want = empty(src.shape(), {.dtype = DType::Float32});
    raw::copy(want, src);
    Tensor got = full(src.shape(), NAN, {.dtype = DType::Float32});
    StridedIndex<2> index;
    ASSERT_TRUE(make_strided_index(StridedLayout<2>(got.shape(), {got.strides(), raw::broadcast_strides(src, got.shape())}), index));
    float* d = got.data<float>();
    const double* s = src.data<double>();
    for (int64_t i = 0; i < index.numel; ++i) {
      int64_t off[2];
      index.offsets(i, off);
      d[off[0]] = cast_value<float>(s[off[1]]);
    }
    EXPECT_EQ(got.to_vector<float>(), want.to_vector<float>());
  }
}

TEST(StridedIndex, MoreDimsThanTheKernelTakesStayOnTheHost) {
  // 17 dims of size 2 with gaps between all of them: nothing merges.
  std::vector<int64_t> shape(17, 2), st(17);
  for (size_t d = 0; d < 17; ++d) st[d] = int64_t(1) << (2 * (16 - d));
  StridedIndex<2> index;
  EXPECT_FALSE(make_strided_index(StridedLayout<2>(shape, {st, st}), index));
  shape.pop_back(), st.pop_back();
  EXPECT_TRUE(make_strided_index(StridedLayout<2>(shape, {st, st}), index));
  EXPECT_EQ(index.ndim, kMaxStridedDims);
}

}  // namespace
}  // namespace hone
