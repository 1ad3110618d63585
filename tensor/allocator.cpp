#include "tensor/allocator.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

#include "tensor/error.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define HONE_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define HONE_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define HONE_POISON(p, n) ((void)(p), (void)(n))
#define HONE_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace hone {

namespace {

constexpr size_t kCacheMin = size_t(1) << 20;

// Size classes: multiples of 1/16 of the request's power of two (at least 64 KiB).
size_t size_class(size_t n) {
  size_t top = size_t(1) << (63 - __builtin_clzll(n));
  const size_t granule = std::max<size_t>(size_t(64) << 10, top / 16);
  return (n + granule - 1) / granule * granule;
}

void* raw_alloc(size_t n) {
  void* p = std::aligned_alloc(64, (n + 63) / 64 * 64);  // aligned_alloc needs a multiple of the alignment
  HONE_CHECK(p != nullptr, "cpu_alloc: out of memory allocating ", n, " bytes");
  return p;
}

size_t default_limit() {
  if (const char* env = std::getenv("HONE_CPU_CACHE_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    HONE_CHECK(end != env && *end == '\0', "HONE_CPU_CACHE_MB must be a whole number of MiB, not \"", env, "\"");
    return size_t(mb) << 20;
  }
  return ~size_t(0);  // bounded by the peak rule alone
}

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> blocks;  // class size -> block
  CpuCacheStats stats{.limit_bytes = default_limit()};

  // Releases cached blocks, largest first, until `cached` <= target. Holds mu.
  void shrink_to(size_t target) {
    while (stats.cached_bytes > target && !blocks.empty()) {
      auto it = std::prev(blocks.end());
      stats.cached_bytes -= it->first;
      HONE_UNPOISON(it->second, it->first);
      std::free(it->second);
      blocks.erase(it);
    }
  }
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: tensors may be freed during static destruction
  return *c;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  if (nbytes < kCacheMin) return raw_alloc(nbytes);
  const size_t cls = size_class(nbytes);
  Cache& c = cache();
  {
    std::lock_guard lock(c.mu);
    if (auto it = c.blocks.find(cls); it != c.blocks.end()) {
      void* p = it->second;
      c.blocks.erase(it);
      c.stats.cached_bytes -= cls;
      c.stats.live_bytes += cls;
      ++c.stats.hits;
      HONE_UNPOISON(p, cls);
      return p;
    }
    ++c.stats.misses;
    // Keep live + cached within the peak of live blocks.
    const size_t room = c.stats.peak_live_bytes > c.stats.live_bytes + cls ? c.stats.peak_live_bytes - c.stats.live_bytes - cls : 0;
    c.shrink_to(room);
    c.stats.live_bytes += cls;
    c.stats.peak_live_bytes = std::max(c.stats.peak_live_bytes, c.stats.live_bytes);
  }
  try {
    return raw_alloc(cls);
  } catch (...) {
    std::lock_guard lock(c.mu);
    c.stats.live_bytes -= cls;
    throw;
  }
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  if (nbytes < kCacheMin) {
    std::free(p);
    return;
  }
  const size_t cls = size_class(nbytes);
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  c.stats.live_bytes -= cls;
  if (c.stats.cached_bytes + cls > c.stats.limit_bytes) {
    std::free(p);
    return;
  }
  HONE_POISON(p, cls);
  c.blocks.emplace(cls, p);
  c.stats.cached_bytes += cls;
}

CpuCacheStats cpu_cache_stats() {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  return c.stats;
}

void empty_cpu_cache() {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  c.shrink_to(0);
}

void set_cpu_cache_limit(size_t bytes) {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  c.stats.limit_bytes = bytes;
  c.shrink_to(bytes);
}

}  // namespace hone
