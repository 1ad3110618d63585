#pragma once
// matmul's contract: the argument struct every batched matrix-product kernel takes.
#include <cstdint>

#include "tensor/dtype.h"

namespace hone::kernels {

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

}  // namespace hone::kernels
