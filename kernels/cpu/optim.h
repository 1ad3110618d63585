#pragma once
// The optimizer updates on the CPU (kernels/optim.h): one pass over the parameter, each
// element updated by the chunk of kernels::parallel_for that holds it, so results do not
// depend on the thread count. The sum of squares stays one sequential pass in storage order
// (the order clip_grad_norm always summed in), so its result is what it always was.
#include "kernels/exec.h"
#include "kernels/optim.h"

namespace hone::kernels::cpu {

void sgd_update(const SgdUpdateArgs& args, const Exec& exec);    // float32/float64
void adam_update(const AdamUpdateArgs& args, const Exec& exec);  // float32/float64
void sum_of_squares(const SumOfSquaresArgs& args, const Exec& exec);
void clip_scale(const ClipScaleArgs& args, const Exec& exec);

}  // namespace hone::kernels::cpu
