#pragma once
// CUDA reductions (kernels/cuda/reduce.cu) over the contract of kernels/reduce.h, on
// exec.stream. No GPU has run them yet.
#include "kernels/exec.h"
#include "kernels/reduce.h"

namespace hone::kernels::cuda {

void sum(const ReduceArgs& args, const Exec& exec);            // float32/float64/int64/int32
void max_dim(const MaxDimArgs& args, const Exec& exec);        // float32/float64/int64/int32/uint8
void index_add_dim(const IndexAddDimArgs& args, const Exec& exec);  // float32/float64

}  // namespace hone::kernels::cuda
