// Batched matmul through cuBLAS (kernels/vendor/vendor.h). cuBLAS is column-major and wants
// each matrix with one unit stride; hone's contract allows any strides. So the product is
// posed as column-major X = Y Z in the orientation where the output has a unit row stride
// (C itself, or C^T = B^T A^T), each operand is passed as is (op N), transposed (op T), or,
// when neither describes it, packed first by a strided copy; likewise an output that fits
// neither orientation is computed packed and copied out. Compiled; no GPU has run it yet.
#include <cuda_runtime.h>

#include "kernels/cuda/launch.h"
#include "kernels/vendor/blas_layout.h"
#include "kernels/vendor/common.h"
#include "kernels/vendor/kernels.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::vendor {

namespace {

constexpr int kThreads = 256;

// dst = src element by element (src.p == nullptr: dst = 0); both views have the same sizes.
template <typename T>
__global__ void copy_view(MatrixView dst, MatrixView src) {
  const int64_t total = dst.batch * dst.rows * dst.cols;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x)
    static_cast<T*>(dst.p)[view_offset(dst, i)] = src.p ? static_cast<const T*>(src.p)[view_offset(src, i)] : T(0);
}

template <typename T>
void copy(const MatrixView& dst, const MatrixView& src, const Exec& exec) {
  const int64_t total = dst.batch * dst.rows * dst.cols;
  copy_view<T><<<cuda::grid_for(total, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(dst, src);
  HONE_CUDA_CHECK_LAUNCH("matmul (cublas) strided copy");
}

cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const float* a,
                    int lda, long long sa, const float* b, int ldb, long long sb, float* c, int ldc, long long sc,
                    int batch) {
  const float one = 1, zero = 0;
  return cublasSgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c, ldc, sc, batch);
}
cublasStatus_t gemm(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k, const double* a,
                    int lda, long long sa, const double* b, int ldb, long long sb, double* c, int ldc, long long sc,
                    int batch) {
  const double one = 1, zero = 0;
  return cublasDgemmStridedBatched(h, ta, tb, m, n, k, &one, a, lda, sa, b, ldb, sb, &zero, c, ldc, sc, batch);
}

template <typename T>
void run(const MatmulArgs& p, const Exec& exec) {
  constexpr const char* op = "matmul (cublas)";
  if (p.batch == 0 || p.m == 0 || p.n == 0) return;
  if (p.k == 0) {  // a sum over nothing: C = 0 (cuBLAS may not touch C at all)
    copy<T>({p.c, p.batch, p.m, p.n, p.c_batch_stride, p.c_row_stride, p.c_col_stride},
            {nullptr, p.batch, p.m, p.n, 0, 0, 0}, exec);
    return;
  }
  GemmPlan plan = plan_gemm(p);
  auto bytes = [](const MatrixView& v) { return size_t(v.batch * v.rows * v.cols) * sizeof(T); };
  Scratch sx(plan.pack_x ? bytes(plan.x) : 0, exec), sy(plan.pack_y ? bytes(plan.y) : 0, exec),
      sz(plan.pack_z ? bytes(plan.z) : 0, exec);
  const MatrixView out = plan.pack_x ? packed_like(plan.x, sx.get()) : plan.x;
  MatrixView y = plan.y, z = plan.z;
  if (plan.pack_y) {
    y = packed_like(plan.y, sy.get());
    copy<T>(y, plan.y, exec);
  }
  if (plan.pack_z) {
    z = packed_like(plan.z, sz.get());
    copy<T>(z, plan.z, exec);
  }
  const BlasLayout lx = blas_layout(out), ly = blas_layout(y), lz = blas_layout(z);
  auto blas_op = [](const BlasLayout& l) { return l.transpose ? CUBLAS_OP_T : CUBLAS_OP_N; };
  cublasHandle_t h = cublas_handle(exec);
  const bool tf32 = exec.allow_tf32 && sizeof(T) == 4;
  HONE_CUBLAS_CHECK(cublasSetMathMode(h, tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
  HONE_CUBLAS_CHECK(gemm(h, blas_op(ly), blas_op(lz), to_int(out.rows, op, "rows"), to_int(out.cols, op, "columns"),
                         to_int(p.k, op, "k"), static_cast<const T*>(y.p), to_int(ly.ld, op, "leading dimension"),
                         y.batch_stride, static_cast<const T*>(z.p), to_int(lz.ld, op, "leading dimension"),
                         z.batch_stride, static_cast<T*>(out.p), to_int(lx.ld, op, "leading dimension"),
                         out.batch_stride, to_int(p.batch, op, "batch")));
  if (plan.pack_x) copy<T>(plan.x, out, exec);
}

}  // namespace

void matmul(const MatmulArgs& p, const Exec& exec) {
  if (p.dtype == DType::Float64) run<double>(p, exec);
  else if (p.dtype == DType::Float32) run<float>(p, exec);
  else fail("matmul (cublas): float32 or float64, not ", dtype_name(p.dtype));
}

}  // namespace hone::kernels::vendor
