#pragma once
// Philox 4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11) and
// the uniform doubles hone draws from it, as HONE_HOST_DEVICE functions: the CPU and the
// CUDA kernels (random fills, dropout) compute the same bits from (seed, counter). Only
// integer arithmetic and an exact int-to-double scaling: nothing a compiler or a GPU may
// round differently.
#include <cstdint>

#include "tensor/host_device.h"

namespace hone {

struct PhiloxBlock {
  uint32_t w[4];
};

HONE_HOST_DEVICE inline PhiloxBlock philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int round = 0; round < 10; ++round) {
    const uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    const uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    const uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    const uint32_t n1 = uint32_t(p1);
    const uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    const uint32_t n3 = uint32_t(p0);
    c0 = n0; c1 = n1; c2 = n2; c3 = n3;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {{c0, c1, c2, c3}};
}

// The uniform double in [0, 1) of element i of a draw that starts at counter block
// `first`: 53 bits of word pair i % 2 of block first + i / 2 (two elements per block).
HONE_HOST_DEVICE inline double philox_uniform_lane(const PhiloxBlock& b, int lane) {
  const uint64_t bits = (uint64_t(b.w[2 * lane]) << 21) ^ (uint64_t(b.w[2 * lane + 1]) >> 11);
  return double(bits & ((uint64_t(1) << 53) - 1)) * (1.0 / 9007199254740992.0);
}
HONE_HOST_DEVICE inline double philox_uniform(uint64_t seed, uint64_t first, int64_t i) {
  return philox_uniform_lane(philox4x32_10(seed, first + uint64_t(i) / 2), int(i % 2));
}

}  // namespace hone
