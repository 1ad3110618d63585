#include "tensor/generator.h"

#include <cstddef>
#include <utility>

#include "tensor/philox.h"

namespace hone {

std::array<uint32_t, 4> Generator::philox(uint64_t seed, uint64_t counter) {
  const PhiloxBlock b = philox4x32_10(seed, counter);  // tensor/philox.h: shared with the CUDA kernels
  return {b.w[0], b.w[1], b.w[2], b.w[3]};
}

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

void philox_shuffle(std::vector<int64_t>& v, uint64_t key) {
  for (size_t i = v.size(); i > 1; --i) {
    const auto w = Generator::philox(key, i);
    const uint64_t r = uint64_t(w[0]) | uint64_t(w[1]) << 32;
    std::swap(v[i - 1], v[r % i]);
  }
}

}  // namespace hone
