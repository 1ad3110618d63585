#pragma once
// A counter-based random generator (Philox 4x32-10). Element i of a random tensor is a
// pure function of (seed, offset + i), so the same seed gives the same numbers whatever
// the thread count or device, and the state is two integers easy to checkpoint.
#include <array>
#include <cstdint>
#include <mutex>
#include <vector>

namespace hone {

// Every method may be called from several threads at once (a short lock per call).
class Generator {
 public:
  explicit Generator(uint64_t seed = 0x853c49e6748fea9bULL) : seed_(seed) {}

  void manual_seed(uint64_t seed) { std::lock_guard<std::mutex> l(mutex_); seed_ = seed; offset_ = 0; }
  uint64_t seed() const { std::lock_guard<std::mutex> l(mutex_); return seed_; }
  uint64_t offset() const { std::lock_guard<std::mutex> l(mutex_); return offset_; }  // blocks of 4 words used
  void set_offset(uint64_t offset) { std::lock_guard<std::mutex> l(mutex_); offset_ = offset; }

  // Reserves `blocks` counter blocks: callers then draw block (first + k) with
  // philox(seed, first + k), in any order or thread. The seed comes with the blocks, so
  // a manual_seed() on another thread cannot pair the new seed with old offsets.
  struct Blocks {
    uint64_t seed, first;
  };
  Blocks reserve_blocks(uint64_t blocks) {
    std::lock_guard<std::mutex> l(mutex_);
    const uint64_t first = offset_;
    offset_ += blocks;
    return {seed_, first};
  }
  uint64_t reserve(uint64_t blocks) { return reserve_blocks(blocks).first; }  // the first reserved block

  static std::array<uint32_t, 4> philox(uint64_t seed, uint64_t counter);

 private:
  mutable std::mutex mutex_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

// A 64-bit mixer (Steele et al.'s splitmix64 finaliser): keys for independent streams
// from a seed and a stream number.
uint64_t splitmix64(uint64_t x);

// Shuffles `v` in place: Fisher-Yates with draws philox(key, i), so a seeded order is the
// same with every standard library and platform (std::shuffle promises neither). The
// modulo's bias is below size / 2^64.
void philox_shuffle(std::vector<int64_t>& v, uint64_t key);

}  // namespace hone
