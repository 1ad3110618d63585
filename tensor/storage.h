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
};


}  // namespace hone
