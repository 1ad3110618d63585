// Batch norm through cuDNN's spatial batch normalisation, with three small kernels for what
// cuDNN does not do in hone's contract: the ONNX running update, the statistics an inference
// forward reports, and the backward through running statistics (kernels/vendor/vendor.h).
// Compiled; no GPU has run it yet.
#include <cuda_runtime.h>

#include "kernels/cuda/launch.h"
#include "kernels/vendor/common.h"
#include "kernels/vendor/kernels.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::vendor {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void fill(T* p, int64_t n, T v) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

// ONNX: running = momentum * running + (1 - momentum) * batch, with the biased variance;
// `batch_var` is cuDNN's unbiased one, times unbias_inv = (m - 1) / m.
template <typename T>
__global__ void onnx_update(T* rm, T* rv, const T* batch_mean, const T* batch_var, int64_t c, double momentum,
                            double unbias_inv) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < c; i += int64_t(gridDim.x) * blockDim.x) {
    rm[i] = T(momentum * double(rm[i]) + (1 - momentum) * double(batch_mean[i]));
    rv[i] = T(momentum * double(rv[i]) + (1 - momentum) * double(batch_var[i]) * unbias_inv);
  }
}

// What an inference forward used: the running mean and 1 / sqrt(running_var + eps).
template <typename T>
__global__ void running_stats(T* save_mean, T* save_invstd, const T* rm, const T* rv, int64_t c, double eps) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < c; i += int64_t(gridDim.x) * blockDim.x) {
    save_mean[i] = rm[i];
    save_invstd[i] = T(1.0 / sqrt(double(rv[i]) + eps));
  }
}

// Backward through constant statistics: dx = dy * gamma * invstd, and t = dy * (x - mean) *
// invstd, whose per-channel sum is dgamma.
// The fused relu (BatchNormForwardArgs::relu), which cuDNN's batch norm does not have: in
// place on its output, and its backward: dy where y > 0, else 0.
template <typename T>
__global__ void relu_inplace(T* y, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = y[i] > T(0) ? y[i] : T(0);
}
template <typename T>
__global__ void relu_mask(const T* dy, const T* y, T* out, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    out[i] = y[i] > T(0) ? dy[i] : T(0);
}

template <typename T>
__global__ void constant_stats_backward(BatchNormBackwardArgs a, T* t) {
  const int64_t total = a.n * a.c * a.hw;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ch = (i / a.hw) % a.c;
    const T dy = static_cast<const T*>(a.dy)[i];
    const T invstd = static_cast<const T*>(a.save_invstd)[ch];
    if (a.dx) {
      const T gamma = a.gamma ? static_cast<const T*>(a.gamma)[ch] : T(1);
      static_cast<T*>(a.dx)[i] = dy * gamma * invstd;
    }
    t[i] = dy * (static_cast<const T*>(a.x)[i] - static_cast<const T*>(a.save_mean)[ch]) * invstd;
  }
}

cudaStream_t stream_of(const Exec& exec) { return static_cast<cudaStream_t>(exec.stream); }

template <typename T>
void launch_fill(void* p, int64_t n, T v, const Exec& exec) {
  fill<T><<<cuda::grid_for(n, kThreads), kThreads, 0, stream_of(exec)>>>(static_cast<T*>(p), n, v);
  HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) fill");
}

// gamma (or beta) as cuDNN needs it: the caller's, or `v` repeated in scratch.
template <typename T>
const void* param_or(const void* given, Scratch& scratch, int64_t c, T v, const Exec& exec) {
  if (given) return given;
  launch_fill<T>(scratch.get(), c, v, exec);
  return scratch.get();
}

template <typename T>
void forward_bn(const BatchNormForwardArgs& a, const Exec& exec) {
  constexpr const char* op = "batch_norm forward (cudnn)";
  const size_t cbytes = size_t(a.c) * sizeof(T);
  const int64_t m = a.n * a.hw;
  HONE_CHECK(a.eps >= CUDNN_BN_MIN_EPSILON, op, ": eps ", a.eps, " is below cuDNN's minimum ", CUDNN_BN_MIN_EPSILON,
             "; use Backend::Native for batch_norm");
  HONE_CHECK(!(a.use_batch_stats && a.update_running && m == 1), op,
             ": a running-statistics update over one value per channel (n * h * w = 1): cuDNN's unbiased variance "
             "divides by zero; use Backend::Native for batch_norm");
  if (!a.use_batch_stats) {
    running_stats<T><<<cuda::grid_for(a.c, kThreads), kThreads, 0, stream_of(exec)>>>(
        static_cast<T*>(a.save_mean), static_cast<T*>(a.save_invstd), static_cast<const T*>(a.running_mean),
        static_cast<const T*>(a.running_var), a.c, a.eps);
    HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) running statistics");
    if (m == 0) return;
  }
  TensorDesc x, stats;
  x.set(a.dtype, a.n, a.c, a.hw, 1, op);
  HONE_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(stats.d, x.d, CUDNN_BATCHNORM_SPATIAL));
  Scratch ones(a.gamma ? 0 : cbytes, exec), zeros(a.beta ? 0 : cbytes, exec);
  const void* gamma = param_or<T>(a.gamma, ones, a.c, T(1), exec);
  const void* beta = param_or<T>(a.beta, zeros, a.c, T(0), exec);
  cudnnHandle_t h = cudnn_handle(exec);
  const Scale one(a.dtype, 1), zero(a.dtype, 0);
  if (!a.use_batch_stats) {
    HONE_CUDNN_CHECK(cudnnBatchNormalizationForwardInference(h, CUDNN_BATCHNORM_SPATIAL, one.get(), zero.get(), x.d,
                                                             a.x, x.d, a.y, stats.d, gamma, beta, a.running_mean,
                                                             a.running_var, a.eps));
    return;
  }
  const bool onnx = a.update_running && a.convention == BatchNormConvention::Onnx;
  // ONNX: cuDNN's factor 1 writes the batch statistics themselves to scratch.
  Scratch batch(onnx ? 2 * cbytes : 0, exec);
  // cuDNN computes running * (1 - 1) + batch * 1: stale NaN bits in reused memory would survive 0 * NaN.
  if (onnx) HONE_CUDA_CHECK(cudaMemsetAsync(batch.get(), 0, 2 * cbytes, stream_of(exec)));
  void* rm = onnx ? batch.get() : a.update_running ? a.running_mean : nullptr;
  void* rv = onnx ? static_cast<char*>(batch.get()) + cbytes : a.update_running ? a.running_var : nullptr;
  HONE_CUDNN_CHECK(cudnnBatchNormalizationForwardTraining(h, CUDNN_BATCHNORM_SPATIAL, one.get(), zero.get(), x.d, a.x,
                                                          x.d, a.y, stats.d, gamma, beta, onnx ? 1.0 : a.momentum, rm,
                                                          rv, a.eps, a.save_mean, a.save_invstd));
  if (onnx) {
    onnx_update<T><<<cuda::grid_for(a.c, kThreads), kThreads, 0, stream_of(exec)>>>(
        static_cast<T*>(a.running_mean), static_cast<T*>(a.running_var), static_cast<const T*>(rm),
        static_cast<const T*>(rv), a.c, a.momentum, double(m - 1) / double(m));
    HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) ONNX running update");
  }
}

template <typename T>
void forward(const BatchNormForwardArgs& a, const Exec& exec) {
  forward_bn<T>(a, exec);
  const int64_t total = a.n * a.c * a.hw;
  if (a.relu && total > 0) {
    relu_inplace<T><<<cuda::grid_for(total, kThreads), kThreads, 0, stream_of(exec)>>>(static_cast<T*>(a.y), total);
    HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) fused relu");
  }
}

template <typename T>
void backward_bn(const BatchNormBackwardArgs& a, const Exec& exec);

// With a fused relu, cuDNN's backward gets dy masked where the forward's output was <= 0.
template <typename T>
void backward(const BatchNormBackwardArgs& a, const Exec& exec) {
  const int64_t total = a.n * a.c * a.hw;
  if (!a.y || total == 0) return backward_bn<T>(a, exec);
  Scratch masked(size_t(total) * sizeof(T), exec);
  relu_mask<T><<<cuda::grid_for(total, kThreads), kThreads, 0, stream_of(exec)>>>(
      static_cast<const T*>(a.dy), static_cast<const T*>(a.y), static_cast<T*>(masked.get()), total);
  HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) fused relu backward");
  BatchNormBackwardArgs b = a;
  b.dy = masked.get();
  b.y = nullptr;
  backward_bn<T>(b, exec);
}

template <typename T>
void backward_bn(const BatchNormBackwardArgs& a, const Exec& exec) {
  constexpr const char* op = "batch_norm backward (cudnn)";
  const size_t cbytes = size_t(a.c) * sizeof(T), xbytes = size_t(a.n * a.c * a.hw) * sizeof(T);
  if (a.n * a.hw == 0) {  // no values: parameter gradients are sums over nothing
    for (void* p : {a.dgamma, a.dbeta})
      if (p) HONE_CUDA_CHECK(cudaMemsetAsync(p, 0, cbytes, stream_of(exec)));
    return;
  }
  TensorDesc x, stats;
  x.set(a.dtype, a.n, a.c, a.hw, 1, op);
  HONE_CUDNN_CHECK(cudnnDeriveBNTensorDescriptor(stats.d, x.d, CUDNN_BATCHNORM_SPATIAL));
  cudnnHandle_t h = cudnn_handle(exec);
  const Scale one(a.dtype, 1), zero(a.dtype, 0);
  if (!a.used_batch_stats) {
    Scratch t(xbytes, exec);
    const int64_t total = a.n * a.c * a.hw;
    constant_stats_backward<T><<<cuda::grid_for(total, kThreads), kThreads, 0, stream_of(exec)>>>(
        a, static_cast<T*>(t.get()));
    HONE_CUDA_CHECK_LAUNCH("batch_norm (cudnn) backward through running statistics");
    // The per-channel sums over (n, h, w) are what a convolution's bias gradient computes.
    if (a.dgamma) HONE_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, one.get(), x.d, t.get(), zero.get(), stats.d, a.dgamma));
    if (a.dbeta) HONE_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, one.get(), x.d, a.dy, zero.get(), stats.d, a.dbeta));
    return;
  }
  // cuDNN computes all three gradients: the ones not asked for go to scratch.
  Scratch ones(a.gamma ? 0 : cbytes, exec), dx(a.dx ? 0 : xbytes, exec), dparams(a.dgamma && a.dbeta ? 0 : 2 * cbytes, exec);
  const void* gamma = param_or<T>(a.gamma, ones, a.c, T(1), exec);
  void* dgamma = a.dgamma ? a.dgamma : dparams.get();
  void* dbeta = a.dbeta ? a.dbeta : static_cast<char*>(dparams.get()) + cbytes;
  // eps is unused when the saved statistics are given; cuDNN still checks it.
  HONE_CUDNN_CHECK(cudnnBatchNormalizationBackward(h, CUDNN_BATCHNORM_SPATIAL, one.get(), zero.get(), one.get(),
                                                   zero.get(), x.d, a.x, x.d, a.dy, x.d, a.dx ? a.dx : dx.get(),
                                                   stats.d, gamma, dgamma, dbeta, 1e-5, a.save_mean, a.save_invstd));
}

}  // namespace

void batchnorm_forward(const BatchNormForwardArgs& a, const Exec& exec) {
  if (a.dtype == DType::Float64) forward<double>(a, exec);
  else if (a.dtype == DType::Float32) forward<float>(a, exec);
  else fail("batch_norm forward (cudnn): float32 or float64, not ", dtype_name(a.dtype));
}

void batchnorm_backward(const BatchNormBackwardArgs& a, const Exec& exec) {
  if (a.dtype == DType::Float64) backward<double>(a, exec);
  else if (a.dtype == DType::Float32) backward<float>(a, exec);
  else fail("batch_norm backward (cudnn): float32 or float64, not ", dtype_name(a.dtype));
}

}  // namespace hone::kernels::vendor
