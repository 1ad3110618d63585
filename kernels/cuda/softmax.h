#pragma once
// CUDA softmax / log_softmax and cross-entropy (kernels/cuda/softmax.cu) over the contract of
// kernels/softmax.h, float32 and float64, on exec.stream. No GPU has run them yet.
#include "kernels/exec.h"
#include "kernels/softmax.h"

namespace hone::kernels::cuda {

void softmax_forward(const SoftmaxForwardArgs& args, const Exec& exec);
void softmax_backward(const SoftmaxBackwardArgs& args, const Exec& exec);
void cross_entropy_forward(const CrossEntropyArgs& args, const Exec& exec);
void cross_entropy_backward(const CrossEntropyBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
