#pragma once
// 2-D convolution on contiguous NCHW tensors (cross-correlation, as PyTorch and ONNX).
// Padding is per side (ONNX `pads` may be asymmetric); groups split channels.
// float32 runs one of three lowerings (Conv2dAlgorithm below): two im2col + GEMM forms
// (conv2d_im2col.cpp) and a direct register-blocked kernel (conv2d_direct.h); Auto picks
// by shape and CPU (conv2d_auto_algorithm). float64 runs im2col with plain-loop products.
// `*_reference` are the naive seven-loop definitions every lowering is tested against
// (conv2d_reference.cpp).
//
// Contract (as every op family's, docs/adding-an-op.md): the op validates the geometry
// once (validate_conv2d) before it allocates anything; the kernels assume it valid.
#include <cstdint>

#include "kernels/cpu/isa.h"
#include "kernels/exec.h"
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

// Throws a hone::Error naming `op` unless g is a convolution the kernels can run: sizes
// positive (n may be 0), stride/dilation >= 1, padding >= 0, all below 2^31, groups
// dividing both channel counts, a non-empty output that fits the memory budget.
void validate_conv2d(const Conv2dGeometry& g, const char* op);

// What Auto runs for this geometry on this CPU (forward, or both gradients).
Conv2dAlgorithm conv2d_auto_algorithm(const Conv2dGeometry& g, bool backward);

// Whether `Direct` can run this geometry (float32) on this CPU, with `isa` (Auto: the
// widest this CPU has).
bool conv2d_direct_supported(const Conv2dGeometry& g, CpuIsa isa = CpuIsa::Auto);

struct Conv2dForwardArgs {
  Conv2dGeometry g;
  DType dtype;  // float32 or float64
  const void* input;
  const void* weight;
  const void* bias;  // [c_out] or nullptr
  void* output;      // [n, c_out, out_h, out_w]
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;
  CpuIsa isa = CpuIsa::Auto;  // the direct kernel's instruction set (tests run each)
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
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;  // Direct or Columns (Transposed: Columns)
  CpuIsa isa = CpuIsa::Auto;  // the direct kernel's instruction set (tests run each)
};

void conv2d_forward(const Conv2dForwardArgs& args, const Exec& exec);
void conv2d_backward(const Conv2dBackwardArgs& args, const Exec& exec);
void conv2d_forward_reference(const Conv2dForwardArgs& args);
void conv2d_backward_reference(const Conv2dBackwardArgs& args);

}  // namespace hone::kernels::cpu
