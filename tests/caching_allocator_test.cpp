// The device caching allocator's logic (tensor/caching_allocator.h) on a fake backend, so it
// is tested on every machine, GPU or not: bins, reuse per (device, stream), fit, statistics,
// release, the out-of-memory retry and its error, and graph capture.
#include <map>
#include <thread>
#include <vector>

#include "tensor/caching_allocator.h"
#include "test_util.h"

namespace hone {
namespace {

constexpr size_t MiB = size_t(1) << 20;

// Host memory with a capacity per device, counting calls. Like a real device, it owns its
// memory: blocks still handed out when it goes away are freed with it.
struct FakeDevice {
  FakeDevice() = default;
  FakeDevice(const FakeDevice&) = delete;
  FakeDevice& operator=(const FakeDevice&) = delete;
  ~FakeDevice() {
    for (auto& [p, n] : live) ::operator delete(p);
  }

  size_t capacity = 64 * MiB;
  std::map<int, size_t> used;
  std::map<void*, size_t> live;
  bool capturing = false;
  int allocs = 0, releases = 0;

  CachingAllocator::Backend backend() {
    return {.name = "fake",
            .allocate = [this](size_t bytes, int device) -> void* {
              if (used[device] + bytes > capacity) return nullptr;
              used[device] += bytes;
              ++allocs;
              void* p = ::operator new(bytes);
              live[p] = bytes;
              return p;
            },
            .release = [this](void* p, int device) {
              used[device] -= live.at(p);
              live.erase(p);
              ++releases;
              ::operator delete(p);
            },
            .capturing = [this](int) { return capturing; },
            .describe = [](int) { return std::string("; fake device"); }};
  }
};

TEST(CachingAllocator, SizesRoundUpToBins) {
  EXPECT_EQ(CachingAllocator::round_size(1), 512u);
  EXPECT_EQ(CachingAllocator::round_size(512), 512u);
  EXPECT_EQ(CachingAllocator::round_size(513), 1024u);
  EXPECT_EQ(CachingAllocator::round_size(MiB - 1), MiB);  // 512-byte steps below 1 MiB
  EXPECT_EQ(CachingAllocator::round_size(MiB), 2 * MiB);  // 2 MiB steps from 1 MiB on
  EXPECT_EQ(CachingAllocator::round_size(3 * MiB), 4 * MiB);
  EXPECT_EQ(CachingAllocator::round_size(4 * MiB), 4 * MiB);
}

TEST(CachingAllocator, FreedBlocksAreReusedOnTheirStreamOnly) {
  FakeDevice dev;
  CachingAllocator a(dev.backend());
  int s1 = 0, s2 = 0;  // two "streams": any distinct pointers
  void* p = a.allocate(1000, 0, &s1);
  a.free(p);
  EXPECT_EQ(a.allocate(900, 0, &s1), p);  // same bin, same stream: the cached block
  a.free(p);
  void* q = a.allocate(900, 0, &s2);  // another stream: a new block (work on s1 may still read p)
  EXPECT_NE(q, p);
  EXPECT_EQ(a.allocate(1000, 1, &s1) == p, false);  // another device never gets it either
  const DeviceMemoryStats st = a.stats(0);
  EXPECT_EQ(st.cache_hits, 1u);
  EXPECT_EQ(st.cache_misses, 2u);
  EXPECT_EQ(dev.allocs, 3);
  EXPECT_EQ(a.allocate(0, 0, &s1), nullptr);
  a.free(nullptr);
  int not_ours = 0;
  a.free(&not_ours);  // ignored: nothing sane to do from a destructor
}

TEST(CachingAllocator, TakesTheSmallestFitButNotAMuchLargerBlock) {
  FakeDevice dev;
  CachingAllocator a(dev.backend());
  void* big = a.allocate(8 * MiB, 0, nullptr);
  void* mid = a.allocate(2 * MiB, 0, nullptr);  // bin 2 MiB
  a.free(big);
  a.free(mid);
  EXPECT_EQ(a.allocate(MiB + 1, 0, nullptr), mid);  // bin 2 MiB: the 2 MiB block, not the 8
  void* fresh = a.allocate(4 * MiB, 0, nullptr);    // 8 MiB is more than 4 + 4/4: not spent on it
  EXPECT_NE(fresh, big);
  EXPECT_EQ(a.allocate(7 * MiB, 0, nullptr), big);  // bin 8 MiB: fits
}

TEST(CachingAllocator, StatisticsFollowEveryStep) {
  FakeDevice dev;
  CachingAllocator a(dev.backend());
  void* p = a.allocate(3 * MiB, 0, nullptr);  // 4 MiB
  void* q = a.allocate(100, 0, nullptr);      // 512 B
  DeviceMemoryStats st = a.stats(0);
  EXPECT_EQ(st.allocated_bytes, 4 * MiB + 512);
  EXPECT_EQ(st.reserved_bytes, 4 * MiB + 512);
  a.free(p);
  st = a.stats(0);
  EXPECT_EQ(st.allocated_bytes, 512u);
  EXPECT_EQ(st.reserved_bytes, 4 * MiB + 512);  // cached, still ours
  EXPECT_EQ(st.peak_allocated_bytes, 4 * MiB + 512);
  a.reset_peaks(0);
  EXPECT_EQ(a.stats(0).peak_allocated_bytes, 512u);
  a.release_cached();
  st = a.stats(0);
  EXPECT_EQ(st.reserved_bytes, 512u);
  EXPECT_EQ(st.backend_frees, 1u);
  EXPECT_EQ(dev.used[0], 512u);
  a.free(q);
  EXPECT_EQ(a.stats(1).allocated_bytes, 0u);  // a device never used has zero figures
}

TEST(CachingAllocator, OutOfMemoryReleasesTheCacheRetriesThenSaysWhy) {
  FakeDevice dev;
  dev.capacity = 10 * MiB;
  CachingAllocator a(dev.backend());
  a.free(a.allocate(6 * MiB, 0, nullptr));  // 6 MiB cached
  void* p = a.allocate(8 * MiB, 0, nullptr);  // 6 + 8 > 10: release the cache, retry
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(a.stats(0).oom_retries, 1u);
  EXPECT_EQ(a.stats(0).reserved_bytes, 8 * MiB);
  test::expect_error([&] { a.allocate(5 * MiB, 0, nullptr); },
                     {"out of fake memory on device 0: asked for 5242880 bytes (6.0 MiB rounded)",
                      "8.0 MiB in use and 8.0 MiB reserved", "the cache was released and the request tried again",
                      "; fake device"});
  a.free(p);
  EXPECT_NE(a.allocate(5 * MiB, 0, nullptr), nullptr);  // and it recovers
}

TEST(CachingAllocator, NothingIsReleasedDuringAGraphCapture) {
  FakeDevice dev;
  dev.capacity = 10 * MiB;
  CachingAllocator a(dev.backend());
  a.free(a.allocate(6 * MiB, 0, nullptr));
  dev.capturing = true;
  a.release_cached();
  EXPECT_EQ(dev.releases, 0);  // a cudaFree would invalidate the capture
  test::expect_error([&] { a.allocate(8 * MiB, 0, nullptr); },
                     {"out of fake memory", "a graph capture is under way"});
  EXPECT_EQ(a.stats(0).oom_retries, 0u);
  dev.capturing = false;
  EXPECT_NE(a.allocate(8 * MiB, 0, nullptr), nullptr);
  EXPECT_EQ(dev.releases, 1);
}

TEST(CachingAllocator, ReleaseIsPerDevice) {
  FakeDevice dev;
  CachingAllocator a(dev.backend());
  a.free(a.allocate(MiB, 0, nullptr));
  a.free(a.allocate(MiB, 1, nullptr));
  a.release_cached(1);
  EXPECT_EQ(a.stats(0).reserved_bytes, 2 * MiB);
  EXPECT_EQ(a.stats(1).reserved_bytes, 0u);
}

TEST(CachingAllocator, ThreadsAllocatingAndFreingAtOnceLeaveConsistentFigures) {
  FakeDevice dev;
  dev.capacity = size_t(1) << 40;
  CachingAllocator a(dev.backend());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&a, t] {
      std::vector<void*> held;
      for (int i = 0; i < 2000; ++i) {
        held.push_back(a.allocate(size_t(512 * (1 + (i * 7 + t) % 64)), 0, nullptr));
        if (held.size() > 8) {
          a.free(held.front());
          held.erase(held.begin());
        }
      }
      for (void* p : held) a.free(p);
    });
  for (auto& th : threads) th.join();
  const DeviceMemoryStats st = a.stats(0);
  EXPECT_EQ(st.allocated_bytes, 0u);
  EXPECT_EQ(st.cache_hits + st.cache_misses, 8000u);
  EXPECT_EQ(size_t(dev.allocs), st.backend_allocs);
  a.release_cached();
  EXPECT_EQ(a.stats(0).reserved_bytes, 0u);
  EXPECT_EQ(dev.used[0], 0u);
}

TEST(CachingAllocator, CudaTensorsUseItOrSayWhyNot) {
  if (cuda_device_count() == 0) {
    std::printf("[  SKIPPED ] no CUDA device (%s): CUDA tensors through the allocator not run\n",
                cuda_built() ? "built with CUDA" : "built without CUDA");
    GTEST_SKIP() << (cuda_built() ? "no CUDA device" : "built without CUDA");
  }
  const size_t before = cuda_memory_stats(0).allocated_bytes;
  {
    Tensor t = zeros({1024, 1024}, {.device = Device::cuda(0)});
    EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, before + 4 * MiB);
  }
  EXPECT_EQ(cuda_memory_stats(0).allocated_bytes, before);
  Tensor again = zeros({1024, 1024}, {.device = Device::cuda(0)});
  EXPECT_GE(cuda_memory_stats(0).cache_hits, 1u);
}

}  // namespace
}  // namespace hone
