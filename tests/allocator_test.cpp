// The CPU caching allocator: large blocks come back for the same size class, the cache
// never holds more than the peak of live blocks, limits and emptying release memory, and
// tensors built on reused (stale) memory are still initialised by their factories.
#include "tensor/allocator.h"
#include "test_util.h"

namespace hone {
namespace {

// Runs a test with caching on (whatever the environment says) and restores the setting.
class CpuCache : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_ = cpu_cache_stats().limit_bytes;
    empty_cpu_cache();
    set_cpu_cache_limit(~size_t(0));
  }
  void TearDown() override { set_cpu_cache_limit(saved_); }
  size_t saved_ = 0;
};

TEST_F(CpuCache, LargeBlocksAreReusedSmallOnesAreNot) {
  const CpuCacheStats before = cpu_cache_stats();
  void* a = cpu_alloc(3 << 20);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 64, 0u);
  std::memset(a, 1, 3 << 20);  // the whole request is usable
  cpu_free(a, 3 << 20);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, before.cached_bytes + (3 << 20));
  void* b = cpu_alloc((3 << 20) - 1000);  // same size class
  EXPECT_EQ(b, a);
  const CpuCacheStats mid = cpu_cache_stats();
  EXPECT_EQ(mid.hits, before.hits + 1);
  EXPECT_EQ(mid.cached_bytes, before.cached_bytes);
  cpu_free(b, (3 << 20) - 1000);

  void* small = cpu_alloc(1000);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small) % 64, 0u);
  cpu_free(small, 1000);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, before.cached_bytes + (3 << 20));  // small blocks are not cached
  EXPECT_EQ(cpu_alloc(0), nullptr);
}

TEST_F(CpuCache, NeverHoldsMoreThanThePeakOfLiveBlocks) {
  // Peak 8 MiB live; then a different size: the cached 8 MiB must go before a new block
  // pushes live + cached past the peak.
  const size_t peak_before = cpu_cache_stats().peak_live_bytes;
  const size_t big = std::max<size_t>(8 << 20, peak_before);
  void* a = cpu_alloc(big);
  cpu_free(a, big);
  ASSERT_GE(cpu_cache_stats().cached_bytes, big);
  void* b = cpu_alloc(big / 2 + (1 << 20));  // another class: a miss
  const CpuCacheStats s = cpu_cache_stats();
  EXPECT_LE(s.live_bytes + s.cached_bytes, s.peak_live_bytes);
  cpu_free(b, big / 2 + (1 << 20));
}

TEST_F(CpuCache, LimitAndEmptyReleaseMemory) {
  void* a = cpu_alloc(2 << 20);
  void* b = cpu_alloc(4 << 20);
  cpu_free(a, 2 << 20);
  cpu_free(b, 4 << 20);
  EXPECT_GE(cpu_cache_stats().cached_bytes, size_t(6) << 20);
  set_cpu_cache_limit(3 << 20);  // keeps at most 3 MiB: the 4 MiB block goes first
  EXPECT_LE(cpu_cache_stats().cached_bytes, size_t(3) << 20);
  empty_cpu_cache();
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
  set_cpu_cache_limit(0);  // off: freed blocks go straight back
  void* c = cpu_alloc(2 << 20);
  cpu_free(c, 2 << 20);
  EXPECT_EQ(cpu_cache_stats().cached_bytes, 0u);
}

TEST_F(CpuCache, TensorsOnReusedMemoryAreInitialised) {
  {
    Tensor t = full({1 << 20}, 7.0f);  // 4 MiB, cached when it dies
  }
  Tensor z = zeros({1 << 20});
  Tensor o = ones({1 << 20});
  EXPECT_EQ(z.sum().item<float>(), 0.0f);
  EXPECT_EQ(o.sum().item<double>(), double(1 << 20));
}

TEST_F(CpuCache, ConcurrentUseFromThreads) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([t] {
      for (int i = 0; i < 200; ++i) {
        const size_t n = size_t(1 + (i + t) % 5) << 20;
        char* p = static_cast<char*>(cpu_alloc(n));
        p[0] = p[n - 1] = char(i);
        cpu_free(p, n);
      }
    });
  for (auto& th : threads) th.join();
  const CpuCacheStats s = cpu_cache_stats();
  EXPECT_LE(s.live_bytes, size_t(0) + s.peak_live_bytes);
  EXPECT_LE(s.cached_bytes, s.peak_live_bytes);
}

}  // namespace
}  // namespace hone
