#pragma once
// Walking N operands that share one shape but have their own strides (in elements): the
// loop every elementwise kernel and every strided copy is made of. Dims are coalesced
// first, so contiguous operands become one flat row and the inner loop is a plain loop.
#include <array>
#include <cstdint>
#include <vector>

namespace hone {

template <size_t N>
struct StridedLayout {
  std::vector<int64_t> sizes;                 // after coalescing; at least one dim
  std::array<std::vector<int64_t>, N> strides;

  StridedLayout(const std::vector<int64_t>& shape, const std::array<std::vector<int64_t>, N>& in) {
    // Drop size-1 dims, then merge dim i into i+1 wherever every operand allows it.
    for (size_t d = 0; d < shape.size(); ++d) {
      if (shape[d] == 1) continue;
      sizes.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) strides[k].push_back(in[k][d]);
    }
    if (sizes.empty()) {
      sizes.push_back(1);
      for (size_t k = 0; k < N; ++k) strides[k].push_back(0);
    }
    std::vector<int64_t> s2;
    std::array<std::vector<int64_t>, N> st2;
    s2.push_back(sizes[0]);
    for (size_t k = 0; k < N; ++k) st2[k].push_back(strides[k][0]);
    for (size_t d = 1; d < sizes.size(); ++d) {
      bool merge = true;
      for (size_t k = 0; k < N; ++k) merge = merge && st2[k].back() == strides[k][d] * sizes[d];
      if (merge) {
        s2.back() *= sizes[d];
        for (size_t k = 0; k < N; ++k) st2[k].back() = strides[k][d];
      } else {
        s2.push_back(sizes[d]);
        for (size_t k = 0; k < N; ++k) st2[k].push_back(strides[k][d]);
      }
    }
    sizes = std::move(s2);
    strides = std::move(st2);
  }

  int64_t inner_size() const { return sizes.back(); }
  int64_t num_rows() const {
    int64_t r = 1;
    for (size_t d = 0; d + 1 < sizes.size(); ++d) r *= sizes[d];
    return r;
  }

  // Calls fn(offsets, n, inner_strides) for rows [row_begin, row_end): offsets[k] is the
  // element offset of the row's first element in operand k, n the row length.
  template <typename F>
  void for_each_row(int64_t row_begin, int64_t row_end, F&& fn) const {
    const size_t nd = sizes.size();
    std::array<int64_t, N> inner;
    for (size_t k = 0; k < N; ++k) inner[k] = strides[k][nd - 1];
    // Decompose row_begin into an index over the outer dims.
    std::vector<int64_t> idx(nd > 1 ? nd - 1 : 0, 0);
    std::array<int64_t, N> off{};
    int64_t r = row_begin;
    for (size_t d = nd - 1; d-- > 0;) {
      idx[d] = r % sizes[d];
      r /= sizes[d];
      for (size_t k = 0; k < N; ++k) off[k] += idx[d] * strides[k][d];
    }
    for (int64_t row = row_begin; row < row_end; ++row) {
      fn(off, sizes[nd - 1], inner);
      for (size_t d = nd - 1; d-- > 0;) {  // odometer increment over the outer dims
        ++idx[d];
        for (size_t k = 0; k < N; ++k) off[k] += strides[k][d];
        if (idx[d] < sizes[d]) break;
        for (size_t k = 0; k < N; ++k) off[k] -= idx[d] * strides[k][d];
        idx[d] = 0;
      }
    }
  }
};

}  // namespace hone
