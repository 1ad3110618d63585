#pragma once
// Dropout on the CPU (contract: kernels/dropout.h), float32/float64, and the naive
// reference the op harness checks every device against.
#include "kernels/dropout.h"

namespace hone::kernels::cpu {

void dropout_forward(const DropoutForwardArgs& args, const Exec& exec);
void dropout_backward(const DropoutBackwardArgs& args, const Exec& exec);
void dropout_forward_reference(const DropoutForwardArgs& args);
void dropout_backward_reference(const DropoutBackwardArgs& args);

}  // namespace hone::kernels::cpu
