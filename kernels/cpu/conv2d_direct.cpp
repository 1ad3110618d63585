// Direct convolution (see conv2d_direct.h for the grid). Plain C++ built with the default
// flags: the register-blocked tiles come from conv2d_direct_avx512.cpp / _avx2.cpp, chosen
// at run time (conv2d_direct_tiles.h).
#include "kernels/cpu/conv2d_direct.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/conv2d_direct_tiles.h"
#include "kernels/cpu/gemm.h"
#include "tensor/error.h"

namespace hone::kernels::cpu::conv_direct {

const std::vector<CpuIsa>& isas() {
  static const std::vector<CpuIsa> supported = [] {  // the CPU does not change: ask once
    std::vector<CpuIsa> out;
    for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2})
      if (cpu_isa_supported(isa)) out.push_back(isa);
    return out;
  }();
  return supported;
}

namespace {

constexpr int64_t kTapDepth = 288;  // taps x input channels per weight chunk (32 channels of 3x3)
constexpr int64_t kGradDepth = 128;  // grid positions per weight-gradient pass (dY^T block stays in L1)
constexpr int64_t kItemPositions = 384;  // grid positions per forward work item

Tiles tiles_for(CpuIsa isa) {
  if (isa == CpuIsa::Auto) {
    HONE_CHECK(!isas().empty(), "conv2d (direct): this CPU has neither AVX-512 nor AVX2+FMA");
    isa = isas().front();
  }
  HONE_CHECK(isa == CpuIsa::Avx512 || isa == CpuIsa::Avx2, "conv2d (direct): no kernel for ISA ", cpu_isa_name(isa));
  HONE_CHECK(cpu_isa_supported(isa), "conv2d (direct): this CPU cannot run ", cpu_isa_name(isa));
  return isa == CpuIsa::Avx512 ? avx512_tiles() : avx2_tiles();
}

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }

int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// A stride (sh, sw) conv reads its input as sh x sw phases: phase (py, px) holds pixels
// (sh*y + py, sw*x + px), and each tap reads one phase with a stride-1 shift. The grid
// holds every phase of every channel (grid channel (py*sw + px)*c + ch), each phase laid
// out as described in conv2d_direct.h with room for shifts dy in [-pad_y, reach_y] rows and
// dx in [-pad_x, reach_x] columns around an out_h x out_w output.
struct Grid {
  int64_t n, c, h, w, sh, sw;  // source images, stride
  int64_t S, rows;             // row stride and rows per image, shared by all phases
  int64_t Q, Qp;               // grid positions; Qp rounded up to whole forward tiles
  int64_t lead;                // offset of position 0 in a channel
  int64_t cs;                  // channel stride
  int64_t phases() const { return sh * sw; }
  int64_t phase_h(int64_t py) const { return ceil_div(h - py, sh); }
  int64_t phase_w(int64_t px) const { return ceil_div(w - px, sw); }
};

struct Shifts {
  int64_t y_min = 0, y_max = 0, x_min = 0, x_max = 0;
  void add(int64_t dy, int64_t dx) {
    y_min = std::min(y_min, dy), y_max = std::max(y_max, dy), x_min = std::min(x_min, dx), x_max = std::max(x_max, dx);
  }
};

Grid make_grid(int64_t n, int64_t c, int64_t h, int64_t w, int64_t sh, int64_t sw, const Shifts& d, int64_t out_h,
               int64_t out_w, int64_t nq) {
  Grid gr;
  gr.n = n, gr.c = c, gr.h = h, gr.w = w, gr.sh = sh, gr.sw = sw;
  // Negative shifts land in the zero columns (rows) that end the previous row (image);
  // positive ones must stay inside the row (image).
  gr.S = std::max(ceil_div(w, sw) - d.x_min, out_w + d.x_max);
  gr.rows = std::max(ceil_div(h, sh) - d.y_min, out_h + d.y_max);
  gr.Q = n * gr.rows * gr.S;
  gr.Qp = round_up(gr.Q, nq);
  gr.lead = round_up(-d.y_min * gr.S - d.x_min, 16);
  // Reads reach lead + Qp - 1 + the largest shift. A channel stride of an odd number of
  // cache lines keeps successive channels out of each other's L1 sets.
  gr.cs = round_up(gr.lead + gr.Qp + std::max<int64_t>(d.y_max * gr.S + d.x_max, 0), 16);
  if ((gr.cs / 16) % 2 == 0) gr.cs += 16;
  return gr;
}

// One tap: where it reads in the grid relative to an output position (phase block
// included) and which kernel position (ky*kw + kx) it weighs with.
struct Tap {
  int64_t offset, index;
};

// The forward conv's grid over x and its taps, in kernel order.
struct ForwardPlan {
  Grid grid;
  std::vector<Tap> taps;
  std::vector<bool> phase_used;
};

ForwardPlan forward_plan(const Conv2dGeometry& g, int64_t nq) {
  Shifts d;
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx)
      d.add(floor_div(ky - g.pad_top, g.stride_h), floor_div(kx - g.pad_left, g.stride_w));
  ForwardPlan plan;
  plan.grid = make_grid(g.n, g.c_in, g.h, g.w, g.stride_h, g.stride_w, d, g.out_h(), g.out_w(), nq);
  const Grid& gr = plan.grid;
  plan.phase_used.assign(size_t(gr.phases()), false);
  for (int64_t ky = 0; ky < g.kh; ++ky)
    for (int64_t kx = 0; kx < g.kw; ++kx) {
      const int64_t a = ky - g.pad_top, b = kx - g.pad_left;
      const int64_t phase = (a - floor_div(a, g.stride_h) * g.stride_h) * g.stride_w + (b - floor_div(b, g.stride_w) * g.stride_w);
      plan.phase_used[size_t(phase)] = true;
      plan.taps.push_back({phase * gr.c * gr.cs + floor_div(a, g.stride_h) * gr.S + floor_div(b, g.stride_w), ky * g.kw + kx});
    }
  return plan;
}

// x [n, c, h, w] -> grid (the phases in use), zeros everywhere else.
void to_grid(const Exec& exec, const Grid& gr, const std::vector<bool>& phase_used, const float* x, float* out) {
  parallel_for(exec, gr.phases() * gr.c, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t phase = i / gr.c, c = i % gr.c, py = phase / gr.sw, px = phase % gr.sw;
      if (!phase_used[size_t(phase)]) continue;
      const int64_t ph = gr.phase_h(py), pw = gr.phase_w(px);
      float* dst = out + i * gr.cs;
      float* p = dst + gr.lead;
      std::memset(dst, 0, size_t(gr.lead) * 4);
      for (int64_t n = 0; n < gr.n; ++n) {
        const float* src = x + (n * gr.c + c) * gr.h * gr.w + py * gr.w + px;
        for (int64_t y = 0; y < ph; ++y, p += gr.S) {
          const float* row = src + y * gr.sh * gr.w;
          if (gr.sw == 1) {
            std::memcpy(p, row, size_t(pw) * 4);
          } else {
            for (int64_t x = 0; x < pw; ++x) p[x] = row[x * gr.sw];
          }
          std::memset(p + pw, 0, size_t(gr.S - pw) * 4);
        }
        std::memset(p, 0, size_t((gr.rows - ph) * gr.S) * 4);
        p += (gr.rows - ph) * gr.S;
      }
      std::memset(p, 0, size_t(dst + gr.cs - p) * 4);
    }
  });
}

// Weights packed for the forward tile: for each block of MR output channels, for each
// chunk of input channels, [tap][channel in chunk][MR], taps in the plan's order. Rows
// past c_out are zero. weight(o, i, index) gives W for kernel position `index`.
template <typename Weight>
void pack_weights(const Exec& exec, int64_t MR, int64_t c_out, int64_t c_in, const std::vector<Tap>& taps, int64_t chunk, Weight weight,
                  float* ap) {
  const int64_t blocks = round_up(c_out, MR) / MR, T = int64_t(taps.size());
  parallel_for(exec, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c0 = 0; c0 < c_in; c0 += chunk) {
        const int64_t cc = std::min(chunk, c_in - c0);
        float* dst = ap + b * c_in * T * MR + c0 * T * MR;
        for (int64_t i = 0; i < cc; ++i)  // reads: MR short runs of taps (all callers)
          for (int64_t t = 0; t < T; ++t)
            for (int64_t r = 0; r < MR; ++r) {
              const int64_t o = b * MR + r;
              dst[(t * cc + i) * MR + r] = o < c_out ? weight(o, c0 + i, taps[size_t(t)].index) : 0.0f;
            }
      }
  });
}

// Where output (n, o, oy, ox) goes: base[n*image + o*channel + oy*row + ox*col].
struct OutMap {
  float* base;
  int64_t image, channel, row, col;
};

// out = sum over taps and input channels of packed W x shifted grid rows, for c_out
// channels and an out_h x out_w output on the grid (+ bias), written through `to`.
void run_taps(const Exec& exec, const Tiles& k, const Grid& gr, const float* xg, const std::vector<Tap>& taps, int64_t c_in, int64_t c_out, const float* ap,
              int64_t chunk, const float* bias, int64_t out_h, int64_t out_w, const OutMap& to) {
  HONE_CHECK(out_h <= gr.rows && out_w <= gr.S, "conv2d (direct): output outside the grid");
  const int64_t T = int64_t(taps.size()), MR = k.mr, NQ = k.nq, OCp = round_up(c_out, MR);
  std::vector<int64_t> offsets(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) offsets[size_t(t)] = taps[size_t(t)].offset;
  AlignedFloats out_grid(size_t(OCp * gr.Qp));
  float* out = out_grid.data();

  // Work items: blocks of up to kItemPositions positions x groups of output-channel blocks, enough items
  // for every thread. Each item runs all input chunks for its outputs, so every output
  // is summed in the same order whatever the split.
  const int64_t tiles = gr.Qp / NQ, per_block = std::min<int64_t>(tiles, kItemPositions / NQ), qblocks = (tiles + per_block - 1) / per_block;
  const int64_t oblocks = OCp / MR, threads = exec.threads();
  int64_t groups = 1;
  while (qblocks * groups < 4 * threads && groups * 2 <= oblocks) groups *= 2;
  const int64_t per_group = (oblocks + groups - 1) / groups;
  parallel_for(exec, qblocks * groups, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t item = i0; item < i1; ++item) {
      const int64_t qb = item / groups, og = item % groups;
      const int64_t ob0 = og * per_group, ob1 = std::min(oblocks, ob0 + per_group);
      const int64_t t0 = qb * per_block, t1 = std::min(tiles, t0 + per_block);
      for (int64_t c0 = 0; c0 < c_in; c0 += chunk) {
        const int64_t cc = std::min(chunk, c_in - c0);
        const float* b = xg + c0 * gr.cs + gr.lead;
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t ob = ob0; ob < ob1; ++ob)
            k.forward(cc, T, offsets.data(), b + t * NQ, gr.cs, ap + (ob * c_in + c0) * T * MR,
                         out + ob * MR * gr.Qp + t * NQ, gr.Qp, c0 > 0);
      }
    }
  });
  // Grid -> destination, adding the bias.
  parallel_for(exec, gr.n * c_out, 4, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / c_out, o = i % c_out;
      const float bv = bias ? bias[o] : 0.0f;
      const float* src = out + o * gr.Qp + n * gr.rows * gr.S;
      float* dst = to.base + n * to.image + o * to.channel;
      for (int64_t oy = 0; oy < out_h; ++oy) {
        float* line = dst + oy * to.row;
        const float* from = src + oy * gr.S;
        if (to.col == 1) {
          for (int64_t ox = 0; ox < out_w; ++ox) line[ox] = from[ox] + bv;
        } else {
          for (int64_t ox = 0; ox < out_w; ++ox) line[ox * to.col] = from[ox] + bv;
        }
      }
    }
  });
}

int64_t chunk_for(int64_t c_in, int64_t T) { return std::clamp<int64_t>(kTapDepth / std::max<int64_t>(T, 1), 1, c_in); }

}  // namespace

bool geometry_supported(const Conv2dGeometry& g) {
  return g.groups == 1 && g.dilation_h == 1 && g.dilation_w == 1 && g.pad_top < g.kh && g.pad_bottom < g.kh &&
         g.pad_left < g.kw && g.pad_right < g.kw && g.n > 0;
}


double grid_utilisation(const Conv2dGeometry& g, CpuIsa isa) {
  const Grid gr = forward_plan(g, tiles_for(isa).nq).grid;
  return double(g.out_h() * g.out_w()) / double(gr.rows * gr.S);
}

void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y, const Exec& exec,
             CpuIsa isa) {
  const Tiles k = tiles_for(isa);
  const int64_t MR = k.mr;
  const ForwardPlan plan = forward_plan(g, k.nq);
  const Grid& gr = plan.grid;
  const int64_t T = g.kh * g.kw, chunk = chunk_for(g.c_in, T);
  AlignedFloats grid(size_t(gr.phases() * g.c_in * gr.cs)), packed(size_t(round_up(g.c_out, MR) * g.c_in * T));
  float *xg = grid.data(), *ap = packed.data();
  to_grid(exec, gr, plan.phase_used, x, xg);
  pack_weights(exec, MR, g.c_out, g.c_in, plan.taps, chunk,
               [&](int64_t o, int64_t i, int64_t tap) { return w[(o * g.c_in + i) * T + tap]; }, ap);
  const int64_t oh = g.out_h(), ow = g.out_w();
  run_taps(exec, k, gr, xg, plan.taps, g.c_in, g.c_out, ap, chunk, bias, oh, ow,
           {.base = y, .image = g.c_out * oh * ow, .channel = oh * ow, .row = ow, .col = 1});
}

// dX[ci, sh*y + py, sw*x + px] = sum over co and the taps (ky, kx) with ky = py + pad_top
// (mod sh), kx likewise, of W[co, ci, ky, kx] * dY[co, y + (py + pad_top - ky)/sh, ...]:
// for each phase of dX, a stride-1 run of the forward kernel over dY's grid with the
// kernel's channel axes swapped. Phases no tap reaches (stride > kernel) are zero.
void grad_input(const Conv2dGeometry& g, const float* w, const float* dy, float* dx, const Exec& exec, CpuIsa isa) {
  const Tiles k = tiles_for(isa);
  const int64_t MR = k.mr;
  const int64_t oh = g.out_h(), ow = g.out_w(), T = g.kh * g.kw, sh = g.stride_h, sw = g.stride_w;
  struct Shift { int64_t dy, dx, index; };
  std::vector<std::vector<Shift>> phase_taps(size_t(sh * sw));
  Shifts d;
  for (int64_t py = 0; py < sh; ++py)
    for (int64_t px = 0; px < sw; ++px)
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const int64_t a = py + g.pad_top - ky, b = px + g.pad_left - kx;
          if (a - floor_div(a, sh) * sh != 0 || b - floor_div(b, sw) * sw != 0) continue;
          phase_taps[size_t(py * sw + px)].push_back({a / sh, b / sw, ky * g.kw + kx});
          d.add(a / sh, b / sw);
        }
  const Grid gr = make_grid(g.n, g.c_out, oh, ow, 1, 1, d, ceil_div(g.h, sh), ceil_div(g.w, sw), k.nq);
  AlignedFloats grid(size_t(g.c_out * gr.cs)), packed(size_t(round_up(g.c_in, MR) * g.c_out * T));
  float *dyg = grid.data(), *ap = packed.data();
  to_grid(exec, gr, {true}, dy, dyg);
  for (int64_t py = 0; py < sh; ++py)
    for (int64_t px = 0; px < sw; ++px) {
      const int64_t ph = ceil_div(g.h - py, sh), pw = ceil_div(g.w - px, sw);
      if (ph <= 0 || pw <= 0) continue;
      const OutMap to{.base = dx + py * g.w + px, .image = g.c_in * g.h * g.w, .channel = g.h * g.w, .row = sh * g.w, .col = sw};
      const std::vector<Shift>& shifts = phase_taps[size_t(py * sw + px)];
      if (shifts.empty()) {
        parallel_for(exec, g.n * g.c_in, 4, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i)
            for (int64_t y = 0; y < ph; ++y)
              for (int64_t x = 0; x < pw; ++x) to.base[(i / g.c_in) * to.image + (i % g.c_in) * to.channel + y * to.row + x * to.col] = 0.0f;
        });
        continue;
      }
      std::vector<Tap> taps;
      for (const Shift& sh_ : shifts) taps.push_back({sh_.dy * gr.S + sh_.dx, sh_.index});
      const int64_t Tp = int64_t(taps.size()), pchunk = chunk_for(g.c_out, Tp);
      pack_weights(exec, MR, g.c_in, g.c_out, taps, pchunk, [&](int64_t o, int64_t i, int64_t tap) { return w[(i * g.c_in + o) * T + tap]; },
                   ap);
      run_taps(exec, k, gr, dyg, taps, g.c_out, g.c_in, ap, pchunk, nullptr, ph, pw, to);
    }
}

void grad_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, const Exec& exec, CpuIsa isa) {
  const Tiles k = tiles_for(isa);
  const int64_t RB = k.rb, OB = k.ob;
  const ForwardPlan plan = forward_plan(g, k.nq);
  const Grid& gr = plan.grid;
  const int64_t T = g.kh * g.kw, OCp = round_up(g.c_out, OB), oh = g.out_h(), ow = g.out_w();
  AlignedFloats grid(size_t(gr.phases() * g.c_in * gr.cs)), grad_t(size_t(gr.Qp * OCp));
  float *xg = grid.data(), *dyt = grad_t.data();
  to_grid(exec, gr, plan.phase_used, x, xg);
  // dY^T on the output grid: [position, channel], zero at positions that are no pixel.
  parallel_for(exec, gr.Qp, 64, [&](int64_t q0, int64_t q1) {
    std::memset(dyt + q0 * OCp, 0, size_t((q1 - q0) * OCp) * 4);
  });
  parallel_for(exec, g.n * oh, 1, [&](int64_t i0, int64_t i1) {
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
    rows[size_t(r)] = xg + (rr / T) * gr.cs + gr.lead + plan.taps[size_t(rr % T)].offset;
  }
  AlignedFloats grad_wt(size_t(blocks * RB * OCp));
  float* dwt = grad_wt.data();
  parallel_for(exec, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t q0 = 0; q0 < gr.Qp; q0 += kGradDepth) {
      const int64_t depth = std::min(kGradDepth, gr.Qp - q0);
      for (int64_t oc = 0; oc < OCp; oc += OB)
        for (int64_t b = b0; b < b1; ++b)
          k.grad_weight(depth, rows.data() + b * RB, q0, dyt + q0 * OCp + oc, OCp, dwt + b * RB * OCp + oc,
                           OCp, std::min(RB, R - b * RB), q0 > 0);
    }
  });
  // dW[co, r] = dW^T[r, co], in 16 x 64 blocks so both sides stay in cache.
  parallel_for(exec, (g.c_out + 15) / 16, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t o0 = b0 * 16; o0 < std::min(g.c_out, b1 * 16); o0 += 16)
      for (int64_t r0 = 0; r0 < R; r0 += 64)
        for (int64_t o = o0; o < std::min(g.c_out, o0 + 16); ++o)
          for (int64_t r = r0; r < std::min(R, r0 + 64); ++r) dw[o * R + r] = dwt[r * OCp + o];
  });
}

}  // namespace hone::kernels::cpu::conv_direct
