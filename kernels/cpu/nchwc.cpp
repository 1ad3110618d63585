// The blocked kernels' drivers (nchwc.h): how a conv is split into work items and chunks,
// weight packing and the layout conversions. Plain C++ built with the default flags; the
// vector code is in nchwc_avx512.cpp / nchwc_avx2.cpp (nchwc_tiles.h).
#include "kernels/cpu/nchwc.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/nchwc_tiles.h"
#include "tensor/error.h"

namespace hone::kernels::cpu::nchwc {

namespace {

const Kernels* kernels_or_null(CpuIsa isa) {
  static const Kernels k512 = cpu_isa_supported(CpuIsa::Avx512) ? avx512_kernels() : Kernels{};
  static const Kernels k2 = cpu_isa_supported(CpuIsa::Avx2) ? avx2_kernels() : Kernels{};
  if (isa == CpuIsa::Auto) isa = cpu_isa_supported(CpuIsa::Avx512) ? CpuIsa::Avx512 : CpuIsa::Avx2;
  HONE_CHECK(isa == CpuIsa::Avx512 || isa == CpuIsa::Avx2, "nchwc: no blocked kernels for ISA ", cpu_isa_name(isa));
  if (!cpu_isa_supported(isa)) return nullptr;
  return isa == CpuIsa::Avx512 ? &k512 : &k2;
}

const Kernels& kernels_for(CpuIsa isa) {
  const Kernels* k = kernels_or_null(isa);
  HONE_CHECK(k, "nchwc: this CPU cannot run the blocked kernels for ", cpu_isa_name(isa == CpuIsa::Auto ? CpuIsa::Avx2 : isa),
             " (they need AVX-512 or AVX2 + FMA)");
  return *k;
}

// Calls fn(item) for each item, handed to the threads as they come free (items differ in
// cost: a thread that drew cheaper ones takes more). Each item is computed by one thread
// in a fixed order, so results do not depend on who ran it.
template <typename F>
void for_each_item(const Exec& exec, int64_t n, F&& fn) {
  if (exec.threads() <= 1 || n <= 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  exec.pool->run(n, [&](int64_t i) { fn(i); });
}

// Weights per work item and chunk: one chunk of input blocks for one group of output
// blocks stays in L2 while the item's pixels pass over it.
constexpr int64_t kChunkFloats = 32 * 1024;  // 128 KiB
// Partial sums of an item (when its input blocks take several chunks) stay in L2 too.
constexpr int64_t kItemOutputFloats = 64 * 1024;

// The one SSE 4 x 4 transpose every layout change here goes through (SSE is in every
// x86-64 CPU, so this file's default flags allow it): d_j[i] = s_i[j].
inline void transpose4x4(const float* s0, const float* s1, const float* s2, const float* s3, float* d0, float* d1,
                         float* d2, float* d3) {
  __m128 r0 = _mm_loadu_ps(s0), r1 = _mm_loadu_ps(s1), r2 = _mm_loadu_ps(s2), r3 = _mm_loadu_ps(s3);
  _MM_TRANSPOSE4_PS(r0, r1, r2, r3);
  _mm_storeu_ps(d0, r0), _mm_storeu_ps(d1, r1), _mm_storeu_ps(d2, r2), _mm_storeu_ps(d3, r3);
}

// dst + row_of(k) gets lane l = src[l * ld + k], for l < nl and k < K: nl rows of K floats
// become K rows of nl lanes (each row where the caller chooses), in 4 x 4 blocks. Both
// ways between the layouts: packing weights (rows of w into lanes) and unpacking blocked
// data (a pixel's lanes, ld = B, into channel rows).
template <class RowOf>
void rows_to_lanes(const float* src, int64_t ld, int64_t nl, int64_t K, float* dst, RowOf row_of) {
  int64_t k = 0;
  for (; k + 4 <= K; k += 4) {
    float *d0 = dst + row_of(k), *d1 = dst + row_of(k + 1), *d2 = dst + row_of(k + 2), *d3 = dst + row_of(k + 3);
    int64_t l = 0;
    for (const float* s = src + k; l + 4 <= nl; l += 4, s += 4 * ld)
      transpose4x4(s, s + ld, s + 2 * ld, s + 3 * ld, d0 + l, d1 + l, d2 + l, d3 + l);
    for (const float* s = src + l * ld + k; l < nl; ++l, s += ld) d0[l] = s[0], d1[l] = s[1], d2[l] = s[2], d3[l] = s[3];
  }
  for (; k < K; ++k) {
    float* d = dst + row_of(k);
    for (int64_t l = 0; l < nl; ++l) d[l] = src[l * ld + k];
  }
}

// A conv reading x (layout xl) for output pixels oh x ow stays inside x's border.
void check_border(const Conv2dGeometry& g, const Layout& xl, int64_t oh, int64_t ow, const char* op) {
  HONE_CHECK(oh > 0 && ow > 0 && g.pad_top <= xl.border && g.pad_left <= xl.border &&
                 (oh - 1) * g.stride_h + g.kh - 1 - g.pad_top <= g.h - 1 + xl.border &&
                 (ow - 1) * g.stride_w + g.kw - 1 - g.pad_left <= g.w - 1 + xl.border,
             op, ": the padding passes the input's border of ", xl.border);
}

}  // namespace

int64_t lanes(CpuIsa isa) {
  if (isa != CpuIsa::Auto) return kernels_for(isa).lanes;
  const Kernels* k = kernels_or_null(CpuIsa::Auto);
  return k ? k->lanes : 0;
}

PackedConv pack_conv(const float* w, const float* bias, int64_t c_out, int64_t c_in, int64_t kh, int64_t kw,
                     int64_t in_lanes, CpuIsa isa, const Exec& exec) {
  const int64_t B = kernels_for(isa).lanes;
  HONE_CHECK(c_out > 0 && c_in > 0 && kh > 0 && kw > 0 && in_lanes > 0, "nchwc::pack_conv: bad sizes [", c_out, ", ", c_in,
             ", ", kh, ", ", kw, "] with ", in_lanes, " input lanes");
  PackedConv p{.c_out = c_out, .c_in = c_in, .kh = kh, .kw = kw, .in_lanes = in_lanes, .out_lanes = B};
  const int64_t ob = (c_out + B - 1) / B, ib = (c_in + in_lanes - 1) / in_lanes;
  const int64_t per_block = ib * kh * kw * in_lanes * B;
  p.weights = std::make_shared<AlignedFloats>(size_t(ob * per_block));
  p.bias = std::make_shared<AlignedFloats>(size_t(ob * B));
  // An output block's B channels are B rows of w, each [c_in][kh][kw] in order: they are
  // transposed 4 x 4 into rows of B lanes, row (ci / in_lanes, tap, ci % in_lanes). (One
  // scalar store per weight took 3% of a training step, which repacks every trained conv.)
  const int64_t taps = kh * kw, K = c_in * taps;
  std::vector<int64_t> row(static_cast<size_t>(K));  // where w's column k = ci * taps + t goes
  for (int64_t ci = 0; ci < c_in; ++ci)
    for (int64_t t = 0; t < taps; ++t) row[size_t(ci * taps + t)] = (((ci / in_lanes) * taps + t) * in_lanes + ci % in_lanes) * B;
  float* dst = p.weights->data();
  const bool spare_lanes = c_out % B != 0 || c_in % in_lanes != 0;  // else every float is written below
  parallel_for(exec, ob, 1, [&](int64_t b0, int64_t b1) {
    if (spare_lanes) std::fill(dst + b0 * per_block, dst + b1 * per_block, 0.0f);
    for (int64_t b = b0; b < b1; ++b)
      rows_to_lanes(w + b * B * K, K, std::min(B, c_out - b * B), K, dst + b * per_block,
                    [&](int64_t k) { return row[size_t(k)]; });
  });
  for (int64_t co = 0; co < ob * B; ++co) p.bias->data()[co] = bias && co < c_out ? bias[co] : 0.0f;
  return p;
}

PackedConv pack_conv_transposed(const float* w, int64_t c_out, int64_t c_in, int64_t kh, int64_t kw, CpuIsa isa,
                                const Exec& exec) {
  const int64_t B = kernels_for(isa).lanes;
  HONE_CHECK(c_out > 0 && c_in > 0 && kh > 0 && kw > 0, "nchwc::pack_conv_transposed: bad sizes [", c_out, ", ", c_in,
             ", ", kh, ", ", kw, "]");
  // The packed conv maps c_out channels (dy's) to c_in (dx's): output block = a block of ci.
  PackedConv p{.c_out = c_in, .c_in = c_out, .kh = kh, .kw = kw, .in_lanes = B, .out_lanes = B};
  const int64_t taps = kh * kw, ob = (c_in + B - 1) / B, ib = (c_out + B - 1) / B;
  const int64_t per_block = ib * taps * B * B;
  p.weights = std::make_shared<AlignedFloats>(size_t(ob * per_block));
  p.bias = std::make_shared<AlignedFloats>(size_t(ob * B));
  float* dst = p.weights->data();
  std::fill(p.bias->data(), p.bias->data() + ob * B, 0.0f);
  // Threads split the co blocks, so w is read in order, row after row: a co block's rows
  // fill its ob regions (ci block, co block) of taps x B x B floats (flipped taps), which
  // stay in L2 meanwhile. Each row's run of one ci block's channels x taps is transposed
  // into its region. (Split over ci blocks, every thread read each row in short runs, and
  // the loads waited on memory.)
  const bool spare_lanes = c_out % B != 0 || c_in % B != 0;
  if (spare_lanes) std::fill(dst, dst + ob * per_block, 0.0f);
  parallel_for(exec, ib, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t co = b0 * B; co < std::min(c_out, b1 * B); ++co)
      for (int64_t cib = 0; cib < ob; ++cib)
        rows_to_lanes(w + (co * c_in + cib * B) * taps, taps, std::min(B, c_in - cib * B), taps,
                      dst + (cib * ib + co / B) * taps * B * B + (co % B) * B,
                      [&](int64_t t) { return (taps - 1 - t) * B * B; });
  });
  return p;
}

void conv(const ConvArgs& a, const Exec& exec, CpuIsa isa) {
  const Kernels& k = kernels_for(isa);
  const Conv2dGeometry& g = a.g;
  const PackedConv& w = *a.w;
  const Layout &xl = a.xl, &yl = a.yl;
  HONE_CHECK(g.groups == 1 && g.dilation_h == 1 && g.dilation_w == 1, "nchwc::conv: needs one group and no dilation");
  HONE_CHECK(w.c_out == g.c_out && w.c_in == g.c_in && w.kh == g.kh && w.kw == g.kw && w.out_lanes == k.lanes,
             "nchwc::conv: packed weights [", w.c_out, ", ", w.c_in, ", ", w.kh, ", ", w.kw, "] x ", w.out_lanes,
             " lanes do not match the conv [", g.c_out, ", ", g.c_in, ", ", g.kh, ", ", g.kw, "] x ", k.lanes);
  HONE_CHECK(xl.n == g.n && xl.c == g.c_in && xl.h == g.h && xl.w == g.w && xl.lanes == w.in_lanes,
             "nchwc::conv: input layout does not match the conv");
  const bool phase = a.out_h > 0;
  HONE_CHECK(yl.n == g.n && yl.c == g.c_out && yl.lanes == k.lanes &&
                 (phase ? a.out_w > 0 && a.y_step_h > 0 && a.y_step_w > 0 && a.y_off_h >= 0 && a.y_off_w >= 0 &&
                              (a.out_h - 1) * a.y_step_h + a.y_off_h < yl.h && (a.out_w - 1) * a.y_step_w + a.y_off_w < yl.w &&
                              !a.residual
                        : yl.h == g.out_h() && yl.w == g.out_w()),
             "nchwc::conv: output layout does not match the conv");
  const int64_t oh = phase ? a.out_h : yl.h, ow = phase ? a.out_w : yl.w;
  const int64_t sy = phase ? a.y_step_h : 1, sx = phase ? a.y_step_w : 1, y0 = phase ? a.y_off_h : 0,
                x0 = phase ? a.y_off_w : 0;
  check_border(g, xl, oh, ow, "nchwc::conv");
  if (g.n == 0) return;

  const int64_t B = k.lanes, cobs = yl.blocks(), cibs = xl.blocks();
  const int64_t per_cib = g.kh * g.kw * xl.lanes * B;  // one output block's weights for one input block
  const int64_t w_block = cibs * per_cib;
  const int64_t groups = (cobs + k.cb - 1) / k.cb;
  const int64_t chunk = std::clamp<int64_t>(kChunkFloats / (per_cib * k.cb), 1, cibs);
  const int64_t rows = g.n * oh;
  int64_t row_blocks = (8 * exec.threads() + groups - 1) / groups;
  if (chunk < cibs) row_blocks = std::max(row_blocks, (rows * ow * B * k.cb + kItemOutputFloats - 1) / kItemOutputFloats);
  row_blocks = std::clamp<int64_t>(row_blocks, 1, rows);
  // Items taken as threads come free: a count that is a multiple of the threads leaves
  // none running alone at the end (ResNet's layer1 made 25 items for 2 threads).
  while (groups * row_blocks % exec.threads() != 0 && row_blocks < rows) ++row_blocks;

  std::vector<int64_t> offsets;  // tap k of a chunk: (input block, ky, kx) from the chunk's origin
  for (int64_t b = 0; b < chunk; ++b)
    for (int64_t ky = 0; ky < g.kh; ++ky)
      for (int64_t kx = 0; kx < g.kw; ++kx) offsets.push_back(b * xl.plane() + ky * xl.row() + kx * xl.lanes);
  for_each_item(exec, groups * row_blocks, [&](int64_t item) {
    {
      const int64_t grp = item / row_blocks, rb = item % row_blocks;
      const int64_t q0 = rows * rb / row_blocks * ow, q1 = rows * (rb + 1) / row_blocks * ow;  // pixels, row-major
      const int64_t cob0 = grp * k.cb, cb = std::min<int64_t>(k.cb, cobs - cob0);
      TileArgs t{};
      t.bias = w.bias->data() + cob0 * B;
      t.lanes = xl.lanes, t.w_block = w_block, t.y_block = yl.plane();
      t.has_residual = a.residual != nullptr, t.relu = a.relu;
      for (int64_t c0 = 0; c0 < cibs; c0 += chunk) {
        const int64_t ncib = std::min(chunk, cibs - c0);
        t.taps = ncib * g.kh * g.kw, t.offsets = offsets.data();
        t.first = c0 == 0, t.last = c0 + ncib == cibs;
        t.w = w.weights->data() + cob0 * w_block + c0 * per_cib;
        int64_t i = q0 / ow / oh, oy = q0 / ow % oh, ox = q0 % ow;  // the pixel q walks over
        for (int64_t q = q0; q < q1; q += k.p) {
          const int64_t np = std::min<int64_t>(k.p, q1 - q);
          for (int64_t p = 0; p < np; ++p) {
            t.x[p] = a.x + xl.at(i, c0, oy * g.stride_h - g.pad_top, ox * g.stride_w - g.pad_left);
            const int64_t yo = yl.at(i, cob0, oy * sy + y0, ox * sx + x0);
            t.y[p] = a.y + yo;
            t.r[p] = a.residual ? a.residual + yo : nullptr;
            if (++ox == ow) ox = 0, oy = oy + 1 == oh ? (++i, 0) : oy + 1;
          }
          k.tile[cb - 1][np - 1](t);
        }
      }
    }
  });
}

int64_t grad_weight_lanes(int64_t c_in, CpuIsa isa) { return c_in <= 4 ? 4 : c_in <= 8 ? 8 : lanes(isa); }

void conv_grad_weight(const GradWeightArgs& a, const Exec& exec, CpuIsa isa) {
  const Kernels& k = kernels_for(isa);
  const Conv2dGeometry& g = a.g;
  const Layout &xl = a.xl, &dyl = a.dyl;
  HONE_CHECK(g.groups == 1 && g.dilation_h == 1 && g.dilation_w == 1, "nchwc::conv_grad_weight: needs one group and no dilation");
  HONE_CHECK(xl.n == g.n && xl.c == g.c_in && xl.h == g.h && xl.w == g.w && xl.lanes % 4 == 0 && xl.lanes <= k.lanes,
             "nchwc::conv_grad_weight: input layout does not match the conv (or has ", xl.lanes, " lanes: 4, 8 or ",
             k.lanes, " are needed)");
  HONE_CHECK(dyl.n == g.n && dyl.c == g.c_out && dyl.h == g.out_h() && dyl.w == g.out_w() && dyl.lanes == k.lanes,
             "nchwc::conv_grad_weight: output-gradient layout does not match the conv");
  const int64_t oh = dyl.h, ow = dyl.w, taps = g.kh * g.kw;
  check_border(g, xl, oh, ow, "nchwc::conv_grad_weight");
  if (g.n == 0) {
    std::fill(a.dw, a.dw + g.c_out * g.c_in * taps, 0.0f);
    return;
  }
  const int64_t B = k.lanes, cobs = dyl.blocks(), cin_pad = xl.blocks() * xl.lanes;
  // 8 input lanes per tile where the layout has them (4 x 4 tiles measured slower than
  // 2 x 8 on 64 channels), else 4.
  const int CI = xl.lanes % 8 == 0 && k.gw_cb[1] > 0 ? 8 : 4;
  const int64_t groups = (cobs + k.gw_cb[CI == 8] - 1) / k.gw_cb[CI == 8], ci_groups = cin_pad / CI;
  // The sums, tile by tile: [out block][ci][tap][out lane], unpacked into dw at the end.
  AlignedFloats sums(size_t(cobs * cin_pad * taps * B));
  // A work item is (group of output blocks, run of input-lane groups); it passes once over
  // its blocks of dy, and each run of dy rows (in L1) serves all of its lane groups and
  // taps. One lane group per item re-read dy from memory for every 8 input channels (80 MB
  // for ResNet's layer1 at batch 8). At least 4 items per thread, and a multiple of the
  // threads (layer4's 11 groups as 11 items left one thread idle for a sixth of the time).
  const int64_t threads = exec.threads();
  int64_t splits = std::clamp<int64_t>((4 * threads + groups - 1) / groups, 1, ci_groups);
  while (splits < ci_groups && groups * splits % threads != 0) ++splits;
  // A run of output rows of one image: long enough that loading and storing the tile's
  // sums costs little next to its FMAs, short enough that its dy rows stay in L1 over
  // the taps.
  const int64_t run_rows = std::clamp<int64_t>((64 + ow - 1) / ow, 1, oh);
  for_each_item(exec, groups * splits, [&](int64_t item) {
    const int64_t grp = item / splits, split = item % splits;
    const int64_t cg0 = ci_groups * split / splits, cg1 = ci_groups * (split + 1) / splits;
    const int64_t cob0 = cobs * grp / groups, cb = cobs * (grp + 1) / groups - cob0;
    GradWeightTileArgs t{};
    t.cols = ow, t.x_step = g.stride_w * xl.lanes, t.x_row = g.stride_h * xl.row(), t.dy_row = dyl.row();
    t.dy_block = dyl.plane(), t.dw_lane = taps * B, t.dw_block = cin_pad * taps * B;
    const GradWeightTileFn fn = k.grad_weight_tile[CI == 8][cb - 1];
    for (int64_t i = 0; i < g.n; ++i)
      for (int64_t r0 = 0; r0 < oh; r0 += run_rows) {
        t.rows = std::min(run_rows, oh - r0);
        t.dy = a.dy + dyl.at(i, cob0, r0, 0);
        t.first = i == 0 && r0 == 0;
        for (int64_t cg = cg0; cg < cg1; ++cg) {
          const int64_t ci0 = cg * CI, cib = ci0 / xl.lanes, lane0 = ci0 % xl.lanes;
          for (int64_t ky = 0; ky < g.kh; ++ky)
            for (int64_t kx = 0; kx < g.kw; ++kx) {
              t.x = a.x + xl.at(i, cib, r0 * g.stride_h - g.pad_top + ky, kx - g.pad_left) + lane0;
              t.dw = sums.data() + ((cob0 * cin_pad + ci0) * taps + ky * g.kw + kx) * B;
              fn(t);
            }
        }
      }
    // Unpack the item's sums while they are in L2 (after all items, from memory, this took
    // 13% of layer4's time). For one output block the sums over (ci, tap) are a [K][B]
    // matrix and dw's rows of its B channels the [B][K] one.
    const int64_t ci_lo = cg0 * CI, ci_hi = std::min(cg1 * CI, g.c_in);
    if (ci_lo < ci_hi)
      for (int64_t cob = cob0; cob < cob0 + cb; ++cob)
        rows_to_lanes(sums.data() + ((cob * cin_pad + ci_lo) * taps) * B, B, (ci_hi - ci_lo) * taps,
                      std::min(B, g.c_out - cob * B), a.dw + (cob * B * g.c_in + ci_lo) * taps,
                      [ld = g.c_in * taps](int64_t co) { return co * ld; });
  });
}

void max_pool(const Pool2dGeometry& g, const float* x, const Layout& xl, float* y, const Layout& yl, const Exec& exec,
              CpuIsa isa) {
  const Kernels& k = kernels_for(isa);
  HONE_CHECK(xl.lanes == k.lanes && yl.lanes == k.lanes && xl.n == g.n && xl.c == g.c && xl.h == g.h && xl.w == g.w &&
                 yl.n == g.n && yl.c == g.c && yl.h == g.out_h() && yl.w == g.out_w(),
             "nchwc::max_pool: layouts do not match the pooling");
  const int64_t planes = g.n * xl.blocks();
  parallel_for(exec, planes, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p)
      k.max_pool_plane(g, x + p * xl.plane() + xl.at(0, 0, 0, 0), xl, y + p * yl.plane() + yl.at(0, 0, 0, 0), yl);
  });
}

void global_avg_pool(const float* x, const Layout& xl, float* out, const Exec& exec) {
  const int64_t B = xl.lanes, blocks = xl.blocks();
  const float inv = 1.0f / float(xl.h * xl.w);
  parallel_for(exec, xl.n * blocks, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / blocks, b = p % blocks;
      float sum[64] = {};
      for (int64_t yy = 0; yy < xl.h; ++yy) {
        const float* row = x + xl.at(i, b, yy, 0);
        for (int64_t xx = 0; xx < xl.w; ++xx)
          for (int64_t l = 0; l < B; ++l) sum[l] += row[xx * B + l];
      }
      for (int64_t l = 0; l < B && b * B + l < xl.c; ++l) out[i * xl.c + b * B + l] = sum[l] * inv;
    }
  });
}

// The conversions move 4 channels x 4 pixels at a time through transpose4x4: a scalar copy
// stores one float per instruction, at a stride of a whole pixel, and took 8% of a blocked
// conv's backward.
namespace {
inline void zero_edges(float* plane, const Layout& l) {
  const int64_t rowf = l.row(), edge = l.border * l.lanes;
  if (l.border == 0) return;
  std::memset(plane, 0, size_t(l.border * rowf) * sizeof(float));
  std::memset(plane + (l.border + l.h) * rowf, 0, size_t(l.border * rowf) * sizeof(float));
  for (int64_t yy = 0; yy < l.h; ++yy) {
    float* row = plane + (l.border + yy) * rowf;
    std::memset(row, 0, size_t(edge) * sizeof(float));
    std::memset(row + rowf - edge, 0, size_t(edge) * sizeof(float));
  }
}
}  // namespace

void to_blocked(const float* x, const Layout& l, float* out, const Exec& exec) {
  const int64_t B = l.lanes, blocks = l.blocks(), hw = l.h * l.w;
  const std::vector<float> zeros(size_t(l.w), 0.0f);  // the rows of lanes past c
  parallel_for(exec, l.n * blocks, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / blocks, b = p % blocks, c0 = b * B, nc = std::min(B, l.c - c0);
      zero_edges(out + p * l.plane(), l);
      for (int64_t yy = 0; yy < l.h; ++yy) {
        float* row = out + l.at(i, b, yy, 0);
        const float* src = x + (i * l.c + c0) * hw + yy * l.w;
        auto lane_row = [&](int64_t lane) { return lane < nc ? src + lane * hw : zeros.data(); };
        int64_t lane = 0;
        for (; B % 4 == 0 && lane < B; lane += 4) {
          const float *s0 = lane_row(lane), *s1 = lane_row(lane + 1), *s2 = lane_row(lane + 2), *s3 = lane_row(lane + 3);
          int64_t xx = 0;
          for (; xx + 4 <= l.w; xx += 4) {
            float* d = row + xx * B + lane;
            transpose4x4(s0 + xx, s1 + xx, s2 + xx, s3 + xx, d, d + B, d + 2 * B, d + 3 * B);
          }
          for (; xx < l.w; ++xx) {
            float* d = row + xx * B + lane;
            d[0] = s0[xx], d[1] = s1[xx], d[2] = s2[xx], d[3] = s3[xx];
          }
        }
        for (; lane < B; ++lane) {  // lanes not a multiple of 4 (an image read with its own few)
          const float* s = lane_row(lane);
          for (int64_t xx = 0; xx < l.w; ++xx) row[xx * B + lane] = s[xx];
        }
      }
    }
  });
}

void from_blocked(const float* x, const Layout& l, float* out, const Exec& exec) {
  const int64_t B = l.lanes, blocks = l.blocks(), hw = l.h * l.w;
  parallel_for(exec, l.n * blocks, 1, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t i = p / blocks, b = p % blocks, c0 = b * B, nc = std::min(B, l.c - c0);
      for (int64_t yy = 0; yy < l.h; ++yy)
        rows_to_lanes(x + l.at(i, b, yy, 0), B, l.w, nc, out + (i * l.c + c0) * hw + yy * l.w,
                      [hw](int64_t c) { return c * hw; });
    }
  });
}

void zero_border(float* x, const Layout& l, const Exec& exec) {
  if (l.border == 0) return;
  parallel_for(exec, l.n * l.blocks(), 4, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) zero_edges(x + p * l.plane(), l);
  });
}

}  // namespace hone::kernels::cpu::nchwc
