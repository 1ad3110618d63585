#pragma once
// Grid size for a grid-stride kernel over n items with `threads` per block: enough blocks to
// cover n, at most 65535 (the kernels loop over the rest). Shared by the tensor layer's
// kernels and kernels/cuda/ (kernels/cuda/launch.h).
#include <cstdint>

namespace hone::detail {

inline unsigned grid_for(int64_t n, int threads) {
  const int64_t blocks = (n + threads - 1) / threads;
  return unsigned(blocks < 65535 ? blocks : 65535);
}

}  // namespace hone::detail
