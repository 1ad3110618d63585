// The implicit-GEMM address map of the CUDA conv2d kernels (kernels/cuda/conv2d_indexing.h),
// run on the CPU on awkward geometries (conv2d_indexing_check.h); every distinct ResNet-18 /
// VGG-16 layer is in tests/slow/conv2d_indexing_layers_test.cpp. Runs on every machine.
#include <algorithm>
#include <array>
#include <vector>

#include "conv2d_indexing_check.h"

namespace hone {
namespace {

using kernels::Conv2dGeometry;
using test::check_geometry;

TEST(Conv2dIndexing, ImplicitGemmMatchesTheReferenceOnAwkwardGeometries) {
  const std::vector<Conv2dGeometry> cases{
      {.n = 2, .c_in = 3, .h = 7, .w = 6, .c_out = 4, .kh = 3, .kw = 3},
      {.n = 1, .c_in = 4, .h = 9, .w = 8, .c_out = 6, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 3, .pad_top = 1,
       .pad_left = 0, .pad_bottom = 2, .pad_right = 1},
      {.n = 2, .c_in = 6, .h = 8, .w = 8, .c_out = 4, .kh = 3, .kw = 3, .pad_top = 2, .pad_left = 2, .pad_bottom = 2,
       .pad_right = 2, .dilation_h = 2, .dilation_w = 3, .groups = 2},
      {.n = 1, .c_in = 6, .h = 5, .w = 5, .c_out = 9, .kh = 1, .kw = 1, .stride_h = 2, .stride_w = 2, .groups = 3},
      {.n = 3, .c_in = 2, .h = 2, .w = 3, .c_out = 2, .kh = 4, .kw = 4, .pad_top = 2, .pad_left = 1, .pad_bottom = 1,
       .pad_right = 2},  // kernel larger than the image
      {.n = 1, .c_in = 1, .h = 11, .w = 1, .c_out = 1, .kh = 5, .kw = 1, .stride_h = 3, .pad_top = 3, .pad_bottom = 1},
  };
  for (const auto& g : cases) check_geometry(g);
}

TEST(Conv2dIndexing, TilesCoverTheMatrixOnceAndStayInside) {
  for (auto [M, N, tm, tn] : std::vector<std::array<int64_t, 4>>{{1, 1, 64, 64}, {100, 37, 64, 32}, {128, 64, 64, 64},
                                                                  {129, 65, 128, 64}, {6272, 512, 128, 128}}) {
    std::vector<int> seen(size_t(M * N), 0);
    const int64_t blocks = kernels::cuda::tiles_along(M, tm) * kernels::cuda::tiles_along(N, tn);
    for (int64_t b = 0; b < blocks; ++b) {
      const kernels::cuda::Tile t = kernels::cuda::tile_of(b, M, N, tm, tn);
      ASSERT_TRUE(t.m0 < t.m1 && t.m1 <= M && t.n0 < t.n1 && t.n1 <= N);
      for (int64_t i = t.m0; i < t.m1; ++i)
        for (int64_t j = t.n0; j < t.n1; ++j) ++seen[size_t(i * N + j)];
    }
    EXPECT_TRUE(std::all_of(seen.begin(), seen.end(), [](int c) { return c == 1; })) << M << "x" << N;
  }
}

}  // namespace
}  // namespace hone
