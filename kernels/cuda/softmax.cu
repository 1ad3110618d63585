// softmax / log_softmax and cross-entropy on CUDA over the contract of kernels/softmax.h,
// first version (issue 13): one thread per row, the CPU kernels' arithmetic (double, same
// order), so results match them to rounding of exp/log. A target out of range cannot throw
// from a device: the op checks targets on the host before it launches. Compiled; no GPU
// has run it yet (the op harness runs it where one is present).
#include <cuda_runtime.h>

#include "kernels/cuda/softmax.h"
#include "kernels/cuda/launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

constexpr int kThreads = 128;

template <typename T>
__device__ void softmax_row(const T* px, T* py, int64_t dim, int64_t stride, bool log_out) {
  double mx = -INFINITY;
  for (int64_t d = 0; d < dim; ++d) mx = fmax(mx, double(px[d * stride]));
  double sum = 0;
  for (int64_t d = 0; d < dim; ++d) sum += exp(double(px[d * stride]) - mx);
  const double lse = mx + log(sum);
  for (int64_t d = 0; d < dim; ++d) {
    const double v = double(px[d * stride]) - lse;
    py[d * stride] = T(log_out ? v : exp(v));
  }
}

template <typename T>
__global__ void forward(SoftmaxForwardArgs a) {
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < a.outer * a.inner; r += int64_t(gridDim.x) * blockDim.x) {
    const int64_t base = (r / a.inner) * a.dim * a.inner + r % a.inner;
    softmax_row(static_cast<const T*>(a.x) + base, static_cast<T*>(a.y) + base, a.dim, a.inner, a.log);
  }
}

template <typename T>
__global__ void backward(SoftmaxBackwardArgs a) {
  const T* y = static_cast<const T*>(a.y);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  for (int64_t r = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; r < a.outer * a.inner; r += int64_t(gridDim.x) * blockDim.x)
    softmax_backward_row(a, r, y, dy, dx);
}

// `off` = label_smoothing / c, from the host (no double division in the kernel).
template <typename T>
__global__ void ce_forward(CrossEntropyArgs a, double off) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x) {
    const T* row = static_cast<const T*>(a.logits) + i * a.c;
    T* lp = static_cast<T*>(a.log_prob) + i * a.c;
    softmax_row(row, lp, a.c, 1, true);
    const int64_t t = a.target[i];
    T* loss = static_cast<T*>(a.losses);
    if (t == a.ignore_index) {
      loss[i] = T(0);
      continue;
    }
    if (t < 0 || t >= a.c) {  // the op refuses these first; never read out of bounds
      loss[i] = T(NAN);
      continue;
    }
    double v = -(1.0 - a.label_smoothing) * double(lp[t]);
    if (a.label_smoothing > 0) {
      double s = 0;
      for (int64_t k = 0; k < a.c; ++k) s += double(lp[k]);
      v -= off * s;
    }
    loss[i] = T(v);
  }
}

template <typename T>
__global__ void ce_backward(CrossEntropyBackwardArgs a, double off) {
  const T* scale = static_cast<const T*>(a.row_scale);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < a.n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = a.target[i];
    const T* lp = static_cast<const T*>(a.log_prob) + i * a.c;
    T* row = static_cast<T*>(a.dlogits) + i * a.c;
    const bool ignored = t == a.ignore_index;
    const double g = double(scale[i]);
    for (int64_t k = 0; k < a.c; ++k) {
      const double q = (k == t ? 1.0 - a.label_smoothing : 0.0) + off;
      row[k] = ignored ? T(0) : T(g * (exp(double(lp[k])) - q));
    }
  }
}

double smoothing_share(double label_smoothing, int64_t c) { return c > 0 ? label_smoothing / double(c) : 0.0; }

}  // namespace

void softmax_forward(const SoftmaxForwardArgs& a, const Exec& exec) {
  const int64_t rows = a.outer * a.inner;
  if (rows == 0 || a.dim == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda softmax", [&](auto tag) {
    forward<decltype(tag)><<<grid_for(rows, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(a);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda softmax");
}

void softmax_backward(const SoftmaxBackwardArgs& a, const Exec& exec) {
  const int64_t rows = a.outer * a.inner;
  if (rows == 0 || a.dim == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda softmax backward", [&](auto tag) {
    backward<decltype(tag)><<<grid_for(rows, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(a);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda softmax backward");
}

void cross_entropy_forward(const CrossEntropyArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda cross_entropy", [&](auto tag) {
    ce_forward<decltype(tag)><<<grid_for(a.n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a, smoothing_share(a.label_smoothing, a.c));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda cross_entropy");
}

void cross_entropy_backward(const CrossEntropyBackwardArgs& a, const Exec& exec) {
  if (a.n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda cross_entropy backward", [&](auto tag) {
    ce_backward<decltype(tag)><<<grid_for(a.n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a, smoothing_share(a.label_smoothing, a.c));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda cross_entropy backward");
}

}  // namespace hone::kernels::cuda
