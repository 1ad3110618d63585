#pragma once
// Batch normalization over dim 1 of a contiguous [N, C, *] tensor (HW = product of the
// trailing dims). Two statistics modes: batch statistics (training) or the running
// statistics (inference, and "frozen" BN in fine-tuning; whether running statistics are
// updated is a separate flag). Sums per channel run in a fixed order in double.
// `*_reference` are the textbook formulas, one element at a time, for the tests.
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

// How running statistics are updated in training mode.
//   PyTorch: running = (1 - momentum) * running + momentum * batch; variance unbiased.
//   ONNX:    running = momentum * running + (1 - momentum) * batch; variance biased
//            (BatchNormalization-15 training mode, as its reference implementation).
enum class BatchNormConvention { PyTorch, Onnx };

struct BatchNormForwardArgs {
  DType dtype;  // float32/float64 for x, y, gamma, beta, running stats
  int64_t n, c, hw;
  const void* x;
  const void* gamma;     // [c] or nullptr (1)
  const void* beta;      // [c] or nullptr (0)
  void* running_mean;    // [c]; read when !use_batch_stats, updated when update_running
  void* running_var;     // [c]
  bool use_batch_stats;  // true: normalise with this batch's statistics
  bool update_running;   // with use_batch_stats: fold the batch statistics into running_*
  double momentum = 0.1;
  double eps = 1e-5;
  BatchNormConvention convention = BatchNormConvention::PyTorch;
  void* y;
  void* save_mean;    // [c] out: the mean used (batch or running)
  void* save_invstd;  // [c] out: 1 / sqrt(var + eps) used
};

struct BatchNormBackwardArgs {
  DType dtype;
  int64_t n, c, hw;
  const void* x;
  const void* gamma;  // [c] or nullptr
  const void* dy;
  const void* save_mean;
  const void* save_invstd;
  bool used_batch_stats;  // the statistics depended on x (training) or were constants
  void* dx;               // nullptr: not needed
  void* dgamma;           // nullptr: not needed
  void* dbeta;            // nullptr: not needed
};

void batchnorm_forward(const BatchNormForwardArgs& args, const Exec& exec);
void batchnorm_backward(const BatchNormBackwardArgs& args, const Exec& exec);
void batchnorm_forward_reference(const BatchNormForwardArgs& args);
void batchnorm_backward_reference(const BatchNormBackwardArgs& args);

}  // namespace hone::kernels::cpu
