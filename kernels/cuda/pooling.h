#pragma once
// CUDA pooling (kernels/cuda/pooling.cu) over the contract of kernels/pooling.h, float32 and
// float64, on exec.stream. No GPU has run it yet.
#include "kernels/exec.h"
#include "kernels/pooling.h"

namespace hone::kernels::cuda {

void max_pool2d_forward(const MaxPool2dForwardArgs& args, const Exec& exec);
void max_pool2d_backward(const MaxPool2dBackwardArgs& args, const Exec& exec);
void avg_pool2d_forward(const AvgPool2dForwardArgs& args, const Exec& exec);
void avg_pool2d_backward(const AvgPool2dBackwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
