#pragma once
// Batch normalization over dim 1 of a contiguous [N, C, *] tensor (HW = product of the
// trailing dims). Two statistics modes: batch statistics (training) or the running
// statistics (inference, and "frozen" BN in fine-tuning; whether running statistics are
// updated is a separate flag). Sums per channel run in a fixed order in double.
// `*_reference` are the textbook formulas, one element at a time, for the tests.
#include <cstdint>

#include "kernels/batchnorm.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void batchnorm_forward(const BatchNormForwardArgs& args, const Exec& exec);
void batchnorm_backward(const BatchNormBackwardArgs& args, const Exec& exec);
void batchnorm_forward_reference(const BatchNormForwardArgs& args);
void batchnorm_backward_reference(const BatchNormBackwardArgs& args);

}  // namespace hone::kernels::cpu
