#pragma once
// Differentiable 2-D pooling on [N, C, H, W] tensors (CPU for now): max, average,
// adaptive average and global average. Sizes, divisors and tie-breaking follow PyTorch,
// with per-side padding so ONNX MaxPool/AveragePool `pads` map over directly.
#include <array>
#include <cstdint>

#include "autograd/ops/padding.h"
#include "tensor/tensor.h"

namespace hone {

struct Pool2dOptions {
  std::array<int64_t, 2> kernel;
  std::array<int64_t, 2> stride{0, 0};           // 0 in a dim = that dim's kernel size (PyTorch's default)
  Padding2d padding;                             // 1, {h, w} or {top, left, bottom, right}; each below the kernel (dilated: at most kernel/2)
  std::array<int64_t, 2> dilation{1, 1};         // max pool only
  bool ceil_mode = false;                        // round the output size up (last window may overhang)
  bool count_include_pad = true;                 // avg pool: padding counts in the divisor
};

struct MaxPoolResult {
  Tensor values;   // [N, C, OH, OW]
  Tensor indices;  // int64 [N, C, OH, OW]: iy * W + ix of each maximum within its input plane
};

// Padded positions never win; ties keep the first maximum in row-major window order; NaN
// propagates. Backward routes each output gradient to its maximum and saves only indices.
MaxPoolResult max_pool2d_with_indices(const Tensor& x, const Pool2dOptions& opts);
Tensor max_pool2d(const Tensor& x, const Pool2dOptions& opts);
// Each output is its window's sum divided by the window clipped to the padded input
// (count_include_pad) or by the number of input pixels in it.
Tensor avg_pool2d(const Tensor& x, const Pool2dOptions& opts);
// Output (i, j) averages rows [floor(i*H/OH), ceil((i+1)*H/OH)) and the same for columns.
Tensor adaptive_avg_pool2d(const Tensor& x, std::array<int64_t, 2> out_size);
// adaptive_avg_pool2d to 1x1: [N, C, 1, 1], the mean of each plane (ResNet's last pool).
Tensor global_avg_pool2d(const Tensor& x);

}  // namespace hone
