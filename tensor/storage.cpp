#include "tensor/storage.h"

#include "tensor/caching_allocator.h"
#include "tensor/context.h"
#include "tensor/error.h"

namespace hone {

Storage::Storage(size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  if (nbytes == 0) return;
  if (device.is_cpu()) {
    data_ = cpu_alloc(nbytes);
    deleter_ = [nbytes](void* p) { cpu_free(p, nbytes); };
  } else {
    // Through the caching allocator, on the context's stream (tensor/caching_allocator.h).
    data_ = cuda_allocator().allocate(nbytes, device.index, Context::current().cuda_stream());
    deleter_ = [](void* p) { cuda_allocator().free(p); };
  }
}

Storage::Storage(void* data, size_t nbytes, Device device, std::function<void(void*)> deleter)
    : data_(data), nbytes_(nbytes), device_(device), deleter_(std::move(deleter)) {}

Storage::~Storage() {
  if (data_ && deleter_) deleter_(data_);
}

}  // namespace hone
