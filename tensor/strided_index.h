#pragma once
// A linear index -> element offsets of N operands that share a shape, for CUDA kernels
// that give each thread one element (the strided copy, tensor/copy_cuda.cu): the device
// counterpart of StridedLayout's row walk (tensor/strided_loop.h). HONE_HOST_DEVICE, so the
// CPU tests check it against the CPU loop on every machine.
#include <cstdint>

#include "tensor/host_device.h"
#include "tensor/strided_loop.h"

namespace hone {

// Dims after coalescing a kernel can take in its arguments; more (rare: only a view with
// many non-mergeable dims) stays on the host path.
constexpr int kMaxStridedDims = 16;

template <int N>
struct StridedIndex {
  int ndim = 0;
  int64_t numel = 0;
  int64_t sizes[kMaxStridedDims] = {};
  int64_t strides[N][kMaxStridedDims] = {};

  // off[k] = the offset (in elements) of row-major element `linear` in operand k.
  HONE_HOST_DEVICE void offsets(int64_t linear, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t i = linear % sizes[d];
      linear /= sizes[d];
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }
};

// The index of a coalesced layout; false when it has more than kMaxStridedDims dims.
template <int N>
bool make_strided_index(const StridedLayout<size_t(N)>& layout, StridedIndex<N>& out) {
  if (layout.sizes.size() > size_t(kMaxStridedDims)) return false;
  out.ndim = int(layout.sizes.size());
  out.numel = 1;
  for (int d = 0; d < out.ndim; ++d) {
    out.sizes[d] = layout.sizes[size_t(d)];
    out.numel *= out.sizes[d];
    for (int k = 0; k < N; ++k) out.strides[k][d] = layout.strides[size_t(k)][size_t(d)];
  }
  return true;
}

}  // namespace hone
