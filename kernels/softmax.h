#pragma once
// The softmax and cross-entropy contract: the argument structs their kernels take.
#include <cmath>
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/host_device.h"

namespace hone::kernels {

struct SoftmaxForwardArgs {
  DType dtype;  // float32/float64
  int64_t outer, dim, inner;
  bool log;  // log_softmax instead of softmax
  const void* x;
  void* y;
};

struct SoftmaxBackwardArgs {
  DType dtype;
  int64_t outer, dim, inner;
  bool log;
  const void* y;   // the forward output
  const void* dy;  // gradient of the output
  void* dx;
};

// Per-row loss_i = -(1 - eps) * log p[i, t_i] - eps / C * sum_c log p[i, c] (PyTorch's
// label smoothing); rows whose target is ignore_index get 0 and count for nothing.
struct CrossEntropyArgs {
  DType dtype;
  int64_t n, c;
  const void* logits;     // [n, c]
  const int64_t* target;  // [n], each in [0, c) or ignore_index
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  void* losses;    // forward: [n] per-row loss
  void* log_prob;  // forward: [n, c] log_softmax(logits), kept for backward
};

// dlogits[i, :] = row_scale[i] * (softmax(logits)[i, :] - q_i), q_i the smoothed target.
struct CrossEntropyBackwardArgs {
  DType dtype;
  int64_t n, c;
  const void* log_prob;
  const int64_t* target;
  int64_t ignore_index = -100;
  double label_smoothing = 0;
  const void* row_scale;  // [n]: the loss gradient per row (already divided for a mean)
  void* dlogits;
};

// One row of the softmax / log_softmax backward (row r of outer * inner, `dim` values
// `inner` apart), in double: the CPU and CUDA kernels both run this.
template <typename T>
HONE_HOST_DEVICE inline void softmax_backward_row(const SoftmaxBackwardArgs& a, int64_t r, const T* y, const T* dy, T* dx) {
  const int64_t base = (r / a.inner) * a.dim * a.inner + r % a.inner;
  double s = 0;
  for (int64_t d = 0; d < a.dim; ++d) {
    const int64_t k = base + d * a.inner;
    s += a.log ? double(dy[k]) : double(dy[k]) * double(y[k]);
  }
  for (int64_t d = 0; d < a.dim; ++d) {
    const int64_t k = base + d * a.inner;
    dx[k] = a.log ? T(double(dy[k]) - ::exp(double(y[k])) * s) : T(double(y[k]) * (double(dy[k]) - s));
  }
}

}  // namespace hone::kernels
