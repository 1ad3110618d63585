#pragma once
// CPU memory for tensors and kernel scratch, 64-byte aligned.
//
// Blocks of 1 MiB and more are kept when freed and handed out again for a later request
// of the same size class (sizes rounded up by at most 1/16). A training loop allocates the
// same activations and gradients every step; without the cache each of them would come
// back from the kernel as fresh pages, faulted in and zeroed one 4 KiB page at a time
// (measured: a fifth of a VGG-16 step on the CPU). The cache never lets the process hold
// more than its peak of live blocks: on a miss, cached blocks are released first until
// live + cached + the new block fits under that peak. set_cpu_cache_limit(0) (or the
// environment variable HONE_CPU_CACHE_MB=0) turns caching off; empty_cpu_cache() hands
// everything cached back to the system.
#include <cstddef>

namespace hone {

void* cpu_alloc(size_t nbytes);          // nullptr for 0 bytes; hone::Error when out of memory
void cpu_free(void* p, size_t nbytes);   // nbytes exactly as passed to cpu_alloc

struct CpuCacheStats {
  size_t cached_bytes = 0;  // held in the cache, not in use
  size_t live_bytes = 0;    // cacheable-size blocks in use
  size_t peak_live_bytes = 0;
  size_t hits = 0, misses = 0;
  size_t limit_bytes = 0;   // most the cache may hold
};
CpuCacheStats cpu_cache_stats();
void empty_cpu_cache();
void set_cpu_cache_limit(size_t bytes);  // 0: no caching (what is cached is released)

}  // namespace hone
