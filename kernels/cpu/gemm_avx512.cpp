// AVX-512 micro-kernel: 12 x 32 tile, 24 zmm accumulators; per k step two B vectors are
// loaded and each of the 12 A values is broadcast into two FMAs.
// This file alone is compiled with -mavx512f -mfma; it runs only when the CPU has them.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/gemm_microkernel.h"

// GCC 12 warns inside its own _mm512_reduce_add_ps (an uninitialised temporary in the header).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace hone::kernels::cpu::gemm_detail {

namespace {
constexpr int MR = 12, NR = 32;

void kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + 16), _MM_HINT_T0);
#pragma GCC unroll 1  // unrolled, GCC 12 rotates the accumulators through 24 vmovaps per k step (objdump)
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
    // A streams from L2 (the B panel stays in L1): fetch it a few steps ahead.
    _mm_prefetch(reinterpret_cast<const char*>(ap + 8 * MR), _MM_HINT_T0);
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) {
      const __m512 a = _mm512_set1_ps(ap[i]);
      acc[i][0] = _mm512_fmadd_ps(a, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(a, b1, acc[i][1]);
    }
    ap += MR;
    bp += NR;
  }
  const __m512 va = _mm512_set1_ps(alpha);
  if (beta == 0.0f) {
    for (int i = 0; i < MR; ++i) {
      _mm512_storeu_ps(c + i * ldc, _mm512_mul_ps(va, acc[i][0]));
      _mm512_storeu_ps(c + i * ldc + 16, _mm512_mul_ps(va, acc[i][1]));
    }
  } else {
    const __m512 vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; ++i) {
      float* row = c + i * ldc;
      _mm512_storeu_ps(row, _mm512_fmadd_ps(va, acc[i][0], _mm512_mul_ps(vb, _mm512_loadu_ps(row))));
      _mm512_storeu_ps(row + 16, _mm512_fmadd_ps(va, acc[i][1], _mm512_mul_ps(vb, _mm512_loadu_ps(row + 16))));
    }
  }
}
}  // namespace

MicroKernel avx512_kernel() { return {MR, NR, kernel}; }

// Rows of A in blocks of 8, two columns of B at a time: 16 accumulators, each B vector
// loaded once for 8 rows. The k tail uses masked loads.
void avx512_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                float* c, int64_t crs, int64_t ccs, float alpha, float beta) {
  const int64_t k16 = k / 16 * 16;
  const __mmask16 tail = __mmask16((1u << (k - k16)) - 1u);
  for (int64_t i0 = 0; i0 < m; i0 += 8) {
    const int rows = int(std::min<int64_t>(8, m - i0));
    for (int64_t j = j0; j < j1; j += 2) {
      const int cols = j + 1 < j1 ? 2 : 1;
      const float* b0 = b + j * ldb;
      const float* b1 = b + (j + cols - 1) * ldb;
      __m512 acc[8][2];
      for (int i = 0; i < 8; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
      for (int64_t p = 0; p < k16; p += 16) {
        const __m512 w0 = _mm512_loadu_ps(b0 + p), w1 = _mm512_loadu_ps(b1 + p);
        for (int i = 0; i < rows; ++i) {
          const __m512 x = _mm512_loadu_ps(a + (i0 + i) * lda + p);
          acc[i][0] = _mm512_fmadd_ps(x, w0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(x, w1, acc[i][1]);
        }
      }
      if (tail) {
        const __m512 w0 = _mm512_maskz_loadu_ps(tail, b0 + k16), w1 = _mm512_maskz_loadu_ps(tail, b1 + k16);
        for (int i = 0; i < rows; ++i) {
          const __m512 x = _mm512_maskz_loadu_ps(tail, a + (i0 + i) * lda + k16);
          acc[i][0] = _mm512_fmadd_ps(x, w0, acc[i][0]);
          acc[i][1] = _mm512_fmadd_ps(x, w1, acc[i][1]);
        }
      }
      for (int i = 0; i < rows; ++i)
        for (int q = 0; q < cols; ++q) {
          float& out = c[(i0 + i) * crs + (j + q) * ccs];
          const float dot = _mm512_reduce_add_ps(acc[i][q]);
          out = beta == 0.0f ? alpha * dot : std::fma(alpha, dot, beta * out);
        }
    }
  }
}

void avx512_rows(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
                 int64_t ldb, float* c, int64_t crs, int64_t ccs, float alpha, float beta) {
  rows_times_matrix(m, j0, j1, k, a, ars, acs, b, ldb, c, crs, ccs, alpha, beta);  // vectorised 16 wide here
}

}  // namespace hone::kernels::cpu::gemm_detail
