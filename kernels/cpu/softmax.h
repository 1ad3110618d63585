#pragma once
// softmax / log_softmax along one dim of a contiguous tensor seen as [outer, dim, inner],
// and cross-entropy on [N, C] logits with integer targets and label smoothing.
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

struct SoftmaxArgs {
  DType dtype;
  int64_t outer, dim, inner;
  bool log;        // log_softmax instead of softmax
  const void* x;   // forward input; unused by backward
  const void* y;   // backward: the forward output
  const void* dy;  // backward: gradient of the output
  void* out;       // forward: y; backward: dx
};
void softmax_forward(const SoftmaxArgs& args, const Exec& exec);
void softmax_backward(const SoftmaxArgs& args, const Exec& exec);

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
void cross_entropy_forward(const CrossEntropyArgs& args, const Exec& exec);
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
void cross_entropy_backward(const CrossEntropyBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cpu
