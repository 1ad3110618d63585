// Direct convolution (see conv2d_direct.h for the grid). This file alone is compiled with
// -mavx512f -mfma; conv2d.cpp calls it only when the CPU has them.
#include "kernels/cpu/conv2d_direct.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "tensor/error.h"
#include "tensor/parallel.h"

namespace hone::kernels::cpu::conv_direct {

namespace {

// Forward tile: 8 output channels x 48 grid positions, 24 zmm accumulators. Per (tap,
// input channel) step: three unaligned loads of the shifted grid row, eight broadcasts of
// packed weights, 24 FMAs.
constexpr int64_t MR = 8, NV = 3, NQ = 16 * NV;
// Weight-gradient tile: 6 (input channel, tap) rows x 64 output channels; per grid
// position four loads of dY^T, six broadcasts, 24 FMAs.
constexpr int64_t RB = 6, OB = 64;
constexpr int64_t kTapDepth = 288;  // taps x input channels per weight chunk (32 channels of 3x3)
constexpr int64_t kGradDepth = 128;  // grid positions per weight-gradient pass (dY^T block stays in L1)

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

// Scratch buffers kept per calling thread and reused from call to call: a fresh buffer of
// tens of MB costs a page fault and a kernel-zeroed page for every 4 KiB touched, which
// measured a quarter of a VGG-16 training step. Slots are fixed per use below (no two
// live buffers share one); contents are stale, every user writes before it reads. The
// memory is held until the thread ends (for a training loop: the largest layer's grids).
enum Slot { kInputGrid, kOutputGrid, kPackedWeights, kGradOutT, kGradWeightT, kSlots };
float* scratch(Slot slot, int64_t n) {
  thread_local std::unique_ptr<AlignedFloats> bufs[kSlots];
  thread_local int64_t sizes[kSlots] = {};
  if (sizes[slot] < n) {
    bufs[slot].reset();
    bufs[slot] = std::make_unique<AlignedFloats>(size_t(n));
    sizes[slot] = n;
  }
  return bufs[slot]->data();
}

struct Grid {
  int64_t n, c, h, w;  // the images copied in
  int64_t S, rows;     // row stride and rows per image (both include the shared padding)
  int64_t Q, Qp;       // grid positions; Qp rounded up to whole forward tiles
  int64_t lead;        // offset of position 0 in a channel (room for the top-left padding)
  int64_t cs;          // channel stride
  std::vector<int64_t> taps;  // offset of tap (ky, kx) from an output position
};

Grid make_grid(const Conv2dGeometry& g) {
  Grid gr;
  gr.n = g.n, gr.c = g.c_in, gr.h = g.h, gr.w = g.w;
  gr.S = g.w + std::max(g.pad_left, g.pad_right);
  gr.rows = g.h + std::max(g.pad_top, g.pad_bottom);
  gr.Q = g.n * gr.rows * gr.S;
  gr.Qp = round_up(gr.Q, NQ);
  gr.lead = round_up(g.pad_top * gr.S + g.pad_left, 16);
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx) gr.taps.push_back((ky - g.pad_top) * gr.S + (kx - g.pad_left));
  // Reads reach lead + Qp - 1 + the largest tap offset. A channel stride of an odd number
  // of cache lines keeps successive channels out of each other's L1 sets.
  gr.cs = round_up(gr.lead + gr.Qp + std::max<int64_t>(gr.taps.back(), 0), 16);
  if ((gr.cs / 16) % 2 == 0) gr.cs += 16;
  return gr;
}

// x [n, c, h, w] -> grid, zeros everywhere else.
void to_grid(const Grid& gr, const float* x, float* out) {
  parallel_for(gr.c, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      float* dst = out + c * gr.cs;
      float* p = dst + gr.lead;
      std::memset(dst, 0, size_t(gr.lead) * 4);
      for (int64_t n = 0; n < gr.n; ++n) {
        const float* src = x + (n * gr.c + c) * gr.h * gr.w;
        for (int64_t y = 0; y < gr.h; ++y, p += gr.S) {
          std::memcpy(p, src + y * gr.w, size_t(gr.w) * 4);
          std::memset(p + gr.w, 0, size_t(gr.S - gr.w) * 4);
        }
        std::memset(p, 0, size_t((gr.rows - gr.h) * gr.S) * 4);
        p += (gr.rows - gr.h) * gr.S;
      }
      std::memset(p, 0, size_t(dst + gr.cs - p) * 4);
    }
  });
}

// Weights packed for the forward tile: for each block of MR output channels, for each
// chunk of input channels, [tap][channel in chunk][MR]. Rows past c_out are zero.
template <typename Weight>
void pack_weights(int64_t c_out, int64_t c_in, int64_t T, int64_t chunk, Weight weight, float* ap) {
  const int64_t blocks = round_up(c_out, MR) / MR;
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c0 = 0; c0 < c_in; c0 += chunk) {
        const int64_t cc = std::min(chunk, c_in - c0);
        float* dst = ap + b * c_in * T * MR + c0 * T * MR;
        for (int64_t i = 0; i < cc; ++i)  // reads: MR short runs of taps (both callers)
          for (int64_t t = 0; t < T; ++t)
            for (int64_t r = 0; r < MR; ++r) {
              const int64_t o = b * MR + r;
              dst[(t * cc + i) * MR + r] = o < c_out ? weight(o, c0 + i, t) : 0.0f;
            }
      }
  });
}

void forward_tile(int64_t cc, int64_t T, const int64_t* taps, const float* b, int64_t cs, const float* a, float* c,
                  int64_t ldc, bool accumulate) {
  __m512 acc[MR][NV];
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t v = 0; v < NV; ++v)
      acc[r][v] = accumulate ? _mm512_loadu_ps(c + r * ldc + 16 * v) : _mm512_setzero_ps();
  for (int64_t t = 0; t < T; ++t) {
    const float* bt = b + taps[t];
    for (int64_t i = 0; i < cc; ++i, bt += cs, a += MR) {
      __m512 bv[NV];
#pragma GCC unroll 3
      for (int64_t v = 0; v < NV; ++v) bv[v] = _mm512_loadu_ps(bt + 16 * v);
#pragma GCC unroll 8
      for (int64_t r = 0; r < MR; ++r) {
        const __m512 av = _mm512_set1_ps(a[r]);
#pragma GCC unroll 3
        for (int64_t v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
    }
  }
  for (int64_t r = 0; r < MR; ++r)
    for (int64_t v = 0; v < NV; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
}

// y = conv(x) (+ bias) for geometry g, with weights already packed by pack_weights.
void run_forward(const Conv2dGeometry& g, const float* x, const float* ap, int64_t chunk, const float* bias, float* y) {
  const Grid gr = make_grid(g);
  const int64_t T = g.kh * g.kw, OCp = round_up(g.c_out, MR), oh = g.out_h(), ow = g.out_w();
  HONE_CHECK(oh <= gr.rows && ow <= gr.S, "conv2d (direct): geometry outside the grid");
  float* xg = scratch(kInputGrid, g.c_in * gr.cs);
  float* out = scratch(kOutputGrid, OCp * gr.Qp);
  to_grid(gr, x, xg);

  // Work items: blocks of up to 8 tiles x groups of output-channel blocks, enough items
  // for every thread. Each item runs all input chunks for its outputs, so every output
  // is summed in the same order whatever the split.
  const int64_t tiles = gr.Qp / NQ, per_block = std::min<int64_t>(tiles, 8), qblocks = (tiles + per_block - 1) / per_block;
  const int64_t oblocks = OCp / MR, threads = Context::current().thread_pool().size();
  int64_t groups = 1;
  while (qblocks * groups < 4 * threads && groups * 2 <= oblocks) groups *= 2;
  const int64_t per_group = (oblocks + groups - 1) / groups;
  parallel_for(qblocks * groups, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t qb = item / groups, og = item % groups;
      const int64_t ob0 = og * per_group, ob1 = std::min(oblocks, ob0 + per_group);
      const int64_t t0 = qb * per_block, t1 = std::min(tiles, t0 + per_block);
      for (int64_t c0 = 0; c0 < g.c_in; c0 += chunk) {
        const int64_t cc = std::min(chunk, g.c_in - c0);
        const float* b = xg + c0 * gr.cs + gr.lead;
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t ob = ob0; ob < ob1; ++ob)
            forward_tile(cc, T, gr.taps.data(), b + t * NQ, gr.cs, ap + (ob * g.c_in + c0) * T * MR,
                         out + ob * MR * gr.Qp + t * NQ, gr.Qp, c0 > 0);
      }
    }
  });
  // Grid -> NCHW, adding the bias.
  parallel_for(g.n * g.c_out, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / g.c_out, o = i % g.c_out;
      const float bv = bias ? bias[o] : 0.0f;
      const float* src = out + o * gr.Qp + n * gr.rows * gr.S;
      float* dst = y + i * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) dst[oy * ow + ox] = src[oy * gr.S + ox] + bv;
    }
  });
}

int64_t chunk_for(int64_t c_in, int64_t T) { return std::clamp<int64_t>(kTapDepth / T, 1, c_in); }

void grad_weight_tile(int64_t k, const float* const* rows, int64_t q0, const float* d, int64_t ldd, float* c, int64_t ldc,
                      int64_t nrows, bool accumulate) {
  __m512 acc[RB][4];
  for (int64_t r = 0; r < RB; ++r)
    for (int64_t v = 0; v < 4; ++v) acc[r][v] = _mm512_setzero_ps();
  const float* x[RB];
  for (int64_t r = 0; r < RB; ++r) x[r] = rows[r] + q0;
  for (int64_t p = 0; p < k; ++p, d += ldd) {
    __m512 dv[4];
#pragma GCC unroll 4
    for (int64_t v = 0; v < 4; ++v) dv[v] = _mm512_load_ps(d + 16 * v);
#pragma GCC unroll 6
    for (int64_t r = 0; r < RB; ++r) {
      const __m512 xv = _mm512_set1_ps(x[r][p]);
#pragma GCC unroll 4
      for (int64_t v = 0; v < 4; ++v) acc[r][v] = _mm512_fmadd_ps(xv, dv[v], acc[r][v]);
    }
  }
  for (int64_t r = 0; r < nrows; ++r)
    for (int64_t v = 0; v < 4; ++v) {
      float* dst = c + r * ldc + 16 * v;
      _mm512_storeu_ps(dst, accumulate ? _mm512_add_ps(_mm512_loadu_ps(dst), acc[r][v]) : acc[r][v]);
    }
}

}  // namespace

bool geometry_supported(const Conv2dGeometry& g) {
  return g.groups == 1 && g.stride_h == 1 && g.stride_w == 1 && g.dilation_h == 1 && g.dilation_w == 1 &&
         g.pad_top < g.kh && g.pad_bottom < g.kh && g.pad_left < g.kw && g.pad_right < g.kw && g.n > 0;
}

void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t T = g.kh * g.kw, chunk = chunk_for(g.c_in, T);
  float* ap = scratch(kPackedWeights, round_up(g.c_out, MR) * g.c_in * T);
  pack_weights(g.c_out, g.c_in, T, chunk, [&](int64_t o, int64_t i, int64_t t) { return w[(o * g.c_in + i) * T + t]; },
               ap);
  run_forward(g, x, ap, chunk, bias, y);
}

// dX = conv(dY) with W'[ci, co, tap] = W[co, ci, flipped tap] and padding k-1-p per side:
// its output is exactly h x w.
void grad_input(const Conv2dGeometry& g, const float* w, const float* dy, float* dx) {
  Conv2dGeometry t = g;
  t.c_in = g.c_out, t.c_out = g.c_in, t.h = g.out_h(), t.w = g.out_w();
  t.pad_top = g.kh - 1 - g.pad_top, t.pad_bottom = g.kh - 1 - g.pad_bottom;
  t.pad_left = g.kw - 1 - g.pad_left, t.pad_right = g.kw - 1 - g.pad_right;
  const int64_t T = g.kh * g.kw, chunk = chunk_for(t.c_in, T);
  float* ap = scratch(kPackedWeights, round_up(t.c_out, MR) * t.c_in * T);
  pack_weights(t.c_out, t.c_in, T, chunk,
               [&](int64_t o, int64_t i, int64_t tap) { return w[(i * g.c_in + o) * T + (T - 1 - tap)]; }, ap);
  run_forward(t, dy, ap, chunk, nullptr, dx);
}

void grad_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw) {
  const Grid gr = make_grid(g);
  const int64_t T = g.kh * g.kw, OCp = round_up(g.c_out, OB), oh = g.out_h(), ow = g.out_w();
  float* xg = scratch(kInputGrid, g.c_in * gr.cs);
  float* dyt = scratch(kGradOutT, gr.Qp * OCp);
  to_grid(gr, x, xg);
  // dY^T on the output grid: [position, channel], zero at positions that are no pixel.
  parallel_for(gr.Qp, 64, [&](int64_t q0, int64_t q1) {
    std::memset(dyt + q0 * OCp, 0, size_t((q1 - q0) * OCp) * 4);
  });
  parallel_for(g.n * oh, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / oh, oy = i % oh;
      float* dst = dyt + (n * gr.rows * gr.S + oy * gr.S) * OCp;
      for (int64_t o = 0; o < g.c_out; ++o) {
        const float* src = dy + ((n * g.c_out + o) * oh + oy) * ow;
        for (int64_t ox = 0; ox < ow; ++ox) dst[ox * OCp + o] = src[ox];
      }
    }
  });
  // Rows (input channel, tap), each a shifted grid row; the last block is padded with
  // copies of row 0 whose results are not stored.
  const int64_t R = g.c_in * T, blocks = (R + RB - 1) / RB;
  std::vector<const float*> rows(size_t(blocks * RB));
  for (int64_t r = 0; r < blocks * RB; ++r) {
    const int64_t rr = r < R ? r : 0;
    rows[size_t(r)] = xg + (rr / T) * gr.cs + gr.lead + gr.taps[size_t(rr % T)];
  }
  float* dwt = scratch(kGradWeightT, blocks * RB * OCp);
  parallel_for(blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t q0 = 0; q0 < gr.Qp; q0 += kGradDepth) {
      const int64_t k = std::min(kGradDepth, gr.Qp - q0);
      for (int64_t oc = 0; oc < OCp; oc += OB)
        for (int64_t b = b0; b < b1; ++b)
          grad_weight_tile(k, rows.data() + b * RB, q0, dyt + q0 * OCp + oc, OCp, dwt + b * RB * OCp + oc,
                           OCp, std::min(RB, R - b * RB), q0 > 0);
    }
  });
  // dW[co, r] = dW^T[r, co], in 16 x 64 blocks so both sides stay in cache.
  parallel_for((g.c_out + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t o0 = b0 * 16; o0 < std::min(g.c_out, b1 * 16); o0 += 16)
      for (int64_t r0 = 0; r0 < R; r0 += 64)
        for (int64_t o = o0; o < std::min(g.c_out, o0 + 16); ++o)
          for (int64_t r = r0; r < std::min(R, r0 + 64); ++r) dw[o * R + r] = dwt[r * OCp + o];
  });
}

}  // namespace hone::kernels::cpu::conv_direct
