#pragma once
// A caching allocator for device memory (issue 13). cudaMalloc and cudaFree are slow and
// synchronise the device; a training step frees and asks again for the same activation and
// gradient sizes every step. So freed blocks are kept, per (device, stream), in size-binned
// free lists and handed out again:
//   - Sizes round up to a bin: 512-byte steps below 1 MiB, 2 MiB steps from there on (the
//     same steps PyTorch's allocator uses), so a block fits every request of its bin.
//   - A request takes the smallest cached block of its device and stream that is at least its
//     bin and at most a bin and a quarter (a block much larger than the request is not
//     spent on it); else the backend allocates a new one.
//   - A block freed on a stream is reused only on that stream: work queued on it may still
//     read the block, and the stream's order makes reuse safe without a synchronisation.
//   - Out of memory: the cached blocks of that device are released (all streams) and the
//     request is tried once more; then it is a hone::Error stating the request and the
//     allocator's figures. Never a crash.
//   - During CUDA graph capture nothing is released to the backend (a cudaFree there would
//     invalidate the capture): releases are skipped, and the retry after an out-of-memory
//     does not happen (the error says why).
// The allocator itself knows nothing of CUDA: it calls a Backend, so its logic is tested on
// every machine with a fake one (tests/caching_allocator_test.cpp); cuda_allocator() is the
// instance over cudaMalloc/cudaFree.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace hone {

struct DeviceMemoryStats {
  size_t allocated_bytes = 0;       // handed out and not yet freed
  size_t reserved_bytes = 0;        // allocated + cached: what the backend has given us
  size_t peak_allocated_bytes = 0;
  size_t peak_reserved_bytes = 0;
  size_t cache_hits = 0, cache_misses = 0;
  size_t backend_allocs = 0, backend_frees = 0;
  size_t oom_retries = 0;           // out-of-memory recoveries by releasing the cache
};

class CachingAllocator {
 public:
  struct Backend {
    std::string name;                                   // "cuda": for messages
    std::function<void*(size_t bytes, int device)> allocate;  // nullptr when out of memory
    std::function<void(void* p, int device)> release;
    std::function<bool(int device)> capturing;          // a graph capture is under way
    std::function<std::string(int device)> describe;    // e.g. the device's free/total memory
  };

  explicit CachingAllocator(Backend backend);
  ~CachingAllocator();  // releases what is cached (blocks still handed out are the owners')
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  static size_t round_size(size_t bytes);  // the bin a request falls in

  // A block of at least `bytes` on `device`, to be used on `stream` (nullptr: the default
  // stream). nullptr for 0 bytes.
  void* allocate(size_t bytes, int device, void* stream);
  // Returns a block from allocate(); it goes back to its stream's free list.
  void free(void* p);
  // Hands every cached block of `device` (-1: all devices) back to the backend; skipped
  // during a graph capture.
  void release_cached(int device = -1);

  DeviceMemoryStats stats(int device) const;
  void reset_peaks(int device);

 private:
  struct Block {
    size_t size;  // rounded
    int device;
    void* stream;
  };
  using Key = std::pair<int, void*>;  // (device, stream)
  void release_locked(int device);

  Backend backend_;
  mutable std::mutex mutex_;
  std::map<Key, std::multimap<size_t, void*>> free_;  // cached blocks by size, per (device, stream)
  std::unordered_map<void*, Block> blocks_;           // every block we hold, handed out or cached
  std::map<int, DeviceMemoryStats> stats_;
};

// The allocator over cudaMalloc/cudaFree that CUDA tensors use (a hone::Error when hone was
// built without CUDA), and its figures for a device.
CachingAllocator& cuda_allocator();
DeviceMemoryStats cuda_memory_stats(int device = 0);
void cuda_empty_cache();  // cached blocks back to the driver (cudaFree)

}  // namespace hone
