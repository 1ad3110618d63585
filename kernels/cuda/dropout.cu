// Dropout on CUDA: one thread per Philox block (elements 2k, 2k+1) in the forward, one per
// element in the backward, grid-stride. The products are single IEEE multiplies in T, the
// comparison u >= p exact: nothing here a GPU rounds differently from the CPU kernel.
#include <cuda_runtime.h>

#include "kernels/cuda/dropout.h"
#include "kernels/cuda/launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

template <typename T>
__global__ void dropout_forward_kernel(int64_t n, double p, T kept, uint64_t seed, uint64_t first, const T* x, T* y,
                                       uint8_t* mask) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < pairs; k += int64_t(gridDim.x) * blockDim.x) {
    const PhiloxBlock b = philox4x32_10(seed, first + uint64_t(k));
    for (int lane = 0; lane < 2; ++lane) {
      const int64_t i = 2 * k + lane;
      if (i >= n) break;
      const bool keep = dropout_keeps(b, lane, p);
      mask[i] = uint8_t(keep);
      y[i] = x[i] * (keep ? kept : T(0));
    }
  }
}

template <typename T>
__global__ void dropout_backward_kernel(int64_t n, T kept, const uint8_t* mask, const T* dy, T* dx) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dx[i] = dy[i] * (mask[i] ? kept : T(0));
}

}  // namespace

void dropout_forward(const DropoutForwardArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda dropout", [&](auto tag) {
    using T = decltype(tag);
    dropout_forward_kernel<T><<<grid_for((a.n + 1) / 2, 256), 256, 0, stream>>>(
        a.n, a.p, T(a.scale), a.seed, a.first_block, static_cast<const T*>(a.x), static_cast<T*>(a.y), a.mask);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda dropout");
}

void dropout_backward(const DropoutBackwardArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda dropout backward", [&](auto tag) {
    using T = decltype(tag);
    dropout_backward_kernel<T><<<grid_for(a.n, 256), 256, 0, stream>>>(a.n, T(a.scale), a.mask,
                                                                       static_cast<const T*>(a.dy), static_cast<T*>(a.dx));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda dropout backward");
}

}  // namespace hone::kernels::cuda
