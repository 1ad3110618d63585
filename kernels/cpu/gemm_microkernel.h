#pragma once
// Internal to the GEMM: a micro-kernel computes C[0:MR, 0:NR] (row stride ldc, unit
// column stride) = alpha * sum_p Ap[p] (x) Bp[p] + beta * C, from packed panels:
// Ap holds MR values per k step, Bp holds NR values per k step (both 64-byte aligned).
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace hone::kernels::cpu::gemm_detail {

using MicroKernelFn = void (*)(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha,
                               float beta);

struct MicroKernel {
  int mr, nr;
  MicroKernelFn fn;
};

// Few rows of A against B with contiguous columns (B(p, j) = b[j * ldb + p]: the x W^T of
// a linear layer): C(i, j) = alpha * dot(A row i, B column j) + beta * C(i, j) for
// j in [j0, j1), every i < m. A's rows are contiguous (A(i, p) = a[i * lda + p]). Each
// dot product is summed in a fixed lane order, whatever the thread split over j.
using DotFn = void (*)(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b,
                       int64_t ldb, float* c, int64_t c_row_stride, int64_t c_col_stride, float alpha, float beta);

// Few rows of A against B with contiguous rows (B(p, j) = b[p * ldb + j]: dY W in a
// linear layer's backward): C(i, j0:j1) = alpha * sum_p A(i, p) B(p, j0:j1) + beta * C,
// streaming B's rows once while the rows of C accumulate in a block that stays in L1.
// Each element sums its p terms in order: results do not depend on the split over j.
// A header template so each ISA file compiles it with its own vector width.
template <int kBlock = 512>
inline void rows_times_matrix(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t ars, int64_t acs,
                              const float* b, int64_t ldb, float* c, int64_t crs, int64_t ccs, float alpha, float beta) {
  float acc[16][kBlock];
  for (int64_t jb = j0; jb < j1; jb += kBlock) {
    const int64_t w = std::min<int64_t>(kBlock, j1 - jb);
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < w; ++j) acc[i][j] = 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float* row = b + p * ldb + jb;
      for (int64_t i = 0; i < m; ++i) {
        const float s = a[i * ars + p * acs];
        for (int64_t j = 0; j < w; ++j) acc[i][j] += s * row[j];
      }
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < w; ++j) {
        float& out = c[i * crs + (jb + j) * ccs];
        out = beta == 0.0f ? alpha * acc[i][j] : std::fma(alpha, acc[i][j], beta * out);
      }
  }
}
using RowsFn = void (*)(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t ars, int64_t acs,
                        const float* b, int64_t ldb, float* c, int64_t crs, int64_t ccs, float alpha, float beta);
void avx512_rows(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t ars, int64_t acs, const float* b,
                 int64_t ldb, float* c, int64_t crs, int64_t ccs, float alpha, float beta);

MicroKernel portable_kernel();
void portable_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float* c, int64_t crs, int64_t ccs, float alpha, float beta);
void avx512_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                float* c, int64_t crs, int64_t ccs, float alpha, float beta);
MicroKernel avx2_kernel();    // defined in gemm_avx2.cpp (compiled with -mavx2 -mfma)
MicroKernel avx512_kernel();  // defined in gemm_avx512.cpp (compiled with -mavx512f)

}  // namespace hone::kernels::cpu::gemm_detail
