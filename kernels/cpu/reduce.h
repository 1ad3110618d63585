#pragma once
// Reductions. The op layer splits the input's dims into kept ("outer") and reduced
// ("inner") dims; each output element is the reduction of its inner block, summed in a
// fixed row-major order (float accumulation in double), so results never depend on threads.
// `*_reference` walk every index one at a time, straight from the definitions, for the tests.
#include <cstdint>
#include <vector>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

struct ReduceArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_in_strides, outer_out_strides;
  std::vector<int64_t> inner_sizes, inner_in_strides;
  void* out;
  const void* in;
  double scale = 1.0;  // multiplies each result (mean = sum with scale 1/n)
};

void sum(const ReduceArgs& args, const Exec& exec);  // float32/float64/int64/int32 (ints accumulate in int64)
void sum_reference(const ReduceArgs& args);

// Max over one dim: values and the index (along that dim) of the first maximum.
struct MaxDimArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_in_strides, outer_out_strides;
  int64_t dim_size, dim_stride;
  void* values;
  int64_t* indices;  // same strides as values
  const void* in;
};
void max_dim(const MaxDimArgs& args, const Exec& exec);  // NaN counts as the maximum, as in PyTorch
void max_dim_reference(const MaxDimArgs& args);

// Max backward: grad_in[..., indices[o], ...] += grad_out[o] for every outer position o.
struct IndexAddDimArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_src_strides, outer_dst_strides;
  int64_t dim_size, dim_stride;  // of dst
  void* dst;
  const void* src;
  const int64_t* indices;  // strides as src
};
void index_add_dim(const IndexAddDimArgs& args, const Exec& exec);
void index_add_dim_reference(const IndexAddDimArgs& args);

}  // namespace hone::kernels::cpu
