#pragma once
// 2-D pooling on contiguous NCHW tensors: max (with the argmax of each window, for
// backward), average, and adaptive average (a window per output chosen to tile the input).
// Padding is per side, as ONNX `pads` may be asymmetric. Sizes, divisors and tie-breaking
// follow PyTorch exactly, so pretrained models and their test vectors carry over.
// `*_reference` are naive loops straight from the definitions, for the tests.
// The op validates the geometry once (validate_pool2d); the kernels assume it valid.
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

// Output length along one dim: floor (or ceil) of (in + pads - dilation*(k-1) - 1) / stride,
// plus 1. With ceil_mode the last window must still start inside the input or the leading
// padding (PyTorch's rule), so a window never lies wholly in the trailing padding.
// Returns <= 0 when the padded input is shorter than one (dilated) window.
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before, int64_t pad_after,
                         int64_t dilation, bool ceil_mode);

struct Pool2dGeometry {
  int64_t n, c, h, w;  // input [n, c, h, w]; output [n, c, out_h(), out_w()]
  int64_t kh, kw;
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  int64_t dilation_h = 1, dilation_w = 1;  // max pool only; average pool requires 1
  bool ceil_mode = false;

  int64_t out_h() const { return pool_output_size(h, kh, stride_h, pad_top, pad_bottom, dilation_h, ceil_mode); }
  int64_t out_w() const { return pool_output_size(w, kw, stride_w, pad_left, pad_right, dilation_w, ceil_mode); }
};

// Throws hone::Error naming `op` and the offending values unless `g` is a legal pooling:
// positive kernel/stride/dilation, 0 <= pad <= kernel/2 on every side (PyTorch's rule),
// a non-empty output, and (for max pool) every window touching at least one input pixel.
void validate_pool2d(const Pool2dGeometry& g, const char* op);

struct MaxPool2dForwardArgs {
  Pool2dGeometry g;
  DType dtype;  // float32 or float64
  const void* input;
  void* output;      // [n, c, out_h, out_w]
  int64_t* indices;  // [n, c, out_h, out_w]: iy * w + ix of each window's maximum in its plane
};

struct MaxPool2dBackwardArgs {
  Pool2dGeometry g;
  DType dtype;
  const void* grad_output;  // [n, c, out_h, out_w]
  const int64_t* indices;   // as the forward wrote them
  void* grad_input;         // [n, c, h, w], overwritten
};

struct AvgPool2dForwardArgs {
  Pool2dGeometry g;
  DType dtype;
  bool count_include_pad = true;  // divide by the window clipped to the padded input, or by its in-image part
  const void* input;
  void* output;
};

struct AvgPool2dBackwardArgs {
  Pool2dGeometry g;
  DType dtype;
  bool count_include_pad = true;
  const void* grad_output;
  void* grad_input;  // overwritten
};

struct AdaptiveAvgPool2dForwardArgs {
  int64_t n, c, h, w, out_h, out_w;
  DType dtype;
  const void* input;
  void* output;  // [n, c, out_h, out_w]; output i averages rows [floor(i*h/out_h), ceil((i+1)*h/out_h))
};

struct AdaptiveAvgPool2dBackwardArgs {
  int64_t n, c, h, w, out_h, out_w;
  DType dtype;
  const void* grad_output;
  void* grad_input;  // overwritten
};

void max_pool2d_forward(const MaxPool2dForwardArgs& args, const Exec& exec);
void max_pool2d_backward(const MaxPool2dBackwardArgs& args, const Exec& exec);
void avg_pool2d_forward(const AvgPool2dForwardArgs& args, const Exec& exec);
void avg_pool2d_backward(const AvgPool2dBackwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& args, const Exec& exec);

void max_pool2d_reference(const MaxPool2dForwardArgs& args);
void avg_pool2d_reference(const AvgPool2dForwardArgs& args);
void adaptive_avg_pool2d_reference(const AdaptiveAvgPool2dForwardArgs& args);

}  // namespace hone::kernels::cpu
