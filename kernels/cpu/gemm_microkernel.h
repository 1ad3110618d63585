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

MicroKernel portable_kernel();
MicroKernel avx2_kernel();    // defined in gemm_avx2.cpp (compiled with -mavx2 -mfma)
MicroKernel avx512_kernel();  // defined in gemm_avx512.cpp (compiled with -mavx512f)

}  // namespace hone::kernels::cpu::gemm_detail
