#include "tensor/storage.h"

#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    data_ = cpu_alloc(nbytes);
    deleter_ = [nbytes](void* p) { cpu_free(p, nbytes); };
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
