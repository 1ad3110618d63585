// conv2d on NCHW tensors through the blocked kernels (conv2d_blocked.h).
#include "kernels/cpu/conv2d_blocked.h"

#include <algorithm>

#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/nchwc.h"

namespace hone::kernels::cpu::conv_blocked {

namespace {
int64_t max_pad(const Conv2dGeometry& g) { return std::max({g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}); }
}  // namespace

bool supported(const Conv2dGeometry& g, CpuIsa isa) {
  // The direct kernel's geometries: one group, no dilation, each pad below the kernel size
  // (so the input gradient's padding k - 1 - p is not negative).
  if (!conv_direct::geometry_supported(g)) return false;
  if (isa != CpuIsa::Auto && isa != CpuIsa::Avx512 && isa != CpuIsa::Avx2) return false;
  if (isa != CpuIsa::Auto && !cpu_isa_supported(isa)) return false;
  return nchwc::lanes(isa) > 0;
}

bool grad_input_supported(const Conv2dGeometry& g) { return g.stride_h == 1 && g.stride_w == 1; }

void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y, const Exec& exec,
             CpuIsa isa) {
  const int64_t B = nchwc::lanes(isa);
  // An input of fewer channels than a block (an image) is read with its own few lanes.
  const nchwc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = g.c_in < B ? g.c_in : B,
                         .border = max_pad(g)};
  const nchwc::Layout yl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = 0};
  AlignedFloats xb(size_t(xl.size())), yb(size_t(yl.size()));
  nchwc::to_blocked(x, xl, xb.data(), exec);
  const nchwc::PackedConv packed = nchwc::pack_conv(w, bias, g.c_out, g.c_in, g.kh, g.kw, xl.lanes, isa, exec);
  nchwc::conv({.g = g, .x = xb.data(), .xl = xl, .w = &packed, .y = yb.data(), .yl = yl}, exec, isa);
  nchwc::from_blocked(yb.data(), yl, y, exec);
}

void backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
              const Exec& exec, CpuIsa isa) {
  const int64_t B = nchwc::lanes(isa);
  const bool with_dx = dx && grad_input_supported(g);
  if (!with_dx && !dw) return;
  // dx is a conv of dy padded by k - 1 - p on each side.
  const int64_t dy_border =
      with_dx ? std::max({g.kh - 1 - g.pad_top, g.kh - 1 - g.pad_bottom, g.kw - 1 - g.pad_left, g.kw - 1 - g.pad_right}) : 0;
  const nchwc::Layout dyl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = dy_border};
  AlignedFloats dyb(size_t(dyl.size()));
  nchwc::to_blocked(dy, dyl, dyb.data(), exec);
  if (dw) {
    const nchwc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = nchwc::grad_weight_lanes(g.c_in, isa),
                           .border = max_pad(g)};
    AlignedFloats xb(size_t(xl.size()));
    nchwc::to_blocked(x, xl, xb.data(), exec);
    nchwc::conv_grad_weight({.g = g, .x = xb.data(), .xl = xl, .dy = dyb.data(), .dyl = dyl, .dw = dw}, exec, isa);
  }
  if (with_dx) {
    const Conv2dGeometry gt{.n = g.n, .c_in = g.c_out, .h = dyl.h, .w = dyl.w, .c_out = g.c_in, .kh = g.kh, .kw = g.kw,
                            .pad_top = g.kh - 1 - g.pad_top, .pad_left = g.kw - 1 - g.pad_left,
                            .pad_bottom = g.kh - 1 - g.pad_bottom, .pad_right = g.kw - 1 - g.pad_right};
    const nchwc::PackedConv packed = nchwc::pack_conv_transposed(w, g.c_out, g.c_in, g.kh, g.kw, isa, exec);
    const nchwc::Layout dxl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = B, .border = 0};
    AlignedFloats dxb(size_t(dxl.size()));
    nchwc::conv({.g = gt, .x = dyb.data(), .xl = dyl, .w = &packed, .y = dxb.data(), .yl = dxl}, exec, isa);
    nchwc::from_blocked(dxb.data(), dxl, dx, exec);
  }
}

}  // namespace hone::kernels::cpu::conv_blocked
