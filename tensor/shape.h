#pragma once
// Shapes and strides are plain vectors of int64 (strides count elements, not bytes).
#include <cstdint>
#include <string>
#include <vector>

namespace hone {

using Shape = std::vector<int64_t>;
using Strides = std::vector<int64_t>;

// NCHW is the default; channels-last keeps C innermost (strides of NHWC) for 4-D tensors.
enum class MemoryFormat : uint8_t { Contiguous, ChannelsLast };

int64_t numel(const Shape& shape);          // throws if a dim is negative or the product overflows
Strides contiguous_strides(const Shape& shape);
Strides channels_last_strides(const Shape& shape);  // needs a 4-D shape
Strides strides_for(const Shape& shape, MemoryFormat format);
std::string shape_str(const Shape& shape);  // "[2,3]"

// NumPy broadcasting: align trailing dims; each pair must match or one must be 1.
// `op` names the caller in the error ("add: shapes [2,3] and [4] cannot broadcast").
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);
// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace hone
