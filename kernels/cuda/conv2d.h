#pragma once
// CUDA conv2d (kernels/cuda/conv2d.cu): forward and both gradients as implicit GEMMs over
// the contract of kernels/conv2d.h, float32 (exact fp32, no TF32 yet) and float64, launched
// on exec.stream. First version: correct before fast; no GPU has run it yet.
#include "kernels/conv2d.h"
#include "kernels/exec.h"

namespace hone::kernels::cuda {

void conv2d_forward(const Conv2dForwardArgs& args, const Exec& exec);
void conv2d_backward(const Conv2dBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
