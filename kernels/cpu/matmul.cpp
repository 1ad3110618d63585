#include "kernels/cpu/matmul.h"

#include "kernels/cpu/gemm.h"
#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {
void plain_loop(const MatmulArgs& p, const Exec& exec);
}  // namespace

void matmul(const MatmulArgs& p, const Exec& exec) {
  if (p.dtype == DType::Float32) {  // the packed GEMM, one call per batch entry
    for (int64_t b = 0; b < p.batch; ++b)
      sgemm({.m = p.m, .n = p.n, .k = p.k,
             .a = static_cast<const float*>(p.a) + b * p.a_batch_stride, .a_row_stride = p.a_row_stride, .a_col_stride = p.a_col_stride,
             .b = static_cast<const float*>(p.b) + b * p.b_batch_stride, .b_row_stride = p.b_row_stride, .b_col_stride = p.b_col_stride,
             .c = static_cast<float*>(p.c) + b * p.c_batch_stride, .c_row_stride = p.c_row_stride, .c_col_stride = p.c_col_stride}, exec);
    return;
  }
  plain_loop(p, exec);
}

namespace {
// The plain loop, one task per output row; float64 runs it (accumulating in double).
void plain_loop(const MatmulArgs& p, const Exec& exec) {
  HONE_DISPATCH_FLOAT(p.dtype, "matmul", [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;
    const T* A = static_cast<const T*>(p.a);
    const T* B = static_cast<const T*>(p.b);
    T* C = static_cast<T*>(p.c);
    // One task per output row (over all batches); each row's sums run in a fixed k order.
    parallel_for(exec, p.batch * p.m, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, p.n * p.k)), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t b = r / p.m, i = r % p.m;
        const T* a = A + b * p.a_batch_stride + i * p.a_row_stride;
        const T* bb = B + b * p.b_batch_stride;
        T* c = C + b * p.c_batch_stride + i * p.c_row_stride;
        for (int64_t j = 0; j < p.n; ++j) {
          Acc acc = 0;
          for (int64_t kk = 0; kk < p.k; ++kk)
            acc += Acc(a[kk * p.a_col_stride]) * Acc(bb[kk * p.b_row_stride + j * p.b_col_stride]);
          c[j * p.c_col_stride] = T(acc);
        }
      }
    });
  });
}
}  // namespace

void matmul_reference(const MatmulArgs& p) { plain_loop(p, Exec{}); }

}  // namespace hone::kernels::cpu
