#pragma once
// The reductions' contract: the argument structs their kernels take.
#include <cstdint>
#include <vector>

#include "tensor/dtype.h"

namespace hone::kernels {

struct ReduceArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_in_strides, outer_out_strides;
  std::vector<int64_t> inner_sizes, inner_in_strides;
  void* out;
  const void* in;
  double scale = 1.0;  // multiplies each result (mean = sum with scale 1/n)
};

// Max over one dim: values and the index (along that dim) of the first maximum.
struct MaxDimArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_in_strides, outer_out_strides;
  int64_t dim_size, dim_stride;
  void* values;
  int64_t* indices;  // same strides as values
  const void* in;
};

// Max backward: grad_in[..., indices[o], ...] += grad_out[o] for every outer position o.
struct IndexAddDimArgs {
  DType dtype;
  std::vector<int64_t> outer_sizes, outer_src_strides, outer_dst_strides;
  int64_t dim_size, dim_stride;  // of dst
  void* dst;
  const void* src;
  const int64_t* indices;  // strides as src
};

}  // namespace hone::kernels
