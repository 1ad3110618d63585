// Batch norm on CUDA over the contract of kernels/batchnorm.h, first version (issue 13): one
// block per channel; the channel's sums run in double through a fixed-shape tree, so results
// do not depend on scheduling. Every mode of the CPU kernels: batch or running statistics,
// the running update in the PyTorch or the ONNX convention, and the backward of both; with a
// fused relu (BatchNormForwardArgs::relu) the output is clamped in the same pass and the
// backward reads dy through the mask y > 0 (BatchNormBackwardArgs::y).
// Compiled; no GPU has run it yet (the op harness runs it where one is present).
#include <cuda_runtime.h>

#include "kernels/cuda/batchnorm.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

constexpr int kThreads = 256;

// The sum over the block of each thread's `v`, in a fixed tree; every thread gets it.
__device__ __forceinline__ double block_sum(double v, double* scratch) {
  scratch[threadIdx.x] = v;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) scratch[threadIdx.x] += scratch[threadIdx.x + half];
    __syncthreads();
  }
  const double total = scratch[0];
  __syncthreads();  // scratch is reused by the next sum
  return total;
}

template <typename T>
// inv_m = 1 / (n * hw) and unbias = m / (m - 1) come from the host: a double division in the
// kernel is a call to a slow path, whose call frame spilled registers.
__global__ void __launch_bounds__(kThreads) forward(BatchNormForwardArgs a, double inv_m, double unbias) {
  __shared__ double scratch[kThreads];
  const int64_t c = blockIdx.x, m = a.n * a.hw;
  const T* x = static_cast<const T*>(a.x);
  auto at = [&](int64_t i) { return ((i / a.hw) * a.c + c) * a.hw + i % a.hw; };
  double mean, var;
  if (a.use_batch_stats) {
    double s = 0;
    for (int64_t i = threadIdx.x; i < m; i += kThreads) s += double(x[at(i)]);
    mean = block_sum(s, scratch) * inv_m;
    double q = 0;
    for (int64_t i = threadIdx.x; i < m; i += kThreads) {
      const double d = double(x[at(i)]) - mean;
      q += d * d;
    }
    var = block_sum(q, scratch) * inv_m;  // biased: what normalises
  } else {
    mean = double(static_cast<const T*>(a.running_mean)[c]);
    var = double(static_cast<const T*>(a.running_var)[c]);
  }
  const double invstd = __drcp_rn(__dsqrt_rn(var + a.eps));  // IEEE, as 1 / std::sqrt, inlined (no call frame)
  if (threadIdx.x == 0) {
    static_cast<T*>(a.save_mean)[c] = T(mean);
    static_cast<T*>(a.save_invstd)[c] = T(invstd);
    if (a.use_batch_stats && a.update_running) {
      T* rm = static_cast<T*>(a.running_mean);
      T* rv = static_cast<T*>(a.running_var);
      if (a.convention == BatchNormConvention::PyTorch) {
        const double unbiased = var * unbias;
        rm[c] = T((1 - a.momentum) * double(rm[c]) + a.momentum * mean);
        rv[c] = T((1 - a.momentum) * double(rv[c]) + a.momentum * unbiased);
      } else {
        rm[c] = T(a.momentum * double(rm[c]) + (1 - a.momentum) * mean);
        rv[c] = T(a.momentum * double(rv[c]) + (1 - a.momentum) * var);
      }
    }
  }
  const double g = a.gamma ? double(static_cast<const T*>(a.gamma)[c]) : 1.0;
  const double b = a.beta ? double(static_cast<const T*>(a.beta)[c]) : 0.0;
  T* y = static_cast<T*>(a.y);
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const T v = T(g * (double(x[at(i)]) - mean) * invstd + b);
    y[at(i)] = a.relu && !(v > T(0)) ? T(0) : v;
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads) backward(BatchNormBackwardArgs a) {
  __shared__ double scratch[kThreads];
  const int64_t c = blockIdx.x, m = a.n * a.hw;
  const T* x = static_cast<const T*>(a.x);
  const T* dy = static_cast<const T*>(a.dy);
  const T* out = static_cast<const T*>(a.y);  // the fused relu's output, or nullptr
  auto at = [&](int64_t i) { return ((i / a.hw) * a.c + c) * a.hw + i % a.hw; };
  auto grad = [&](int64_t i) { return out && !(out[at(i)] > T(0)) ? 0.0 : double(dy[at(i)]); };
  const double mean = double(static_cast<const T*>(a.save_mean)[c]);
  const double invstd = double(static_cast<const T*>(a.save_invstd)[c]);
  const double g = a.gamma ? double(static_cast<const T*>(a.gamma)[c]) : 1.0;
  double s = 0, sx = 0;
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const double d = grad(i);
    s += d;
    sx += d * (double(x[at(i)]) - mean) * invstd;
  }
  const double sum_dy = block_sum(s, scratch), sum_dy_xhat = block_sum(sx, scratch);
  if (threadIdx.x == 0) {
    if (a.dgamma) static_cast<T*>(a.dgamma)[c] = T(sum_dy_xhat);
    if (a.dbeta) static_cast<T*>(a.dbeta)[c] = T(sum_dy);
  }
  if (!a.dx) return;
  T* dx = static_cast<T*>(a.dx);
  for (int64_t i = threadIdx.x; i < m; i += kThreads) {
    const double d = grad(i);
    if (a.used_batch_stats) {
      const double xhat = (double(x[at(i)]) - mean) * invstd;
      dx[at(i)] = T(g * invstd / double(m) * (double(m) * d - sum_dy - xhat * sum_dy_xhat));
    } else {
      dx[at(i)] = T(g * invstd * d);
    }
  }
}

}  // namespace

void batchnorm_forward(const BatchNormForwardArgs& a, const Exec& exec) {
  if (a.c == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda batch_norm", [&](auto tag) {
    const int64_t m = a.n * a.hw;
    forward<decltype(tag)><<<unsigned(a.c), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a, m > 0 ? 1.0 / double(m) : 0.0, m > 1 ? double(m) / double(m - 1) : 1.0);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda batch_norm");
}

void batchnorm_backward(const BatchNormBackwardArgs& a, const Exec& exec) {
  if (a.c == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda batch_norm backward", [&](auto tag) {
    backward<decltype(tag)><<<unsigned(a.c), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(a);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda batch_norm backward");
}

}  // namespace hone::kernels::cuda
