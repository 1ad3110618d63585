// rand/uniform/normal filled on CUDA with the CPU factories' arithmetic (tensor/factory.cpp),
// step for step. The uniform draw is integer arithmetic and an exact scaling (tensor/
// philox.h); the affine map is written with __d*_rn so nvcc cannot contract it into an FMA
// (the CPU rounds the product and the sum apart); the rounding to float and the step below
// `high` are IEEE operations. So uniform() gives the CPU's bits. normal() also uses CUDA's
// log, sin and cos, which may differ from glibc's by an ulp or two in double.
#include <cuda_runtime.h>

#include "tensor/cuda_kernels.h"
#include "tensor/cuda_launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/philox.h"

namespace hone::detail {

namespace {

// nextafter(x, -inf) for x not NaN, on the bits (the device has no constexpr-free nextafter
// nvcc accepts here): +-0 steps to the negative value of least magnitude, a positive value
// toward zero, a negative one away from it.
__device__ float next_below(float x) {
  const int b = __float_as_int(x);
  if ((b & 0x7fffffff) == 0) return __int_as_float(int(0x80000001u));
  return __int_as_float(b > 0 ? b - 1 : b + 1);
}
__device__ double next_below(double x) {
  const long long b = __double_as_longlong(x);
  if ((b & 0x7fffffffffffffffLL) == 0) return __longlong_as_double(static_cast<long long>(0x8000000000000001ULL));
  return __longlong_as_double(b > 0 ? b - 1 : b + 1);
}

template <typename T>
__global__ void uniform_kernel(T* out, int64_t n, uint64_t seed, uint64_t first, double low, double high) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const double u = philox_uniform(seed, first, i);
    T v = T(__dadd_rn(low, __dmul_rn(__dsub_rn(high, low), u)));  // low + (high - low) * u, rounded to T
    while (high > low && double(v) >= high) v = next_below(v);      // a draw rounded up to `high`
    out[i] = v;
  }
}

// One thread per Box-Muller pair: elements 2k (cos) and 2k+1 (sin) share block first + k.
template <typename T>
__global__ void normal_kernel(T* out, int64_t n, uint64_t seed, uint64_t first, double mean, double std) {
  const int64_t pairs = (n + 1) / 2;
  for (int64_t k = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; k < pairs; k += int64_t(gridDim.x) * blockDim.x) {
    const PhiloxBlock b = philox4x32_10(seed, first + uint64_t(k));
    const double u1 = __dsub_rn(1.0, philox_uniform_lane(b, 0)), u2 = philox_uniform_lane(b, 1);  // u1 in (0,1]
    const double r = sqrt(__dmul_rn(-2.0, log(u1)));
    const double th = __dmul_rn(2.0 * M_PI, u2);
    const double scaled = __dmul_rn(std, r);
    out[2 * k] = T(__dadd_rn(mean, __dmul_rn(scaled, cos(th))));
    if (2 * k + 1 < n) out[2 * k + 1] = T(__dadd_rn(mean, __dmul_rn(scaled, sin(th))));
  }
}


}  // namespace

void cuda_fill_uniform(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t first, double low, double high,
                       void* stream) {
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(dtype, "cuda uniform", [&](auto tag) {
    using T = decltype(tag);
    uniform_kernel<T><<<grid_for(n, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(static_cast<T*>(out), n, seed,
                                                                                         first, low, high);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda uniform");
}

void cuda_fill_normal(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t first, double mean, double std,
                      void* stream) {
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(dtype, "cuda normal", [&](auto tag) {
    using T = decltype(tag);
    normal_kernel<T><<<grid_for((n + 1) / 2, 256), 256, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<T*>(out), n, seed, first, mean, std);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda normal");
}

}  // namespace hone::detail
