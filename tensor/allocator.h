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
//
// The memory budget: the most bytes of large (>= 1 MiB) blocks that may be live at once.
// A request that would pass it is a hone::Error stating the request, what is live and the
// budget -- before any page is touched, so a model file that asks for a 64 GiB tensor gets an
// error rather than the out-of-memory killer (or, under AddressSanitizer, an abort).
// Default: the machine's physical memory; HONE_MEMORY_LIMIT_MB or set_memory_budget()
// change it. Code that loops over a shape before it allocates (pooling's window checks)
// asks check_memory_budget() first.
#include <cstddef>
#include <cstdint>
#include <initializer_list>

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

size_t memory_budget();
void set_memory_budget(size_t bytes);  // > 0
// Throws a hone::Error naming `what` unless a tensor of `dims` elements of `elem_size` bytes
// (product overflow-checked; negative dims are an error) fits in the budget as it stands.
void check_memory_budget(std::initializer_list<int64_t> dims, size_t elem_size, const char* what);

}  // namespace hone
