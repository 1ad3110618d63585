#pragma once
// Differentiable ops for CNN training: batch norm, linear, fused add+relu, dropout,
// softmax / log_softmax, cross-entropy, and top-k accuracy (not differentiable).
#include "tensor/tensor.h"

namespace hone {

// How batch norm's running statistics follow the batch in training:
//   PyTorch: running = (1 - momentum) * running + momentum * batch; variance unbiased.
//   Onnx:    running = momentum * running + (1 - momentum) * batch; variance biased
//            (BatchNormalization-15 in training mode).
enum class BatchNormConvention { PyTorch, Onnx };

// The op's settings (the layer's are nn::BatchNorm2dOptions; libtorch's naming).
struct BatchNormFuncOptions {
  bool use_batch_stats = true;       // false: normalise with running stats (inference / frozen BN)
  bool update_running_stats = true;  // with batch stats: fold them into running_mean/var
  double momentum = 0.1;             // meaning depends on `convention`
  double eps = 1e-5;
  BatchNormConvention convention = BatchNormConvention::PyTorch;
  bool fuse_relu = false;            // relu(batch_norm(x)) in one pass (traced, and exported, as the two)
};
// x [N, C, *]; weight/bias [C] or undefined; running_mean/var [C] (updated in place).
// Gradients flow to x, weight and bias in every mode; with running statistics the
// normalisation is a constant affine map (what a frozen BN in fine-tuning needs).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                  const Tensor& running_var, const BatchNormFuncOptions& opts = {});

// y = x W^T + b for x [*, in], weight [out, in], bias [out] or undefined. Saves x only if
// the weight needs a gradient, and the weight only if x does.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// relu(a + b) in one pass: the end of a residual block.
Tensor add_relu(const Tensor& a, const Tensor& b);

// Zeroes each element with probability p and scales the rest by 1 / (1 - p) when
// training; the identity otherwise. Draws from `gen` or the current context's generator.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

Tensor softmax(const Tensor& x, int64_t dim);
Tensor log_softmax(const Tensor& x, int64_t dim);

enum class Reduction { Mean, Sum, None };
struct CrossEntropyOptions {
  Reduction reduction = Reduction::Mean;  // Mean: over rows whose target is not ignored
  double label_smoothing = 0.0;           // in [0, 1]
  int64_t ignore_index = -100;
};
// logits [N, C] (floating), target [N] int64 class indices.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& opts = {});

// Fraction of rows whose target is among the k largest logits (ties count against it).
double topk_accuracy(const Tensor& logits, const Tensor& target, int64_t k = 1);

}  // namespace hone
