// The pooling contract's geometry: output sizes, the taps of a window inside the image,
// and the one validation the op runs.
#include "kernels/pooling.h"

#include <algorithm>
#include <climits>

#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::kernels {

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t stride, int64_t pad_before, int64_t pad_after,
                         int64_t dilation, bool ceil_mode) {
  if (kernel <= 0 || stride <= 0 || dilation <= 0) return 0;
  const int64_t span = in + pad_before + pad_after - dilation * (kernel - 1) - 1;
  int64_t out = floor_div(span + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad_before) --out;
  return out;
}

void validate_pool2d(const Pool2dGeometry& g, const char* op) {
  HONE_CHECK(g.n >= 0 && g.c >= 0 && g.h > 0 && g.w > 0, op, ": bad input sizes (n=", g.n, " c=", g.c, " h=", g.h,
             " w=", g.w, ")");
  HONE_CHECK(g.kh > 0 && g.kw > 0, op, ": kernel size must be positive, got ", g.kh, "x", g.kw);
  HONE_CHECK(g.stride_h > 0 && g.stride_w > 0, op, ": stride must be positive, got ", g.stride_h, "x", g.stride_w);
  HONE_CHECK(g.dilation_h > 0 && g.dilation_w > 0, op, ": dilation must be positive, got ", g.dilation_h, "x",
             g.dilation_w);
  HONE_CHECK(g.pad_top >= 0 && g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0, op,
             ": padding must be non-negative, got top=", g.pad_top, " left=", g.pad_left, " bottom=", g.pad_bottom,
             " right=", g.pad_right);
  // Attributes beyond int32 (as PyTorch stores them) would overflow the size arithmetic.
  constexpr int64_t kMax = INT32_MAX;
  HONE_CHECK(g.kh <= kMax && g.kw <= kMax && g.stride_h <= kMax && g.stride_w <= kMax && g.dilation_h <= kMax &&
                 g.dilation_w <= kMax && g.pad_top <= kMax && g.pad_left <= kMax && g.pad_bottom <= kMax &&
                 g.pad_right <= kMax && g.h <= kMax && g.w <= kMax,
             op, ": kernel, stride, dilation, padding and input sizes are limited to 2^31-1 (kernel ", g.kh, "x", g.kw,
             ", stride ", g.stride_h, "x", g.stride_w, ", dilation ", g.dilation_h, "x", g.dilation_w, ")");
  // Every window must reach at least one pixel. Undilated: each pad below the kernel size
  // (ONNX allows that much); dilated: PyTorch's rule, at most half the kernel.
  const bool undilated = g.dilation_h == 1 && g.dilation_w == 1;
  const int64_t max_h = undilated ? g.kh - 1 : g.kh / 2, max_w = undilated ? g.kw - 1 : g.kw / 2;
  HONE_CHECK(g.pad_top <= max_h && g.pad_bottom <= max_h && g.pad_left <= max_w && g.pad_right <= max_w, op,
             ": padding must be ", undilated ? "below the kernel size" : "at most half the kernel size (dilated)",
             ", got pads top=", g.pad_top, " left=", g.pad_left, " bottom=", g.pad_bottom, " right=", g.pad_right,
             " for kernel ", g.kh, "x", g.kw);
  const int64_t oh = g.out_h(), ow = g.out_w();
  HONE_CHECK(oh > 0 && ow > 0, op, ": input ", g.h, "x", g.w, " is too small for kernel ", g.kh, "x", g.kw,
             " with dilation ", g.dilation_h, "x", g.dilation_w, " and pads top=", g.pad_top, " left=", g.pad_left,
             " bottom=", g.pad_bottom, " right=", g.pad_right, " (output would be ", oh, "x", ow, ")");
  // The output must fit in memory before anything loops over its rows (max pool also
  // keeps an int64 index per output).
  check_memory_budget({g.n, g.c, oh, ow}, sizeof(int64_t), op);
  // With dilation a window's taps can straddle the image and all land in the padding.
  for (int64_t o = 0; o < oh; ++o) {
    const TapRange r = in_image_taps(o * g.stride_h - g.pad_top, g.kh, g.dilation_h, g.h);
    HONE_CHECK(r.begin < r.end, op, ": the window of output row ", o, " covers only padding (kernel ", g.kh,
               ", dilation ", g.dilation_h, ", pad_top ", g.pad_top, ", input height ", g.h, ")");
  }
  for (int64_t o = 0; o < ow; ++o) {
    const TapRange r = in_image_taps(o * g.stride_w - g.pad_left, g.kw, g.dilation_w, g.w);
    HONE_CHECK(r.begin < r.end, op, ": the window of output column ", o, " covers only padding (kernel ", g.kw,
               ", dilation ", g.dilation_w, ", pad_left ", g.pad_left, ", input width ", g.w, ")");
  }
}

}  // namespace hone::kernels
