#pragma once
// A Storage is one allocation on one device, shared by every view of it. It also carries
// the version counter: any in-place write through any view bumps it, which is how
// autograd detects that a tensor it saved for backward has changed since.
#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>

#include "tensor/allocator.h"
#include "tensor/device.h"

namespace hone {

class Storage {
 public:
  // Allocates `nbytes` on `device` (64-byte aligned on the CPU; cudaMalloc on CUDA).
  Storage(size_t nbytes, Device device);
  // Wraps memory the caller owns (e.g. a memory-mapped file); `deleter` runs on release.
  Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // Pinned host memory (cuda_host_alloc): what Tensor::pin_memory and the data loader's
  // batches live in, so that a copy to the GPU can run while the host goes on.
  static std::shared_ptr<Storage> pinned(size_t nbytes);
  bool is_pinned() const { return pinned_; }
  // An asynchronous copy out of this storage was queued; `event` (cuda_memcpy_async's)
  // completes with it. Freeing the storage waits for the last such copy, so the memory is
  // never handed back while the GPU still reads it. A second copy queued before the first
  // is done waits for the first here.
  void record_async_read(void* event);

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }

  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  Device device_;
  std::function<void(void*)> deleter_;
  std::atomic<uint64_t> version_{0};
  bool pinned_ = false;
  std::atomic<void*> pending_read_{nullptr};
};


}  // namespace hone
