#pragma once
// CUDA batched matmul (kernels/cuda/matmul.cu) over the contract of kernels/matmul.h,
// float32 (exact) and float64, on exec.stream. No GPU has run it yet.
#include "kernels/exec.h"
#include "kernels/matmul.h"

namespace hone::kernels::cuda {

void matmul(const MatmulArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
