// conv2d's one validation of a geometry (kernels/conv2d.h).
#include "kernels/conv2d.h"

#include <climits>

#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::kernels {

void validate_conv2d(const Conv2dGeometry& g, const char* op) {
  HONE_CHECK(g.n >= 0 && g.c_in > 0 && g.h > 0 && g.w > 0 && g.c_out > 0 && g.kh > 0 && g.kw > 0, op,
             ": bad sizes (n=", g.n, " c_in=", g.c_in, " h=", g.h, " w=", g.w, " c_out=", g.c_out, " kernel ", g.kh,
             "x", g.kw, ")");
  HONE_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0, op,
             ": stride and dilation must be positive, got stride ", g.stride_h, "x", g.stride_w, " and dilation ",
             g.dilation_h, "x", g.dilation_w);
  HONE_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, op,
             ": padding must be non-negative, got top=", g.pad_top, " left=", g.pad_left, " bottom=", g.pad_bottom,
             " right=", g.pad_right);
  constexpr int64_t kMax = INT32_MAX;  // beyond int32 (as PyTorch stores them) the size arithmetic overflows
  HONE_CHECK(g.kh <= kMax && g.kw <= kMax && g.stride_h <= kMax && g.stride_w <= kMax && g.dilation_h <= kMax &&
                 g.dilation_w <= kMax && g.pad_top <= kMax && g.pad_left <= kMax && g.pad_bottom <= kMax &&
                 g.pad_right <= kMax && g.h <= kMax && g.w <= kMax,
             op, ": kernel, stride, dilation, padding and input sizes are limited to 2^31-1");
  HONE_CHECK(g.groups > 0 && g.c_in % g.groups == 0 && g.c_out % g.groups == 0, op, ": groups=", g.groups,
             " must divide c_in=", g.c_in, " and c_out=", g.c_out);
  HONE_CHECK(g.out_h() > 0 && g.out_w() > 0, op, ": input ", g.h, "x", g.w, " is too small for kernel ", g.kh, "x",
             g.kw, " with stride ", g.stride_h, "x", g.stride_w, ", dilation ", g.dilation_h, "x", g.dilation_w,
             " and pads top=", g.pad_top, " left=", g.pad_left, " bottom=", g.pad_bottom, " right=", g.pad_right,
             " (output would be ", g.out_h(), "x", g.out_w(), ")");
  // One image's output and its unfolded columns must fit before any of it is touched.
  check_memory_budget({g.c_out, g.out_h(), g.out_w()}, sizeof(double), op);
  check_memory_budget({g.c_in / g.groups, g.kh, g.kw, g.out_h(), g.out_w()}, sizeof(double), op);
}

}  // namespace hone::kernels
