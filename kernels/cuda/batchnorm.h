#pragma once
// CUDA batch norm (kernels/cuda/batchnorm.cu) over the contract of kernels/batchnorm.h,
// float32 and float64, on exec.stream. No GPU has run it yet.
#include "kernels/batchnorm.h"
#include "kernels/exec.h"

namespace hone::kernels::cuda {

void batchnorm_forward(const BatchNormForwardArgs& args, const Exec& exec);
void batchnorm_backward(const BatchNormBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
