#pragma once
// conv2d, the differentiable op (autograd/ops/conv2d.cpp). Its kernels' contract is
// kernels/conv2d.h; the CPU kernels are kernels/cpu/conv2d.h.
#include <array>

#include "autograd/ops/padding.h"
#include "tensor/tensor.h"

namespace hone {

// The attributes of a convolution (the layer's own settings are nn::Conv2dOptions; the
// names follow libtorch's Conv2dFuncOptions / Conv2dOptions split).
struct Conv2dFuncOptions {
  std::array<int64_t, 2> stride{1, 1};
  Padding2d padding;  // 1, {h, w} (both sides, as PyTorch) or {top, left, bottom, right} (ONNX)
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
};
// The same padding on both sides of each spatial dim (what Padding2d{h, w} means too).
inline Padding2d symmetric_padding(int64_t h, int64_t w) { return {h, w}; }

// input [N, C_in, H, W], weight [C_out, C_in / groups, KH, KW], bias [C_out] or undefined.
// Saves for backward only what a needed gradient uses: a frozen layer (weight and bias
// needing no grad) keeps no activation alive.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor(), const Conv2dFuncOptions& opts = {});

}  // namespace hone
