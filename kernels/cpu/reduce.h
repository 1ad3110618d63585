#pragma once
// Reductions. The op layer splits the input's dims into kept ("outer") and reduced
// ("inner") dims; each output element is the reduction of its inner block, summed in a
// fixed row-major order (float accumulation in double), so results never depend on threads.
// `*_reference` walk every index one at a time, straight from the definitions, for the tests.
#include <cstdint>
#include <vector>

#include "kernels/reduce.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void sum(const ReduceArgs& args, const Exec& exec);  // float32/float64/int64/int32 (ints accumulate in int64)
void sum_reference(const ReduceArgs& args);

void max_dim(const MaxDimArgs& args, const Exec& exec);  // NaN counts as the maximum, as in PyTorch
void max_dim_reference(const MaxDimArgs& args);

void index_add_dim(const IndexAddDimArgs& args, const Exec& exec);
void index_add_dim_reference(const IndexAddDimArgs& args);

}  // namespace hone::kernels::cpu
