#pragma once
// 2-D convolution on contiguous NCHW tensors (cross-correlation, as PyTorch and ONNX).
// Padding is per side (ONNX `pads` may be asymmetric); groups split channels.
// float32 runs one of three fast paths (Conv2dAlgorithm below: the im2col lowering to our
// GEMM, its transposed twin, or the direct register-blocked kernel; Auto picks by shape and
// CPU); `*_reference` are the naive seven-loop definitions they are all tested against.
#include <cstdint>

#include "kernels/cpu/gemm.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

struct Conv2dGeometry {
  int64_t n, c_in, h, w;  // input
  int64_t c_out, kh, kw;  // weight is [c_out, c_in / groups, kh, kw]
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;
  int64_t groups = 1;

  int64_t out_h() const { return (h + pad_top + pad_bottom - dilation_h * (kh - 1) - 1) / stride_h + 1; }
  int64_t out_w() const { return (w + pad_left + pad_right - dilation_w * (kw - 1) - 1) / stride_w + 1; }
};

// How the float32 forward lowers to GEMM (results agree to rounding; tests run both):
//   Columns:    out[co, pixel] = W x cols; C_out is the GEMM's M (best for many channels).
//   Transposed: out^T[pixel, co] = cols^T x W^T, then a transpose; pixels are the GEMM's M
//               (best for few output channels, e.g. ResNet's 64-channel stages).
//   Direct:     no columns matrix; a register-blocked kernel over a zero-padded copy of the
//               input (conv2d_direct.h). No dilation, one group, AVX-512 or AVX2 CPUs;
//               forward and both gradients.
//   Auto picks by shape and CPU.
enum class Conv2dAlgorithm { Auto, Columns, Transposed, Direct };

// Whether `Direct` can run this geometry (float32) on this CPU, with `isa` (Auto: the
// widest this CPU has).
bool conv2d_direct_supported(const Conv2dGeometry& g, GemmIsa isa = GemmIsa::Auto);

struct Conv2dForwardArgs {
  Conv2dGeometry g;
  DType dtype;  // float32 or float64
  const void* input;
  const void* weight;
  const void* bias;  // [c_out] or nullptr
  void* output;      // [n, c_out, out_h, out_w]
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;
  GemmIsa isa = GemmIsa::Auto;  // the direct kernel's instruction set (tests run each)
};

struct Conv2dBackwardArgs {
  Conv2dGeometry g;
  DType dtype;
  const void* input;
  const void* weight;
  const void* grad_output;
  void* grad_input;   // nullptr: not needed (e.g. the first layer, or a frozen stem)
  void* grad_weight;  // nullptr: not needed (frozen weights); else overwritten
  void* grad_bias;    // nullptr: not needed; else overwritten
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;  // Direct or an im2col lowering
  GemmIsa isa = GemmIsa::Auto;  // the direct kernel's instruction set (tests run each)
};

void conv2d_forward(const Conv2dForwardArgs& args);
void conv2d_backward(const Conv2dBackwardArgs& args);
void conv2d_forward_reference(const Conv2dForwardArgs& args);
void conv2d_backward_reference(const Conv2dBackwardArgs& args);

}  // namespace hone::kernels::cpu
