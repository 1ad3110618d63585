// The CUDA conv2d address map (kernels/cuda/conv2d_indexing.h) against the reference
// convolution on every distinct ResNet-18 / VGG-16 conv at batch 2, real channel counts,
// spatial size cut to at most 9 (the border behaviour of stride and padding stays; the
// plain loops stay at seconds). Slow: a few seconds in release, minutes under sanitizers.
#include <algorithm>
#include <vector>

#include "conv2d_indexing_check.h"

namespace hone {
namespace {

TEST(Conv2dIndexing, ImplicitGemmMatchesTheReferenceOnEveryResNet18AndVgg16Layer) {
  struct Layer { int64_t cin, cout, k, s, p, hw; };
  const std::vector<Layer> layers{
      {3, 64, 7, 2, 3, 224},   {64, 64, 3, 1, 1, 56},    {64, 128, 3, 2, 1, 56},  {64, 128, 1, 2, 0, 56},
      {128, 128, 3, 1, 1, 28}, {128, 256, 3, 2, 1, 28},  {128, 256, 1, 2, 0, 28}, {256, 256, 3, 1, 1, 14},
      {256, 512, 3, 2, 1, 14}, {256, 512, 1, 2, 0, 14},  {512, 512, 3, 1, 1, 7},  // ResNet-18
      {3, 64, 3, 1, 1, 224},   {64, 128, 3, 1, 1, 112},  {128, 256, 3, 1, 1, 56}, {256, 512, 3, 1, 1, 28},  // VGG-16
  };
  for (const Layer& l : layers) {
    const int64_t hw = std::min<int64_t>(l.hw, 9);  // keeps stride/pad behaviour at the borders
    test::check_geometry({.n = 2, .c_in = l.cin, .h = hw, .w = hw, .c_out = l.cout, .kh = l.k, .kw = l.k, .stride_h = l.s,
                    .stride_w = l.s, .pad_top = l.p, .pad_left = l.p, .pad_bottom = l.p, .pad_right = l.p});
  }
}

}  // namespace
}  // namespace hone
