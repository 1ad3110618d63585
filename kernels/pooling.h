#pragma once
// The pooling family's contract: the geometry, its one validation, and the argument
// structs every pooling kernel takes.
#include <cstdint>

#include "kernels/host_device.h"
#include "tensor/dtype.h"

namespace hone::kernels {

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

// Throws hone::Error naming `op` and the offending values unless `g` is a legal pooling:
// positive kernel/stride/dilation, 0 <= pad <= kernel/2 on every side (PyTorch's rule),
// a non-empty output, and (for max pool) every window touching at least one input pixel.
void validate_pool2d(const Pool2dGeometry& g, const char* op);

// The window arithmetic shared by the CPU and CUDA kernels (and the validation above):
// inline and __host__ __device__, so there is one definition of each.

HONE_HOST_DEVICE inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// The taps start, start+d, ..., start+(k-1)*d that fall inside [0, size): the first one
// and one past the last reachable position (a loop over them steps by d).
struct TapRange {
  int64_t begin, end;
};
HONE_HOST_DEVICE inline TapRange in_image_taps(int64_t start, int64_t k, int64_t d, int64_t size) {
  const int64_t begin = start < 0 ? start + (-start + d - 1) / d * d : start;
  const int64_t last = start + (k - 1) * d + 1;
  return {begin, last < size ? last : size};
}

// An average-pool window (undilated) of output o along one dim: its part inside the image,
// and its length inside the padded input (the count_include_pad divisor, PyTorch's
// `pool_size`; ceil_mode windows may reach past the padding).
struct AvgWindow {
  int64_t begin, end, padded_len;
};
HONE_HOST_DEVICE inline AvgWindow avg_window(int64_t o, int64_t k, int64_t s, int64_t pad_before, int64_t pad_after,
                                             int64_t size) {
  const int64_t start = o * s - pad_before;
  const int64_t stop = start + k < size + pad_after ? start + k : size + pad_after;
  return {start > 0 ? start : 0, stop < size ? stop : size, stop - start};
}

}  // namespace hone::kernels
