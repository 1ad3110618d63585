#pragma once
// CUDA optimizer updates and clip_grad_norm's halves (kernels/cuda/optim.cu) over the
// contract of kernels/optim.h, float32 and float64, on exec.stream. Compiled; no GPU has
// run them yet (tests/gpu_check.cpp runs them against the reference where one is).
#include "kernels/exec.h"
#include "kernels/optim.h"

namespace hone::kernels::cuda {

void sgd_update(const SgdUpdateArgs& args, const Exec& exec);
void adam_update(const AdamUpdateArgs& args, const Exec& exec);
void sum_of_squares(const SumOfSquaresArgs& args, const Exec& exec);
void clip_scale(const ClipScaleArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
