#pragma once
// Dropout on CUDA (contract: kernels/dropout.h), float32/float64, on exec.stream. The mask
// comes from the same Philox draws as the CPU kernel's, so it is the CPU's bit for bit.
// Compiled (tools/check_cuda_kernels.sh) but not yet run on a GPU: gpu_check's dropout
// cases compare it with the reference, the mask exactly.
#include "kernels/dropout.h"

namespace hone::kernels::cuda {

void dropout_forward(const DropoutForwardArgs& args, const Exec& exec);
void dropout_backward(const DropoutBackwardArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
