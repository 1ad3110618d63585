#include "tensor/allocator.h"

#include <unistd.h>

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

size_t default_budget() {
  if (const char* env = std::getenv("HONE_MEMORY_LIMIT_MB")) {
    char* end = nullptr;
    const unsigned long long mb = std::strtoull(env, &end, 10);
    HONE_CHECK(end != env && *end == '\0' && mb > 0 && mb < (1ull << 40), "HONE_MEMORY_LIMIT_MB must be a positive "
               "whole number of MiB, not \"", env, "\"");
    return size_t(mb) << 20;
  }
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : size_t(1) << 40;
}

std::string mib(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MiB"; }

struct Cache {
  std::mutex mu;
  std::multimap<size_t, void*> blocks;  // class size -> block
  CpuCacheStats stats{.limit_bytes = default_limit()};
  size_t budget = default_budget();

  // Holds mu.
  void check_budget(size_t request, const char* what) const {
    HONE_CHECK(request <= budget && stats.live_bytes <= budget - request, what, ": ", request, " bytes (", mib(request),
               ") with ", mib(stats.live_bytes), " already in use would pass the memory budget of ", mib(budget),
               " (HONE_MEMORY_LIMIT_MB or hone::set_memory_budget() change it)");
  }

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
    c.check_budget(cls, "cpu_alloc");
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

size_t memory_budget() {
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  return c.budget;
}

void set_memory_budget(size_t bytes) {
  HONE_CHECK(bytes > 0, "set_memory_budget: the budget must be positive");
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  c.budget = bytes;
}

void check_memory_budget(std::initializer_list<int64_t> dims, size_t elem_size, const char* what) {
  int64_t n = 1;
  for (int64_t d : dims) {
    HONE_CHECK(d >= 0, what, ": negative size ", d);
    if (__builtin_mul_overflow(n, d, &n)) n = INT64_MAX;
  }
  size_t bytes = 0;
  if (__builtin_mul_overflow(size_t(n), elem_size, &bytes)) bytes = ~size_t(0);
  Cache& c = cache();
  std::lock_guard lock(c.mu);
  c.check_budget(bytes, what);
}

}  // namespace hone
