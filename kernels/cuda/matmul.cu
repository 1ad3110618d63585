// Batched matmul on CUDA (the contract of kernels/matmul.h: any strides, so transposed views
// cost no copy) through the tiled GEMM of kernels/cuda/tiled_gemm.cuh, one batch entry per
// blockIdx.y; TF32 tensor cores for float32 when Exec::allow_tf32. First version; compiled,
// no GPU has run it yet.
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/tiled_gemm.cuh"

namespace hone::kernels::cuda {

namespace {

template <typename T>
struct StridedLoader {
  MatmulArgs p;
  __device__ T a(int64_t b, int64_t m, int64_t k) const {
    return static_cast<const T*>(p.a)[b * p.a_batch_stride + m * p.a_row_stride + k * p.a_col_stride];
  }
  __device__ T b(int64_t b, int64_t k, int64_t n) const {
    return static_cast<const T*>(p.b)[b * p.b_batch_stride + k * p.b_row_stride + n * p.b_col_stride];
  }
  __device__ void store(int64_t b, int64_t m, int64_t n, T v) const {
    static_cast<T*>(p.c)[b * p.c_batch_stride + m * p.c_row_stride + n * p.c_col_stride] = v;
  }
};

}  // namespace

void matmul(const MatmulArgs& p, const Exec& exec) {
  HONE_DISPATCH_FLOAT(p.dtype, "cuda matmul", [&](auto tag) {
    using T = decltype(tag);
    launch_gemm<T>(p.m, p.n, p.k, p.batch, StridedLoader<T>{p}, static_cast<cudaStream_t>(exec.stream), "cuda matmul",
                   exec.allow_tf32);
  });
}

}  // namespace hone::kernels::cuda
