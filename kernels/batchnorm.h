#pragma once
// batch norm's contract: the update convention and the argument structs every batch-norm
// kernel takes.
#include <cstdint>

#include "tensor/dtype.h"

namespace hone::kernels {

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
  bool relu = false;  // y = max(0, batch norm) in the same pass (a conv-bn-relu block's bn + relu)
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
  // The forward's output when it fused a relu: dy counts only where y > 0 (relu's backward,
  // in the same pass). nullptr: no relu.
  const void* y = nullptr;
};

// Throws a hone::Error unless the sizes and modes make sense (the op runs it once, after
// its own shape checks, before any kernel): batch statistics need at least one value per
// channel, running statistics must be given where they are read or updated.
void validate_batch_norm(const BatchNormForwardArgs& args);

}  // namespace hone::kernels
