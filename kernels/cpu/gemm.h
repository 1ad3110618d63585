#pragma once
// Single-precision GEMM written here (no BLAS in libhone): C = alpha * A B + beta * C.
// BLIS-style: B is packed into KC x NR panels, A into MR x KC panels, and a register-
// blocked micro-kernel computes one MR x NR tile of C. The micro-kernel is chosen at run
// time from the CPU's features (AVX-512, AVX2+FMA, or portable C++); tests run every path.
#include <cstdint>

namespace hone::kernels::cpu {

struct GemmArgs {
  int64_t m, n, k;
  const float* a;
  int64_t a_row_stride, a_col_stride;  // A(i,p) = a[i * a_row_stride + p * a_col_stride]
  const float* b;
  int64_t b_row_stride, b_col_stride;  // B(p,j)
  float* c;
  int64_t c_row_stride, c_col_stride;  // C(i,j)
  float alpha = 1.0f;
  float beta = 0.0f;  // 0: C is written without being read (it may hold garbage)
};

enum class GemmIsa { Auto, Avx512, Avx2, Portable };

// Runs on the current context's threads. Each element of C is computed by one thread in a
// fixed k order, so results do not depend on the thread count.
void sgemm(const GemmArgs& args, GemmIsa isa = GemmIsa::Auto);

GemmIsa best_gemm_isa();              // what Auto picks on this CPU
bool gemm_isa_supported(GemmIsa isa);  // can this CPU run that micro-kernel?
const char* gemm_isa_name(GemmIsa isa);

}  // namespace hone::kernels::cpu
