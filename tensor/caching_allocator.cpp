#include "tensor/caching_allocator.h"

#include <algorithm>
#include <cstdio>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone {

namespace {

constexpr size_t kSmallStep = 512;
constexpr size_t kLargeStep = size_t(2) << 20;
constexpr size_t kLargeFrom = size_t(1) << 20;

std::string mib(size_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MiB", double(bytes) / double(1 << 20));
  return buf;
}

}  // namespace

CachingAllocator::CachingAllocator(Backend backend) : backend_(std::move(backend)) {}

CachingAllocator::~CachingAllocator() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [key, list] : free_)
    for (auto& [size, p] : list) backend_.release(p, key.first);
}

size_t CachingAllocator::round_size(size_t bytes) {
  const size_t step = bytes < kLargeFrom ? kSmallStep : kLargeStep;
  return std::max(step, (bytes + step - 1) / step * step);
}

void* CachingAllocator::allocate(size_t bytes, int device, void* stream) {
  if (bytes == 0) return nullptr;
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceMemoryStats& st = stats_[device];
  auto note_allocated = [&](size_t n) {
    st.allocated_bytes += n;
    st.peak_allocated_bytes = std::max(st.peak_allocated_bytes, st.allocated_bytes);
  };
  // The smallest cached block of this device and stream that fits, if it is not much larger.
  if (auto list = free_.find({device, stream}); list != free_.end()) {
    auto it = list->second.lower_bound(size);
    if (it != list->second.end() && it->first <= size + size / 4) {
      void* p = it->second;
      list->second.erase(it);
      ++st.cache_hits;
      note_allocated(blocks_.at(p).size);
      return p;
    }
  }
  ++st.cache_misses;
  void* p = backend_.allocate(size, device);
  if (!p) {
    const bool capturing = backend_.capturing && backend_.capturing(device);
    if (!capturing) {  // give the cache back and try once more
      release_locked(device);
      ++st.oom_retries;
      p = backend_.allocate(size, device);
    }
    if (!p)
      fail("out of ", backend_.name, " memory on device ", device, ": asked for ", bytes, " bytes (", mib(size),
           " rounded); this allocator holds ", mib(st.allocated_bytes), " in use and ", mib(st.reserved_bytes),
           " reserved in all (peak in use ", mib(st.peak_allocated_bytes), ")",
           capturing ? "; a graph capture is under way, so the cache could not be released to retry"
                     : "; the cache was released and the request tried again",
           backend_.describe ? backend_.describe(device) : std::string());
  }
  blocks_[p] = {size, device, stream};
  ++st.backend_allocs;
  st.reserved_bytes += size;
  st.peak_reserved_bytes = std::max(st.peak_reserved_bytes, st.reserved_bytes);
  note_allocated(size);
  return p;
}

void CachingAllocator::free(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = blocks_.find(p);
  if (it == blocks_.end()) return;  // not ours: nothing sane to do from a destructor
  const Block& b = it->second;
  stats_[b.device].allocated_bytes -= b.size;
  free_[{b.device, b.stream}].emplace(b.size, p);
}

void CachingAllocator::release_cached(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  release_locked(device);
}

void CachingAllocator::release_locked(int device) {
  for (auto& [key, list] : free_) {
    const int dev = key.first;
    if (device >= 0 && dev != device) continue;
    if (backend_.capturing && backend_.capturing(dev)) continue;  // a cudaFree would break the capture
    DeviceMemoryStats& st = stats_[dev];
    for (auto& [size, p] : list) {
      backend_.release(p, dev);
      blocks_.erase(p);
      st.reserved_bytes -= size;
      ++st.backend_frees;
    }
    list.clear();
  }
}

DeviceMemoryStats CachingAllocator::stats(int device) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = stats_.find(device);
  return it == stats_.end() ? DeviceMemoryStats{} : it->second;
}

void CachingAllocator::reset_peaks(int device) {
  std::lock_guard<std::mutex> lock(mutex_);
  DeviceMemoryStats& st = stats_[device];
  st.peak_allocated_bytes = st.allocated_bytes;
  st.peak_reserved_bytes = st.reserved_bytes;
}

CachingAllocator& cuda_allocator() {
  // Never destroyed: tensors in other static objects may free into it during exit.
  static CachingAllocator& allocator = *new CachingAllocator({.name = "CUDA",
                                     .allocate = [](size_t bytes, int device) { return cuda_try_alloc(bytes, device); },
                                     .release = [](void* p, int device) { cuda_free(p, device); },
                                     .capturing = [](int device) { return cuda_stream_capturing(device); },
                                     .describe = [](int device) { return cuda_memory_info(device); }});
  return allocator;
}

DeviceMemoryStats cuda_memory_stats(int device) { return cuda_allocator().stats(device); }
void cuda_empty_cache() { cuda_allocator().release_cached(-1); }

}  // namespace hone
