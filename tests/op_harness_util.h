#pragma once
// Helpers of the op harness's family makers (op_harness_<family>.h): strided operands,
// names, and float64 leaves for gradcheck.
#include <random>
#include <string>
#include <vector>

#include "op_harness.h"

namespace hone::harness {

namespace k = kernels;
namespace kc = kernels::cpu;
using Sizes = std::vector<int64_t>;

// ---- strided operands ----

// How an operand lies in memory: row-major, column-major (dims reversed), every stride
// doubled (gaps), or dim 0 broadcast (stride 0; inputs only).
enum class Layout { Contiguous, Transposed, Gapped, Broadcast };

inline Sizes contiguous_strides(const Sizes& sizes) {
  Sizes st(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) st[i] = s, s *= std::max<int64_t>(sizes[i], 1);
  return st;
}
inline Sizes layout_strides(const Sizes& sizes, Layout layout) {
  if (layout == Layout::Transposed) {
    Sizes rev(sizes.rbegin(), sizes.rend()), st = contiguous_strides(rev);
    return Sizes(st.rbegin(), st.rend());
  }
  Sizes st = contiguous_strides(sizes);
  if (layout == Layout::Gapped)
    for (int64_t& s : st) s *= 2;
  if (layout == Layout::Broadcast && !st.empty()) st[0] = 0;
  return st;
}
// Elements a buffer needs for a view with these sizes and strides.
inline int64_t extent(const Sizes& sizes, const Sizes& strides) {
  int64_t e = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) return 0;
    e += (sizes[i] - 1) * strides[i];
  }
  return e;
}
inline int64_t numel_of(const Sizes& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}
inline int64_t offset_of(int64_t linear, const Sizes& sizes, const Sizes& strides) {
  int64_t off = 0;
  for (size_t i = sizes.size(); i-- > 0;) off += (linear % sizes[i]) * strides[i], linear /= sizes[i];
  return off;
}
inline std::string layout_name(Layout l) {
  switch (l) {
    case Layout::Transposed: return " transposed";
    case Layout::Gapped: return " gapped";
    case Layout::Broadcast: return " broadcast";
    default: return "";
  }
}
inline std::string sizes_name(const Sizes& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return s.empty() ? "scalar" : out;
}
inline std::vector<double> rounded_to_float(std::vector<double> v) {
  for (double& e : v) e = double(float(e));
  return v;
}

// A float64 leaf of the given shape for gradcheck, uniform in [lo, hi].
inline Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(size_t(numel(shape)));
  for (double& e : v) e = std::uniform_real_distribution<double>(lo, hi)(rng);
  Tensor t = from_vector<double>(v, shape);
  t.set_requires_grad();
  return t;
}
inline int64_t small(int64_t v, int64_t most) { return std::min(v, most); }

}  // namespace hone::harness
