// conv2d as im2col + GEMM. For one image and one group, the columns matrix holds, for
// every (channel, ky, kx) row, the input pixel each output position reads (0 in padding):
//   forward:       out[co, p]   = W[co, r] x cols[r, p]           (+ bias)
//   grad weight:   dW[co, r]   += dOut[co, p] x cols[r, p]^T       (summed over images)
//   grad input:    dCols[r, p]  = W[co, r]^T x dOut[co, p], then col2im adds each entry
//                                 back to the pixel it came from.
// A 1x1, stride-1, unpadded conv reads the input as its columns directly.
#include "kernels/cpu/conv2d_im2col.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "kernels/cpu/gemm.h"
#include "tensor/allocator.h"

namespace hone::kernels::cpu::conv_im2col {

namespace {

bool is_pointwise(const Conv2dGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && g.pad_top == 0 && g.pad_left == 0 &&
         g.pad_bottom == 0 && g.pad_right == 0;
}

// C[m,n] (+)= A[m,k] B[k,n] with explicit strides, by a plain loop: the one-image-at-a-time
// path below serves float64 (gradient checks, where exactness beats speed); float32 goes
// through the batched SGEMM paths further down.
template <typename T>
void gemm(const Exec& exec, int64_t m, int64_t n, int64_t k, const T* a, int64_t ars, int64_t acs, const T* b, int64_t brs, int64_t bcs,
          T* c, int64_t ldc, bool accumulate) {
  parallel_for(exec, m, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T acc = 0;
        for (int64_t p = 0; p < k; ++p) acc += a[i * ars + p * acs] * b[p * brs + j * bcs];
        c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc : acc;
      }
  });
}

// Row r = (c*kh + ky)*kw + kx of the columns matrix: out[oy*ow + ox] =
// x[c, oy*sh - pt + ky*dh, ox*sw - pl + kx*dw], 0 outside the image.
template <typename T>
void im2col_row(const Conv2dGeometry& g, const T* x, int64_t r, T* row) {
  const int64_t oh = g.out_h(), ow = g.out_w();
  const int64_t c = r / (g.kh * g.kw), ky = (r / g.kw) % g.kh, kx = r % g.kw;
  const T* plane = x + c * g.h * g.w;
  // Output columns whose input column ix = ox * stride + x0 lies inside [0, w): zeros on
  // either side, a plain (or strided) copy in between, no per-element test.
  const int64_t x0 = kx * g.dilation_w - g.pad_left;
  const int64_t lo = std::min<int64_t>(ow, x0 >= 0 ? 0 : (-x0 + g.stride_w - 1) / g.stride_w);
  const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(ow, (g.w - x0 + g.stride_w - 1) / g.stride_w));
  for (int64_t oy = 0; oy < oh; ++oy) {
    const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
    T* out = row + oy * ow;
    if (iy < 0 || iy >= g.h) {
      std::fill(out, out + ow, T(0));
      continue;
    }
    const T* in = plane + iy * g.w;
    std::fill(out, out + lo, T(0));
    if (g.stride_w == 1) {
      std::memcpy(out + lo, in + lo + x0, size_t(hi - lo) * sizeof(T));
    } else {
      const T* src = in + lo * g.stride_w + x0;
      for (int64_t ox = lo; ox < hi; ++ox, src += g.stride_w) out[ox] = *src;
    }
    std::fill(out + hi, out + ow, T(0));
  }
}

// The columns matrix [channels*kh*kw, oh*ow], row-major.
template <typename T>
void im2col(const Exec& exec, const Conv2dGeometry& g, int64_t channels, const T* x, T* cols) {
  const int64_t P = g.out_h() * g.out_w();
  parallel_for(exec, channels * g.kh * g.kw, 8, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) im2col_row(g, x, r, cols + r * P);
  });
}

// The adjoint of im2col: dx[c, iy, ix] += dcols[r, p] for every (r, p) that read it.
// Split over channels, so each thread writes only its own planes.
template <typename T>
void col2im(const Exec& exec, const Conv2dGeometry& g, int64_t channels, const T* dcols, T* dx, int64_t ld = -1) {
  if (ld < 0) ld = g.out_h() * g.out_w();  // row stride of dcols
  const int64_t oh = g.out_h(), ow = g.out_w();
  parallel_for(exec, channels, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* plane = dx + c * g.h * g.w;
      std::fill(plane, plane + g.h * g.w, T(0));
      for (int64_t ky = 0; ky < g.kh; ++ky)
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          const T* row = dcols + ((c * g.kh + ky) * g.kw + kx) * ld;
          for (int64_t oy = 0; oy < oh; ++oy) {
            const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            if (iy < 0 || iy >= g.h) continue;
            T* line = plane + iy * g.w;
            for (int64_t ox = 0; ox < ow; ++ox) {
              const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
              if (ix >= 0 && ix < g.w) line[ix] += row[oy * ow + ox];
            }
          }
        }
    }
  });
}

template <typename T>
void add_bias(T* y, const T* bias, int64_t channels, int64_t P) {
  for (int64_t co = 0; co < channels; ++co)
    for (int64_t p = 0; p < P; ++p) y[co * P + p] += bias[co];
}

}  // namespace

// ---- float32: several images per GEMM ----
// Images are taken in chunks whose columns matrix stays under kColsBudget floats, and each
// chunk is one GEMM with N = images x pixels. Late layers (7x7 pixels, 512 channels) then
// pack their weights once per chunk instead of once per image, and their N is no longer a
// sliver of a 32-wide tile. The chunk size depends only on the shapes: results are the same
// for any thread count.
constexpr int64_t kColsBudget = int64_t(1) << 21;  // 8 MiB of float32 columns: stays in cache

int64_t images_per_chunk(const Conv2dGeometry& g) {
  const int64_t per_image = (g.c_in / g.groups) * g.kh * g.kw * g.out_h() * g.out_w();
  return std::clamp<int64_t>(kColsBudget / std::max<int64_t>(per_image, 1), 1, std::max<int64_t>(g.n, 1));
}

// Row r of the chunk's columns matrix: images n0 .. n0+nb side by side.
void im2col_chunk_row(const Conv2dGeometry& g, const float* x, int64_t n0, int64_t nb, int64_t grp, int64_t r, float* row) {
  const int64_t cig = g.c_in / g.groups, P = g.out_h() * g.out_w();
  for (int64_t i = 0; i < nb; ++i) im2col_row(g, x + ((n0 + i) * g.c_in + grp * cig) * g.h * g.w, r, row + i * P);
}

void forward_columns(const Conv2dForwardArgs& a, const Exec& exec) {
  const Conv2dGeometry& g = a.g;
  const int64_t P = g.out_h() * g.out_w(), cig = g.c_in / g.groups, cog = g.c_out / g.groups, R = cig * g.kh * g.kw;
  const float* x = static_cast<const float*>(a.input);
  const float* w = static_cast<const float*>(a.weight);
  const float* bias = static_cast<const float*>(a.bias);
  float* y = static_cast<float*>(a.output);
  const int64_t chunk = images_per_chunk(g);
  const PackedBLayout full = packed_b_layout(R, chunk * P);
  AlignedFloats packed(full.size());
  std::vector<float> out(static_cast<size_t>(cog * chunk * P));
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0), cols = nb * P;
    const PackedBLayout layout = packed_b_layout(R, cols);
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      parallel_for(exec, R, 4, [&](int64_t r0, int64_t r1) {  // im2col into packed panels
        std::vector<float> row(static_cast<size_t>(layout.padded_n()), 0.0f);
        for (int64_t r = r0; r < r1; ++r) {
          im2col_chunk_row(g, x, n0, nb, grp, r, row.data());
          for (int64_t j = 0; j < layout.padded_n(); j += layout.nr)
            std::memcpy(packed.data() + layout.offset(r, j), row.data() + j, size_t(layout.nr) * 4);
        }
      });
      sgemm_packed_b({.m = cog, .n = cols, .k = R, .a = w + grp * cog * R, .a_row_stride = R, .a_col_stride = 1,
                      .b = nullptr, .b_row_stride = 0, .b_col_stride = 0, .c = out.data(), .c_row_stride = cols,
                      .c_col_stride = 1},
                     packed.data(), exec);
      // [cog, images x pixels] -> NCHW, adding the bias on the way.
      parallel_for(exec, nb * cog, 4, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t i = q / cog, co = q % cog;
          const float* src = out.data() + co * cols + i * P;
          float* dst = y + ((n0 + i) * g.c_out + grp * cog + co) * P;
          const float b = bias ? bias[grp * cog + co] : 0.0f;
          for (int64_t p = 0; p < P; ++p) dst[p] = src[p] + b;
        }
      });
    }
  }
}

// out^T[(image, pixel), co] = cols^T x W^T for a chunk of images, then transposed into
// NCHW with the bias. The GEMM's M is images x pixels, so thin C_out wastes no tile rows.
void forward_transposed(const Conv2dForwardArgs& a, const Exec& exec) {
  const Conv2dGeometry& g = a.g;
  const int64_t P = g.out_h() * g.out_w(), cig = g.c_in / g.groups, cog = g.c_out / g.groups, R = cig * g.kh * g.kw;
  const float* x = static_cast<const float*>(a.input);
  const float* w = static_cast<const float*>(a.weight);
  const float* bias = static_cast<const float*>(a.bias);
  float* y = static_cast<float*>(a.output);
  const int64_t chunk = images_per_chunk(g);
  std::vector<float> cols(static_cast<size_t>(R * chunk * P)), out(static_cast<size_t>(chunk * P * cog));
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0), ncols = nb * P;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      parallel_for(exec, R, 4, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) im2col_chunk_row(g, x, n0, nb, grp, r, cols.data() + r * ncols);
      });
      sgemm({.m = ncols, .n = cog, .k = R, .a = cols.data(), .a_row_stride = 1, .a_col_stride = ncols,
             .b = w + grp * cog * R, .b_row_stride = 1, .b_col_stride = R, .c = out.data(), .c_row_stride = cog,
             .c_col_stride = 1}, exec);
      // [(image, pixel), co] -> NCHW in 32-pixel blocks, so reads and writes both stay local.
      parallel_for(exec, nb * cog, 4, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t i = q / cog, co = q % cog;
          float* dst = y + ((n0 + i) * g.c_out + grp * cog + co) * P;
          const float* src = out.data() + i * P * cog + co;
          const float b = bias ? bias[grp * cog + co] : 0.0f;
          for (int64_t p = 0; p < P; ++p) dst[p] = src[p * cog] + b;
        }
      });
    }
  }
}

void backward_columns(const Conv2dBackwardArgs& a, const Exec& exec) {
  const Conv2dGeometry& g = a.g;
  const int64_t P = g.out_h() * g.out_w(), cig = g.c_in / g.groups, cog = g.c_out / g.groups, R = cig * g.kh * g.kw;
  const float* x = static_cast<const float*>(a.input);
  const float* w = static_cast<const float*>(a.weight);
  const float* dy = static_cast<const float*>(a.grad_output);
  float* dx = static_cast<float*>(a.grad_input);
  float* dw = static_cast<float*>(a.grad_weight);
  const int64_t chunk = images_per_chunk(g);
  std::vector<float> dyt(static_cast<size_t>(cog * chunk * P)), cols(static_cast<size_t>(R * chunk * P));
  // With few output channels, dW^T [R, cog] = cols x dY^T (accumulated over chunks, then
  // transposed into dW): the GEMM packs cols row by row and gathers only dY^T's cog
  // columns, where dW = dY x cols^T gathers all R x pixels of cols^T. With many output
  // channels the direct form measured faster (512 channels at 14x14: 11 vs 32 ms).
  const bool dw_transposed = cog <= 128;
  std::vector<float> dwt(dw && dw_transposed ? static_cast<size_t>(g.c_out * R) : 0);
  for (int64_t n0 = 0; n0 < g.n; n0 += chunk) {
    const int64_t nb = std::min(chunk, g.n - n0), ncols = nb * P;
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      // dY of this chunk and group as [cog, images x pixels].
      parallel_for(exec, nb * cog, 4, [&](int64_t q0, int64_t q1) {
        for (int64_t q = q0; q < q1; ++q) {
          const int64_t i = q / cog, co = q % cog;
          std::memcpy(dyt.data() + co * ncols + i * P, dy + ((n0 + i) * g.c_out + grp * cog + co) * P, size_t(P) * 4);
        }
      });
      if (dw) {  // dW[co, r] (+)= sum over pixels dYt[co, p] cols[r, p]
        parallel_for(exec, R, 4, [&](int64_t r0, int64_t r1) {
          for (int64_t r = r0; r < r1; ++r) im2col_chunk_row(g, x, n0, nb, grp, r, cols.data() + r * ncols);
        });
        if (dw_transposed)
          sgemm({.m = R, .n = cog, .k = ncols, .a = cols.data(), .a_row_stride = ncols, .a_col_stride = 1,
                 .b = dyt.data(), .b_row_stride = 1, .b_col_stride = ncols, .c = dwt.data() + grp * cog * R,
                 .c_row_stride = cog, .c_col_stride = 1, .alpha = 1.0f, .beta = n0 == 0 ? 0.0f : 1.0f}, exec);
        else
          sgemm({.m = cog, .n = R, .k = ncols, .a = dyt.data(), .a_row_stride = ncols, .a_col_stride = 1,
                 .b = cols.data(), .b_row_stride = 1, .b_col_stride = ncols, .c = dw + grp * cog * R, .c_row_stride = R,
                 .c_col_stride = 1, .alpha = 1.0f, .beta = n0 == 0 ? 0.0f : 1.0f}, exec);
      }
      if (dx) {  // dcols = W^T dYt, folded back image by image
        sgemm({.m = R, .n = ncols, .k = cog, .a = w + grp * cog * R, .a_row_stride = 1, .a_col_stride = R,
               .b = dyt.data(), .b_row_stride = ncols, .b_col_stride = 1, .c = cols.data(), .c_row_stride = ncols,
               .c_col_stride = 1}, exec);
        for (int64_t i = 0; i < nb; ++i)
          col2im(exec, g, cig, cols.data() + i * P, dx + ((n0 + i) * g.c_in + grp * cig) * g.h * g.w, ncols);
      }
    }
  }
  if (dw && dw_transposed)
    for (int64_t grp = 0; grp < g.groups; ++grp)
      for (int64_t co = 0; co < cog; ++co)
        for (int64_t r = 0; r < R; ++r) dw[(grp * cog + co) * R + r] = dwt[size_t(grp * cog * R + r * cog + co)];
}

// ---- float64: one image at a time, a plain loop for the products ----
void forward_float64(const Conv2dForwardArgs& a, const Exec& exec) {
  using T = double;
  const Conv2dGeometry& g = a.g;
  const int64_t P = g.out_h() * g.out_w();
  const int64_t cig = g.c_in / g.groups, cog = g.c_out / g.groups, R = cig * g.kh * g.kw;
  const T* x = static_cast<const T*>(a.input);
  const T* w = static_cast<const T*>(a.weight);
  const T* bias = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.output);
  const bool pointwise = is_pointwise(g);
  std::vector<T> cols(pointwise ? 0 : size_t(R * P));
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* xin = x + (n * g.c_in + grp * cig) * g.h * g.w;
      const T* colp = xin;
      if (!pointwise) {
        im2col(exec, g, cig, xin, cols.data());
        colp = cols.data();
      }
      T* yout = y + (n * g.c_out + grp * cog) * P;
      gemm<T>(exec, cog, P, R, w + grp * cog * R, R, 1, colp, P, 1, yout, P, false);
    }
    if (bias) add_bias(y + n * g.c_out * P, bias, g.c_out, P);
  }
}

void backward_float64(const Conv2dBackwardArgs& a, const Exec& exec) {
  using T = double;
  const Conv2dGeometry& g = a.g;
  const int64_t P = g.out_h() * g.out_w();
  const int64_t R = (g.c_in / g.groups) * g.kh * g.kw;
  const int64_t cig = g.c_in / g.groups, cog = g.c_out / g.groups;
  const T* x = static_cast<const T*>(a.input);
  const T* w = static_cast<const T*>(a.weight);
  const T* dy = static_cast<const T*>(a.grad_output);
  T* dx = static_cast<T*>(a.grad_input);
  T* dw = static_cast<T*>(a.grad_weight);
  const bool pointwise = is_pointwise(g);
  std::vector<T> cols(pointwise && !dx ? 0 : size_t(R * P));
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* dyg = dy + (n * g.c_out + grp * cog) * P;
      const T* wg = w + grp * cog * R;
      if (dw) {
        const T* xin = x + (n * g.c_in + grp * cig) * g.h * g.w;
        const T* colp = xin;
        if (!pointwise) {
          im2col(exec, g, cig, xin, cols.data());
          colp = cols.data();
        }
        // dW[co, r] (+)= sum_p dY[co, p] cols[r, p]: B = cols^T (row stride 1, col stride P).
        gemm<T>(exec, cog, R, P, dyg, P, 1, colp, 1, P, dw + grp * cog * R, R, n > 0);
      }
      if (dx) {
        T* dxg = dx + (n * g.c_in + grp * cig) * g.h * g.w;
        if (pointwise) {  // dX[ci, p] = sum_co W[co, ci] dY[co, p]
          gemm<T>(exec, cig, P, cog, wg, 1, R, dyg, P, 1, dxg, P, false);
        } else {
          gemm<T>(exec, R, P, cog, wg, 1, R, dyg, P, 1, cols.data(), P, false);
          col2im(exec, g, cig, cols.data(), dxg);
        }
      }
    }
  }
}

}  // namespace hone::kernels::cpu::conv_im2col
