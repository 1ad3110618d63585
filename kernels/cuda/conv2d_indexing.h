#pragma once
// The address arithmetic of conv2d as implicit GEMM (issue 13), in __host__ __device__
// functions: the CUDA kernels use them on the device, and tests/conv2d_indexing_test.cpp runs
// a plain-loop GEMM through them on the CPU for every geometry the CPU tests cover and every
// distinct ResNet-18 / VGG-16 layer, against the reference convolution. So the part of a
// kernel most likely to be wrong (which input element a GEMM index reads, where the padding
// is, what a tile covers) is tested on every machine, GPU or not.
//
// The three products, per group g (each a GEMM C[M, N] = A[M, K] B[K, N]):
//   forward:         M = n*out_h*out_w (output pixels), N = c_out/groups, K = c_in/groups*kh*kw
//                    A[m, k] = x at (pixel m, tap k) or 0 in the padding; B[k, co] = W[co, k]
//   backward data:   M = n*h*w (input pixels),         N = c_in/groups,  K = c_out/groups*kh*kw
//                    A[m, k] = dY at the output pixel that tap k of input pixel m came from,
//                    or 0 where no output pixel did (stride, padding); B[k, ci] = W[co, ci, tap]
//   backward weight: M = c_out/groups,                 N = c_in/groups*kh*kw, K = n*out_h*out_w
//                    A[co, k] = dY[pixel k, co]; B[k, r] = x at (pixel k, tap r) or 0
// Offsets are element offsets into contiguous NCHW tensors; -1 means "reads zero".
#include <cstdint>

#include "kernels/conv2d.h"
#include "kernels/host_device.h"

namespace hone::kernels::cuda {

struct ConvIndexing {
  // The geometry, copied into plain fields a kernel can take by value.
  int64_t n, c_in, h, w, c_out, kh, kw, sh, sw, pt, pl, dh, dw, groups, oh, ow;

  static ConvIndexing of(const Conv2dGeometry& g) {
    return {g.n,        g.c_in,      g.h,        g.w,          g.c_out,      g.kh,     g.kw,     g.stride_h,
            g.stride_w, g.pad_top,   g.pad_left, g.dilation_h, g.dilation_w, g.groups, g.out_h(), g.out_w()};
  }
  HONE_HOST_DEVICE int64_t cig() const { return c_in / groups; }
  HONE_HOST_DEVICE int64_t cog() const { return c_out / groups; }
  HONE_HOST_DEVICE int64_t taps() const { return kh * kw; }

  // ---- forward: A[m, k] with m an output pixel, k = (ci, ky, kx) of group g ----
  HONE_HOST_DEVICE int64_t forward_m() const { return n * oh * ow; }
  HONE_HOST_DEVICE int64_t forward_k() const { return cig() * taps(); }
  // Offset of x read by output pixel m through tap k (group g), or -1 in the padding.
  HONE_HOST_DEVICE int64_t forward_input(int64_t g, int64_t m, int64_t k) const {
    const int64_t img = m / (oh * ow), oy = (m / ow) % oh, ox = m % ow;
    const int64_t ci = k / taps(), ky = (k / kw) % kh, kx = k % kw;
    const int64_t iy = oy * sh - pt + ky * dh, ix = ox * sw - pl + kx * dw;
    if (iy < 0 || iy >= h || ix < 0 || ix >= w) return -1;
    return ((img * c_in + g * cig() + ci) * h + iy) * w + ix;
  }
  // Offset of W[g*cog + co, k] (the weight is [c_out, cig*kh*kw] row-major).
  HONE_HOST_DEVICE int64_t weight(int64_t g, int64_t co, int64_t k) const { return (g * cog() + co) * forward_k() + k; }
  // Offset of the output element (pixel m, channel co of group g).
  HONE_HOST_DEVICE int64_t output(int64_t g, int64_t m, int64_t co) const {
    const int64_t img = m / (oh * ow), p = m % (oh * ow);
    return (img * c_out + g * cog() + co) * oh * ow + p;
  }

  // ---- backward data: A[m, k] with m an input pixel, k = (co, ky, kx) of group g ----
  HONE_HOST_DEVICE int64_t grad_input_m() const { return n * h * w; }
  HONE_HOST_DEVICE int64_t grad_input_k() const { return cog() * taps(); }
  // Offset of dY that tap (ky, kx) of channel co carried into input pixel m, or -1 when no
  // output pixel reached m through that tap (the stride skipped it, or it lies outside).
  HONE_HOST_DEVICE int64_t grad_input_source(int64_t g, int64_t m, int64_t k) const {
    const int64_t img = m / (h * w), iy = (m / w) % h, ix = m % w;
    const int64_t co = k / taps(), ky = (k / kw) % kh, kx = k % kw;
    const int64_t ty = iy + pt - ky * dh, tx = ix + pl - kx * dw;  // = oy * sh, ox * sw
    if (ty < 0 || tx < 0 || ty % sh != 0 || tx % sw != 0) return -1;
    const int64_t oy = ty / sh, ox = tx / sw;
    if (oy >= oh || ox >= ow) return -1;
    return ((img * c_out + g * cog() + co) * oh + oy) * ow + ox;
  }
  // Offset of W[g*cog + co, ci, ky, kx] for k = (co, ky, kx) and input channel ci of group g.
  HONE_HOST_DEVICE int64_t grad_input_weight(int64_t g, int64_t k, int64_t ci) const {
    const int64_t co = k / taps(), tap = k % taps();
    return ((g * cog() + co) * cig() + ci) * taps() + tap;
  }
  // Offset of dX at (input pixel m, channel ci of group g).
  HONE_HOST_DEVICE int64_t grad_input_output(int64_t g, int64_t m, int64_t ci) const {
    const int64_t img = m / (h * w), p = m % (h * w);
    return (img * c_in + g * cig() + ci) * h * w + p;
  }

  // ---- backward weight: dW[co, r] = sum over output pixels q of dY[q, co] * x(q, tap r) ----
  HONE_HOST_DEVICE int64_t grad_weight_k() const { return n * oh * ow; }
  // x through (pixel q, r = (ci, ky, kx)) is forward_input(g, q, r); dY at (q, co) is output(g, q, co).
};

// A thread block's tile of a GEMM: rows [m0, m1) and columns [n0, n1), clipped to the matrix.
struct Tile {
  int64_t m0, m1, n0, n1;
};
HONE_HOST_DEVICE inline int64_t tiles_along(int64_t extent, int64_t tile) { return (extent + tile - 1) / tile; }
// Block b of a grid laid out column-tile-major over an M x N matrix with tm x tn tiles.
HONE_HOST_DEVICE inline Tile tile_of(int64_t b, int64_t M, int64_t N, int64_t tm, int64_t tn) {
  const int64_t tiles_m = tiles_along(M, tm);
  const int64_t bm = b % tiles_m, bn = b / tiles_m;
  const int64_t m0 = bm * tm, n0 = bn * tn;
  return {m0, m0 + tm < M ? m0 + tm : M, n0, n0 + tn < N ? n0 + tn : N};
}

}  // namespace hone::kernels::cuda
