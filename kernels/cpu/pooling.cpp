// Pooling kernels. The forward passes precompute, once per call, each output row's and
// column's window clipped to the image, so the inner loops carry no bounds checks; they
// split work by output row (each output written by one chunk). The backward passes
// scatter into the input, where windows overlap, so they split by N*C plane instead:
// each thread zero-fills and writes only its own planes. Sums run in double.
#include "kernels/cpu/pooling.h"

#include <cstring>

#include <algorithm>
#include <climits>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "kernels/cpu/isa.h"
#include "kernels/cpu/pooling_rows.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

// Rows a parallel chunk should hold so that it does about `target` inner-loop steps.
int64_t grain_for(int64_t steps_per_item, int64_t target = 16384) {
  return std::max<int64_t>(1, target / std::max<int64_t>(1, steps_per_item));
}

std::vector<TapRange> tap_ranges(int64_t out, int64_t k, int64_t stride, int64_t pad, int64_t d, int64_t size) {
  std::vector<TapRange> r(size_t(std::max<int64_t>(out, 0)));
  for (int64_t o = 0; o < out; ++o) r[size_t(o)] = in_image_taps(o * stride - pad, k, d, size);
  return r;
}

// Every output's average-pool window along one dim (kernels::avg_window).
std::vector<AvgWindow> avg_windows(int64_t out, int64_t k, int64_t stride, int64_t pad_before, int64_t pad_after,
                                   int64_t size) {
  std::vector<AvgWindow> r(size_t(std::max<int64_t>(out, 0)));
  for (int64_t o = 0; o < out; ++o) r[size_t(o)] = avg_window(o, k, stride, pad_before, pad_after, size);
  return r;
}

// Adaptive windows: output i of `out` covers [floor(i*in/out), ceil((i+1)*in/out)).
int64_t adaptive_begin(int64_t i, int64_t in, int64_t out) { return i * in / out; }
int64_t adaptive_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

// ---- max pool ----

// take ? a : b for a mask take in {0, -1}, on the bit patterns (branch-free).
template <typename T>
inline T select_bits(int64_t take, T a, T b) {
  using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  U ua, ub;
  std::memcpy(&ua, &a, sizeof(T));
  std::memcpy(&ub, &b, sizeof(T));
  const U m = U(take);
  const U r = (ua & m) | (ub & ~m);
  T out;
  std::memcpy(&out, &r, sizeof(T));
  return out;
}

template <typename T>
void max_forward(const MaxPool2dForwardArgs& a, const Exec& exec, CpuIsa isa) {
  const Pool2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w();
  const auto rows = tap_ranges(oh, g.kh, g.stride_h, g.pad_top, g.dilation_h, g.h);
  const auto cols = tap_ranges(ow, g.kw, g.stride_w, g.pad_left, g.dilation_w, g.w);
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  // A vector of interior outputs at a time where the CPU has AVX-512 or AVX2 (float32, and
  // positions that fit int32).
  if (isa == CpuIsa::Auto) isa = best_cpu_isa();
  HONE_CHECK(cpu_isa_supported(isa), "max_pool2d: this CPU cannot run ", cpu_isa_name(isa), " kernels");
  int64_t (*rows_simd)(const MaxRowArgs&) = nullptr;
  if (std::is_same_v<T, float> && g.h * g.w < (int64_t(1) << 31))
    rows_simd = isa == CpuIsa::Avx512 ? max_pool_row_avx512 : isa == CpuIsa::Avx2 ? max_pool_row_avx2 : nullptr;
  parallel_for(exec, g.n * g.c * oh, grain_for(ow * g.kh * g.kw), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* plane = x + (r / oh) * g.h * g.w;
      const TapRange ry = rows[size_t(r % oh)];
      T* out = y + r * ow;
      int64_t* idx = a.indices + r * ow;
      // One output's window, tap by tap (the edges, where padding clips windows).
      auto one = [&](int64_t ox) {
        const TapRange rx = cols[size_t(ox)];
        // As PyTorch: start from -inf at the first in-image tap; a larger value or any NaN
        // takes over, so ties keep the first maximum in row-major order and NaN propagates.
        T best = -std::numeric_limits<T>::infinity();
        int64_t best_i = ry.begin * g.w + rx.begin;
        for (int64_t iy = ry.begin; iy < ry.end; iy += g.dilation_h)
          for (int64_t ix = rx.begin; ix < rx.end; ix += g.dilation_w) {
            const T v = plane[iy * g.w + ix];
            if (v > best || std::isnan(v)) {
              best = v;
              best_i = iy * g.w + ix;
            }
          }
        out[ox] = best;
        idx[ox] = best_i;
      };
      // Outputs whose windows lie fully inside the row: four at a time, so their
      // compare-and-select chains (each bound by latency) overlap. Same taps, same order,
      // same result as one().
      const int64_t full = (g.kw - 1) * g.dilation_w + 1;
      int64_t lo = 0, hi = ow;
      while (lo < ow && cols[size_t(lo)].end - cols[size_t(lo)].begin != full) ++lo;
      while (hi > lo && cols[size_t(hi - 1)].end - cols[size_t(hi - 1)].begin != full) --hi;
      for (int64_t ox = 0; ox < lo; ++ox) one(ox);
      int64_t ox = lo;
      if constexpr (std::is_same_v<T, float>)
        if (rows_simd && hi - lo >= 8)
          ox += rows_simd({.plane = plane, .w = g.w, .row_begin = ry.begin, .row_end = ry.end,
                           .dilation_h = g.dilation_h, .start = cols[size_t(lo)].begin, .stride = g.stride_w,
                           .kw = g.kw, .dilation_w = g.dilation_w, .out = out + lo, .indices = idx + lo,
                           .count = hi - lo});
      for (; ox + 4 <= hi; ox += 4) {
        T best[4];
        int64_t best_i[4], start[4];
        for (int q = 0; q < 4; ++q) {
          start[q] = cols[size_t(ox + q)].begin;
          best[q] = -std::numeric_limits<T>::infinity();
          best_i[q] = ry.begin * g.w + start[q];
        }
        for (int64_t iy = ry.begin; iy < ry.end; iy += g.dilation_h)
          for (int64_t t = 0; t < full; t += g.dilation_w)
            for (int q = 0; q < 4; ++q) {
              const int64_t i = iy * g.w + start[q] + t;
              const T v = plane[i];
              // Masks, not ?: -- the compiler turns ?: back into branches here, and on real
              // data those mispredict every few taps (3x slower on random input).
              const int64_t take = -int64_t((v > best[q]) | (v != v));
              best[q] = select_bits(take, v, best[q]);
              best_i[q] = (i & take) | (best_i[q] & ~take);
            }
        for (int q = 0; q < 4; ++q) {
          out[ox + q] = best[q];
          idx[ox + q] = best_i[q];
        }
      }
      for (; ox < ow; ++ox) one(ox);
    }
  });
}

template <typename T>
void max_backward(const MaxPool2dBackwardArgs& a, const Exec& exec) {
  const Pool2dGeometry& g = a.g;
  const int64_t hw = g.h * g.w, ohw = g.out_h() * g.out_w();
  const T* dy = static_cast<const T*>(a.grad_output);
  T* dx = static_cast<T*>(a.grad_input);
  parallel_for(exec, g.n * g.c, grain_for(hw + ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* plane = dx + p * hw;
      std::fill(plane, plane + hw, T(0));
      const T* go = dy + p * ohw;
      const int64_t* idx = a.indices + p * ohw;
      // The forward wrote every index inside the plane; the check keeps a corrupted
      // indices buffer from writing outside it.
      for (int64_t o = 0; o < ohw; ++o)
        if (uint64_t(idx[o]) < uint64_t(hw)) plane[idx[o]] += go[o];
    }
  });
}

template <typename T>
void max_reference(const MaxPool2dForwardArgs& a) {
  const Pool2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w();
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  for (int64_t p = 0; p < g.n * g.c; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        T best = 0;
        int64_t best_i = -1;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;  // padding never wins
            const T v = x[(p * g.h + iy) * g.w + ix];
            if (best_i < 0 || v > best || std::isnan(v)) {
              best = v;
              best_i = iy * g.w + ix;
            }
          }
        y[(p * oh + oy) * ow + ox] = best;
        a.indices[(p * oh + oy) * ow + ox] = best_i;
      }
}

// ---- average pool ----

template <typename T>
void avg_forward(const AvgPool2dForwardArgs& a, const Exec& exec) {
  const Pool2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w();
  const auto rows = avg_windows(oh, g.kh, g.stride_h, g.pad_top, g.pad_bottom, g.h);
  const auto cols = avg_windows(ow, g.kw, g.stride_w, g.pad_left, g.pad_right, g.w);
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  parallel_for(exec, g.n * g.c * oh, grain_for(ow * g.kh * g.kw), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* plane = x + (r / oh) * g.h * g.w;
      const AvgWindow wy = rows[size_t(r % oh)];
      T* out = y + r * ow;
      for (int64_t ox = 0; ox < ow; ++ox) {
        const AvgWindow wx = cols[size_t(ox)];
        if (wy.begin >= wy.end || wx.begin >= wx.end) {  // no pixel in the window: 0, as PyTorch
          out[ox] = T(0);
          continue;
        }
        const int64_t inside = (wy.end - wy.begin) * (wx.end - wx.begin);
        double acc = 0;
        for (int64_t iy = wy.begin; iy < wy.end; ++iy)
          for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc += double(plane[iy * g.w + ix]);
        out[ox] = T(acc / double(a.count_include_pad ? wy.padded_len * wx.padded_len : inside));
      }
    }
  });
}

template <typename T>
void avg_backward(const AvgPool2dBackwardArgs& a, const Exec& exec) {
  const Pool2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w(), hw = g.h * g.w;
  const auto rows = avg_windows(oh, g.kh, g.stride_h, g.pad_top, g.pad_bottom, g.h);
  const auto cols = avg_windows(ow, g.kw, g.stride_w, g.pad_left, g.pad_right, g.w);
  const T* dy = static_cast<const T*>(a.grad_output);
  T* dx = static_cast<T*>(a.grad_input);
  parallel_for(exec, g.n * g.c, grain_for(hw + oh * ow * g.kh * g.kw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* plane = dx + p * hw;
      std::fill(plane, plane + hw, T(0));
      const T* go = dy + p * oh * ow;
      for (int64_t oy = 0; oy < oh; ++oy) {
        const AvgWindow wy = rows[size_t(oy)];
        for (int64_t ox = 0; ox < ow; ++ox) {
          const AvgWindow wx = cols[size_t(ox)];
          if (wy.begin >= wy.end || wx.begin >= wx.end) continue;
          const int64_t inside = (wy.end - wy.begin) * (wx.end - wx.begin);
          const T share =
              T(double(go[oy * ow + ox]) / double(a.count_include_pad ? wy.padded_len * wx.padded_len : inside));
          for (int64_t iy = wy.begin; iy < wy.end; ++iy)
            for (int64_t ix = wx.begin; ix < wx.end; ++ix) plane[iy * g.w + ix] += share;
        }
      }
    }
  });
}

// From the definition: the mean of the window's taps, where with count_include_pad the
// taps that land in the padding count as zeros (but not those past the padding, which
// only ceil_mode windows reach).
template <typename T>
void avg_reference(const AvgPool2dForwardArgs& a) {
  const Pool2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w();
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  for (int64_t p = 0; p < g.n * g.c; ++p)
    for (int64_t oy = 0; oy < oh; ++oy)
      for (int64_t ox = 0; ox < ow; ++ox) {
        double acc = 0;
        int64_t in_image = 0, in_padded = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky;
            const int64_t ix = ox * g.stride_w - g.pad_left + kx;
            if (iy < g.h + g.pad_bottom && ix < g.w + g.pad_right) ++in_padded;
            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
            ++in_image;
            acc += double(x[(p * g.h + iy) * g.w + ix]);
          }
        const int64_t divisor = a.count_include_pad ? in_padded : in_image;
        y[(p * oh + oy) * ow + ox] = in_image == 0 ? T(0) : T(acc / double(divisor));
      }
}

// ---- adaptive average pool ----

template <typename T>
void adaptive_forward(const AdaptiveAvgPool2dForwardArgs& a, const Exec& exec) {
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  const int64_t kh_max = (a.h + a.out_h - 1) / a.out_h + 1, kw_max = (a.w + a.out_w - 1) / a.out_w + 1;
  parallel_for(exec, a.n * a.c * a.out_h, grain_for(a.out_w * kh_max * kw_max), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* plane = x + (r / a.out_h) * a.h * a.w;
      const int64_t oy = r % a.out_h;
      const int64_t y0 = adaptive_begin(oy, a.h, a.out_h), y1 = adaptive_end(oy, a.h, a.out_h);
      for (int64_t ox = 0; ox < a.out_w; ++ox) {
        const int64_t x0 = adaptive_begin(ox, a.w, a.out_w), x1 = adaptive_end(ox, a.w, a.out_w);
        double acc = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) acc += double(plane[iy * a.w + ix]);
        y[r * a.out_w + ox] = T(acc / double((y1 - y0) * (x1 - x0)));
      }
    }
  });
}

template <typename T>
void adaptive_backward(const AdaptiveAvgPool2dBackwardArgs& a, const Exec& exec) {
  const int64_t hw = a.h * a.w, ohw = a.out_h * a.out_w;
  const T* dy = static_cast<const T*>(a.grad_output);
  T* dx = static_cast<T*>(a.grad_input);
  parallel_for(exec, a.n * a.c, grain_for(2 * hw + ohw), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      T* plane = dx + p * hw;
      std::fill(plane, plane + hw, T(0));
      const T* go = dy + p * ohw;
      for (int64_t oy = 0; oy < a.out_h; ++oy) {
        const int64_t y0 = adaptive_begin(oy, a.h, a.out_h), y1 = adaptive_end(oy, a.h, a.out_h);
        for (int64_t ox = 0; ox < a.out_w; ++ox) {
          const int64_t x0 = adaptive_begin(ox, a.w, a.out_w), x1 = adaptive_end(ox, a.w, a.out_w);
          const T share = T(double(go[oy * a.out_w + ox]) / double((y1 - y0) * (x1 - x0)));
          for (int64_t iy = y0; iy < y1; ++iy)
            for (int64_t ix = x0; ix < x1; ++ix) plane[iy * a.w + ix] += share;
        }
      }
    }
  });
}

// From the definition, with the window bounds taken by real-number floor and ceil.
template <typename T>
void adaptive_reference(const AdaptiveAvgPool2dForwardArgs& a) {
  const T* x = static_cast<const T*>(a.input);
  T* y = static_cast<T*>(a.output);
  for (int64_t p = 0; p < a.n * a.c; ++p)
    for (int64_t oy = 0; oy < a.out_h; ++oy)
      for (int64_t ox = 0; ox < a.out_w; ++ox) {
        const auto y0 = int64_t(std::floor(double(oy) * double(a.h) / double(a.out_h)));
        const auto y1 = int64_t(std::ceil(double(oy + 1) * double(a.h) / double(a.out_h)));
        const auto x0 = int64_t(std::floor(double(ox) * double(a.w) / double(a.out_w)));
        const auto x1 = int64_t(std::ceil(double(ox + 1) * double(a.w) / double(a.out_w)));
        double acc = 0;
        int64_t count = 0;
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) {
            acc += double(x[(p * a.h + iy) * a.w + ix]);
            ++count;
          }
        y[(p * a.out_h + oy) * a.out_w + ox] = T(acc / double(count));
      }
}

}  // namespace

void max_pool2d_forward(const MaxPool2dForwardArgs& a, const Exec& exec) { max_pool2d_forward(a, exec, CpuIsa::Auto); }
void max_pool2d_forward(const MaxPool2dForwardArgs& a, const Exec& exec, CpuIsa isa) {
  HONE_DISPATCH_FLOAT(a.dtype, "max_pool2d", [&](auto tag) { max_forward<decltype(tag)>(a, exec, isa); });
}
void max_pool2d_backward(const MaxPool2dBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "max_pool2d backward", [&](auto tag) { max_backward<decltype(tag)>(a, exec); });
}
void max_pool2d_reference(const MaxPool2dForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "max_pool2d", [&](auto tag) { max_reference<decltype(tag)>(a); });
}

void avg_pool2d_forward(const AvgPool2dForwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "avg_pool2d", [&](auto tag) { avg_forward<decltype(tag)>(a, exec); });
}
void avg_pool2d_backward(const AvgPool2dBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "avg_pool2d backward", [&](auto tag) { avg_backward<decltype(tag)>(a, exec); });
}
void avg_pool2d_reference(const AvgPool2dForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "avg_pool2d", [&](auto tag) { avg_reference<decltype(tag)>(a); });
}

void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "adaptive_avg_pool2d", [&](auto tag) { adaptive_forward<decltype(tag)>(a, exec); });
}
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "adaptive_avg_pool2d backward", [&](auto tag) { adaptive_backward<decltype(tag)>(a, exec); });
}
void adaptive_avg_pool2d_reference(const AdaptiveAvgPool2dForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "adaptive_avg_pool2d", [&](auto tag) { adaptive_reference<decltype(tag)>(a); });
}

}  // namespace hone::kernels::cpu
