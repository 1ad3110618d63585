#include "tensor/shape.h"

#include <algorithm>
#include <climits>

#include "tensor/error.h"

namespace hone {

int64_t numel(const Shape& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    HONE_CHECK(d >= 0, "shape ", shape, " has a negative dimension");
    HONE_CHECK(!__builtin_mul_overflow(n, d, &n), "shape ", shape, " has more elements than int64 can count");
  }
  return n;
}

Strides contiguous_strides(const Shape& shape) {
  Strides s(shape.size());
  int64_t acc = 1;
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    // An empty tensor may have dims whose product overflows; its strides are never used
    // to address anything, so saturate instead of overflowing.
    if (__builtin_mul_overflow(acc, std::max<int64_t>(shape[i], 1), &acc)) acc = INT64_MAX;
  }
  return s;
}

Strides channels_last_strides(const Shape& shape) {
  HONE_CHECK(shape.size() == 4, "channels_last needs a 4-D shape (N,C,H,W), got ", shape);
  int64_t c = std::max<int64_t>(shape[1], 1), h = std::max<int64_t>(shape[2], 1),
          w = std::max<int64_t>(shape[3], 1);
  return {h * w * c, 1, w * c, c};
}

Strides strides_for(const Shape& shape, MemoryFormat format) {
  return format == MemoryFormat::ChannelsLast ? channels_last_strides(shape) : contiguous_strides(shape);
}

std::string shape_str(const Shape& shape) { return detail::concat(shape); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    HONE_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
               " cannot broadcast (dim ", i, ": ", da, " vs ", db, ")");
    out[i] = da == 1 ? db : da;
  }
  return out;
}

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  HONE_CHECK(dim >= lo && dim <= hi, op, ": dim ", dim, " out of range for a ", ndim,
             "-D tensor (expected ", lo, "..", hi, ")");
  return dim < 0 ? dim + std::max<int64_t>(ndim, 1) : dim;
}

}  // namespace hone
