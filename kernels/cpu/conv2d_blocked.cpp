// conv2d on NCHW tensors through the blocked kernels (conv2d_blocked.h).
#include "kernels/cpu/conv2d_blocked.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/nchwc.h"

namespace hone::kernels::cpu::conv_blocked {

namespace {
int64_t max_pad(const Conv2dGeometry& g) { return std::max({g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}); }

// A strided conv's input gradient, split by output phase. dx pixel (s*i + p) (one axis;
// the other is alike) takes exactly the taps k = r + s*j with r = (p + pad) mod s, reading
// dy at i + q - j (q = (p + pad) div s): per phase, a stride-1 conv of dy with the sub-
// kernel of those taps (flipped, as in the stride-1 case), starting nk - 1 - q rows before
// i, its outputs written s apart. A phase without taps (a stride above the kernel size)
// leaves zeros.
struct Phase {
  int64_t r, taps, pad, out;  // first tap, tap count, the sub-conv's pad, dx pixels in the phase
};
Phase phase(int64_t p, int64_t s, int64_t k, int64_t pad, int64_t size) {
  const int64_t r = (p + pad) % s, q = (p + pad) / s;
  const int64_t taps = r < k ? (k - r + s - 1) / s : 0;
  return {r, taps, taps - 1 - q, p < size ? (size - p + s - 1) / s : 0};
}
// How far past dy's edge (rows out_size..) or before it a phase reads.
int64_t phase_border(const Phase& ph, int64_t dy_size) {
  if (ph.taps == 0 || ph.out == 0) return 0;
  return std::max<int64_t>({0, ph.pad, (ph.out - 1 - ph.pad + ph.taps - 1) - (dy_size - 1)});
}
}  // namespace

bool supported(const Conv2dGeometry& g, CpuIsa isa) {
  // The direct kernel's geometries: one group, no dilation, each pad below the kernel size
  // (so the input gradient's padding k - 1 - p is not negative).
  if (!conv_direct::geometry_supported(g)) return false;
  if (isa != CpuIsa::Auto && isa != CpuIsa::Avx512 && isa != CpuIsa::Avx2) return false;
  if (isa != CpuIsa::Auto && !cpu_isa_supported(isa)) return false;
  return nchwc::lanes(isa) > 0;
}

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
  if (!dx && !dw) return;
  const int64_t oh = g.out_h(), ow = g.out_w();
  const bool unit_stride = g.stride_h == 1 && g.stride_w == 1;
  // dx: with stride 1, a conv of dy padded by k - 1 - p on each side; else one per phase.
  std::vector<Phase> rows, cols;  // the phases along each axis (strided dx only)
  int64_t dy_border = 0;
  if (dx && unit_stride) {
    dy_border = std::max({g.kh - 1 - g.pad_top, g.kh - 1 - g.pad_bottom, g.kw - 1 - g.pad_left, g.kw - 1 - g.pad_right});
  } else if (dx) {
    for (int64_t py = 0; py < g.stride_h; ++py) rows.push_back(phase(py, g.stride_h, g.kh, g.pad_top, g.h));
    for (int64_t px = 0; px < g.stride_w; ++px) cols.push_back(phase(px, g.stride_w, g.kw, g.pad_left, g.w));
    for (const Phase& f : rows) dy_border = std::max(dy_border, phase_border(f, oh));
    for (const Phase& f : cols) dy_border = std::max(dy_border, phase_border(f, ow));
  }
  const nchwc::Layout dyl{.n = g.n, .c = g.c_out, .h = oh, .w = ow, .lanes = B, .border = dy_border};
  AlignedFloats dyb(size_t(dyl.size()));
  nchwc::to_blocked(dy, dyl, dyb.data(), exec);
  if (dw) {
    const nchwc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = nchwc::grad_weight_lanes(g.c_in, isa),
                           .border = max_pad(g)};
    AlignedFloats xb(size_t(xl.size()));
    nchwc::to_blocked(x, xl, xb.data(), exec);
    nchwc::conv_grad_weight({.g = g, .x = xb.data(), .xl = xl, .dy = dyb.data(), .dyl = dyl, .dw = dw}, exec, isa);
  }
  if (!dx) return;
  const nchwc::Layout dxl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = B, .border = 0};
  AlignedFloats dxb(size_t(dxl.size()));
  if (unit_stride) {
    const Conv2dGeometry gt{.n = g.n, .c_in = g.c_out, .h = oh, .w = ow, .c_out = g.c_in, .kh = g.kh, .kw = g.kw,
                            .pad_top = g.kh - 1 - g.pad_top, .pad_left = g.kw - 1 - g.pad_left,
                            .pad_bottom = g.kh - 1 - g.pad_bottom, .pad_right = g.kw - 1 - g.pad_right};
    const nchwc::PackedConv packed = nchwc::pack_conv_transposed(w, g.c_out, g.c_in, g.kh, g.kw, isa, exec);
    nchwc::conv({.g = gt, .x = dyb.data(), .xl = dyl, .w = &packed, .y = dxb.data(), .yl = dxl}, exec, isa);
  } else {
    // A phase with no taps along either axis: its pixels stay zero.
    const auto no_taps = [](const Phase& f) { return f.taps == 0; };
    if (std::any_of(rows.begin(), rows.end(), no_taps) || std::any_of(cols.begin(), cols.end(), no_taps))
      std::fill(dxb.data(), dxb.data() + dxl.size(), 0.0f);
    std::vector<float> sub;
    for (int64_t py = 0; py < g.stride_h; ++py)
      for (int64_t px = 0; px < g.stride_w; ++px) {
        const Phase &fy = rows[size_t(py)], &fx = cols[size_t(px)];
        if (fy.taps == 0 || fx.taps == 0 || fy.out == 0 || fx.out == 0) continue;
        // The phase's taps of w, [c_out][c_in][fy.taps][fx.taps] in w's order.
        sub.resize(size_t(g.c_out * g.c_in * fy.taps * fx.taps));
        float* d = sub.data();
        for (int64_t oc = 0; oc < g.c_out * g.c_in; ++oc)
          for (int64_t j = 0; j < fy.taps; ++j)
            for (int64_t l = 0; l < fx.taps; ++l)
              *d++ = w[(oc * g.kh + fy.r + j * g.stride_h) * g.kw + fx.r + l * g.stride_w];
        const nchwc::PackedConv packed = nchwc::pack_conv_transposed(sub.data(), g.c_out, g.c_in, fy.taps, fx.taps, isa, exec);
        const Conv2dGeometry gp{.n = g.n, .c_in = g.c_out, .h = oh, .w = ow, .c_out = g.c_in, .kh = fy.taps, .kw = fx.taps,
                                .pad_top = fy.pad, .pad_left = fx.pad};
        nchwc::conv({.g = gp, .x = dyb.data(), .xl = dyl, .w = &packed, .y = dxb.data(), .yl = dxl, .out_h = fy.out,
                     .out_w = fx.out, .y_step_h = g.stride_h, .y_step_w = g.stride_w, .y_off_h = py, .y_off_w = px},
                    exec, isa);
      }
  }
  nchwc::from_blocked(dxb.data(), dxl, dx, exec);
}

}  // namespace hone::kernels::cpu::conv_blocked
