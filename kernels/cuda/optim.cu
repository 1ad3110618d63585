// Optimizer updates on CUDA, first version (issue 13): one thread per element (grid-stride)
// running the element math of kernels/optim.h, whose explicitly rounded intrinsics make
// the device compute the CPU's bits. The sum of squares is one block summing in double in
// a fixed order (each thread a fixed stride of elements, then a fixed-shape tree), so it is
// deterministic but reads at one SM's pace; the scaling reads the total on the device, so
// clip_grad_norm needs no host round trip. Compiled for sm_90; NO GPU HAS RUN THESE YET.
#include <cuda_runtime.h>

#include "kernels/cuda/launch.h"
#include "kernels/cuda/optim.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kSumThreads = 1024;  // the one block of the sum of squares (a power of two)

__device__ bool trains(const uint8_t* mask, int64_t i) { return !mask || mask[i] != 0; }

template <typename T>
__global__ void sgd_kernel(SgdScalars<T> s, int64_t n, T* p, const T* g, T* buf, const uint8_t* mask) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (!trains(mask, i)) continue;
    T w = p[i];
    sgd_element(s, w, g[i], buf ? buf + i : nullptr);
    p[i] = w;
  }
}

template <typename T>
__global__ void adam_kernel(AdamScalars<T> s, int64_t n, T* p, const T* g, T* m, T* v, const uint8_t* mask) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    if (!trains(mask, i)) continue;
    T w = p[i], mi = m[i], vi = v[i];
    adam_element(s, w, g[i], mi, vi);
    p[i] = w;
    m[i] = mi;
    v[i] = vi;
  }
}

template <typename T>
__global__ void sum_of_squares_kernel(int64_t n, const T* x, double* total, bool accumulate) {
  __shared__ double partial[kSumThreads];
  double s = 0;
  for (int64_t i = threadIdx.x; i < n; i += kSumThreads) s = __dadd_rn(s, __dmul_rn(double(x[i]), double(x[i])));
  partial[threadIdx.x] = s;
  __syncthreads();
  for (int half = kSumThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) partial[threadIdx.x] = __dadd_rn(partial[threadIdx.x], partial[threadIdx.x + half]);
    __syncthreads();
  }
  if (threadIdx.x == 0) *total = __dadd_rn(accumulate ? *total : 0.0, partial[0]);
}

template <typename T>
__global__ void clip_scale_kernel(int64_t n, T* g, const double* total, double max_norm) {
  const ClipCoefficient c = clip_coefficient(*total, max_norm);
  if (!c.apply) return;
  const T coef = T(c.coef);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    g[i] = mul_rn(g[i], coef);
}

}  // namespace

void sgd_update(const SgdUpdateArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda sgd_update", [&](auto tag) {
    using T = decltype(tag);
    const SgdScalars<T> s = sgd_scalars<T>(a);
    sgd_kernel<T><<<grid_for(a.n, kThreads), kThreads, 0, stream>>>(
        s, a.n, static_cast<T*>(a.param), static_cast<const T*>(a.grad),
        s.use_momentum ? static_cast<T*>(a.momentum_buffer) : nullptr, a.mask);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda sgd_update");
}

void adam_update(const AdamUpdateArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda adam_update", [&](auto tag) {
    using T = decltype(tag);
    adam_kernel<T><<<grid_for(a.n, kThreads), kThreads, 0, stream>>>(
        adam_scalars<T>(a), a.n, static_cast<T*>(a.param), static_cast<const T*>(a.grad), static_cast<T*>(a.exp_avg),
        static_cast<T*>(a.exp_avg_sq), a.mask);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda adam_update");
}

void sum_of_squares(const SumOfSquaresArgs& a, const Exec& exec) {
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda sum_of_squares", [&](auto tag) {
    using T = decltype(tag);
    sum_of_squares_kernel<T><<<1, kSumThreads, 0, stream>>>(a.n, static_cast<const T*>(a.in), a.total,
                                                               a.accumulate);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda sum_of_squares");
}

void clip_scale(const ClipScaleArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda clip_scale", [&](auto tag) {
    using T = decltype(tag);
    clip_scale_kernel<T><<<grid_for(a.n, kThreads), kThreads, 0, stream>>>(a.n, static_cast<T*>(a.grad), a.total,
                                                                           a.max_norm);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda clip_scale");
}

}  // namespace hone::kernels::cuda
