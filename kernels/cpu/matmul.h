#pragma once
// Batched matrix product C[b] = A[b] x B[b] on strided operands (any strides, so the op
// layer passes transposed views without copying). float32 runs on the packed GEMM
// (kernels/cpu/gemm.h); float64 and the reference use a plain loop, accumulating in double.
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

struct MatmulArgs {
  DType dtype;  // float32/float64
  int64_t batch, m, n, k;
  const void* a;
  int64_t a_batch_stride, a_row_stride, a_col_stride;  // A is m x k
  const void* b;
  int64_t b_batch_stride, b_row_stride, b_col_stride;  // B is k x n
  void* c;
  int64_t c_batch_stride, c_row_stride, c_col_stride;  // C is m x n (overwritten)
};

void matmul(const MatmulArgs& args, const Exec& exec);
void matmul_reference(const MatmulArgs& args);  // the plain loop, any dtype it supports

}  // namespace hone::kernels::cpu
