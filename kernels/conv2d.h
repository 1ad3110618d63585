#pragma once
// conv2d's contract: the geometry, the lowering choice and the argument structs every
// conv2d kernel (CPU today; CUDA and vendor ones to come) takes. validate_conv2d is the
// one check of a geometry, run by the op before anything is allocated.
#include <cstdint>

#include "kernels/cpu/isa.h"
#include "tensor/dtype.h"

namespace hone::kernels {

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
//   Blocked:    the channel-blocked tiles (cpu/conv2d_blocked.h): operands converted to
//               blocks of 16 (AVX-512) or 8 (AVX2) channels and back per call. Same limits
//               as Direct; the input gradient of a strided conv falls back to Direct.
//   Auto picks by shape and CPU.
enum class Conv2dAlgorithm { Auto, Columns, Transposed, Direct, Blocked };

struct Conv2dForwardArgs {
  Conv2dGeometry g;
  DType dtype;  // float32 or float64
  const void* input;
  const void* weight;
  const void* bias;  // [c_out] or nullptr
  void* output;      // [n, c_out, out_h, out_w]
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;
  cpu::CpuIsa isa = cpu::CpuIsa::Auto;  // CPU: the direct kernel's instruction set (tests run each)
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
  Conv2dAlgorithm algorithm = Conv2dAlgorithm::Auto;  // Direct, Blocked or Columns (Transposed: Columns)
  cpu::CpuIsa isa = cpu::CpuIsa::Auto;  // CPU: the direct kernel's instruction set (tests run each)
};

// Throws a hone::Error naming `op` unless g is a convolution the kernels can run: sizes
// positive (n may be 0), stride/dilation >= 1, padding >= 0, all below 2^31, groups
// dividing both channel counts, a non-empty output that fits the memory budget.
void validate_conv2d(const Conv2dGeometry& g, const char* op);

}  // namespace hone::kernels
