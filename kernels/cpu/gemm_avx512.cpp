// AVX-512 micro-kernel: 12 x 32 tile, 24 zmm accumulators; per k step two B vectors are
// loaded and each of the 12 A values is broadcast into two FMAs.
// This file alone is compiled with -mavx512f -mfma; it runs only when the CPU has them.
#include <immintrin.h>

#include "kernels/cpu/gemm_microkernel.h"

namespace hone::kernels::cpu::gemm_detail {

namespace {
constexpr int MR = 12, NR = 32;

void kernel(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  __m512 acc[MR][2];
  for (int i = 0; i < MR; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < kc; ++p) {
    const __m512 b0 = _mm512_load_ps(bp), b1 = _mm512_load_ps(bp + 16);
    _mm_prefetch(reinterpret_cast<const char*>(bp + 4 * NR), _MM_HINT_T0);
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

}  // namespace hone::kernels::cpu::gemm_detail
