#pragma once
// Dropout's contract (CPU: kernels/cpu/dropout.h, CUDA: kernels/cuda/dropout.h). Element i
// is kept when the uniform double rand() would draw for it, philox_uniform(seed,
// first_block, i) (tensor/philox.h), is >= p: the same draws on every device and thread
// count, so a seed gives one mask everywhere. A kept element is scaled by `scale` (the op
// passes 1 / (1 - p)) rounded to the dtype, a dropped one multiplied by 0 (so inf and NaN
// inputs still give NaN, as x * mask always did). The forward writes the mask as one byte
// per element for the backward: dx = dy * (mask ? scale : 0).
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"
#include "tensor/philox.h"

namespace hone::kernels {

struct DropoutForwardArgs {
  DType dtype;
  int64_t n;           // elements of x, y and mask (contiguous)
  double p;            // drop probability, in (0, 1)
  double scale;        // what a kept element is multiplied by
  uint64_t seed, first_block;  // the generator's reservation (Generator::reserve_blocks)
  const void* x;
  void* y;
  uint8_t* mask;       // 1 kept, 0 dropped
};

struct DropoutBackwardArgs {
  DType dtype;
  int64_t n;
  double scale;
  const uint8_t* mask;  // the forward's
  const void* dy;
  void* dx;
};

// Counter blocks one dropout of n elements reserves: what rand() of n elements reserves,
// so the generator moves exactly as it did when dropout drew through rand().
inline uint64_t dropout_blocks(int64_t n) { return uint64_t(n + 1) / 2 + 1; }

// Does element i (lane i % 2 of block `b` = philox4x32_10(seed, first_block + i / 2)) stay?
HONE_HOST_DEVICE inline bool dropout_keeps(const PhiloxBlock& b, int lane, double p) {
  return philox_uniform_lane(b, lane) >= p;
}

}  // namespace hone::kernels
