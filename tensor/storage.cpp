#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone {

void* cpu_alloc(size_t nbytes) {
  if (nbytes == 0) return nullptr;
  size_t rounded = (nbytes + 63) / 64 * 64;  // aligned_alloc needs a multiple of the alignment
  void* p = std::aligned_alloc(64, rounded);
  HONE_CHECK(p != nullptr, "cpu_alloc: out of memory allocating ", nbytes, " bytes");
  return p;
}

void cpu_free(void* p) { std::free(p); }

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    data_ = cpu_alloc(nbytes);
    deleter_ = cpu_free;
  } else {
    data_ = cuda_alloc(nbytes, device.index);
    int index = device.index;
    deleter_ = [index](void* p) { cuda_free(p, index); };
  }
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (data_ && deleter_) deleter_(data_);
}

}  // namespace hone
