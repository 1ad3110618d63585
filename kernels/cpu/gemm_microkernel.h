#pragma once
// Internal to the GEMM: a micro-kernel computes C[0:MR, 0:NR] (row stride ldc, unit
// column stride) = alpha * sum_p Ap[p] (x) Bp[p] + beta * C, from packed panels:
// Ap holds MR values per k step, Bp holds NR values per k step (both 64-byte aligned).
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

MicroKernel portable_kernel();
void portable_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float* c, int64_t crs, int64_t ccs, float alpha, float beta);
void avx512_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                float* c, int64_t crs, int64_t ccs, float alpha, float beta);
MicroKernel avx2_kernel();    // defined in gemm_avx2.cpp (compiled with -mavx2 -mfma)
MicroKernel avx512_kernel();  // defined in gemm_avx512.cpp (compiled with -mavx512f)

}  // namespace hone::kernels::cpu::gemm_detail
