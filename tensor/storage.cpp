#include "tensor/storage.h"

#include "tensor/caching_allocator.h"
#include "tensor/context.h"
#include "tensor/cuda_runtime.h"
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

std::shared_ptr<Storage> Storage::pinned(size_t nbytes) {
  auto s = std::make_shared<Storage>(cuda_host_alloc(nbytes), nbytes, Device::cpu(), [](void* p) { cuda_host_free(p); });
  s->pinned_ = true;
  return s;
}

void Storage::record_async_read(void* event) { cuda_event_wait(pending_read_.exchange(event)); }

Storage::~Storage() {
  cuda_event_wait(pending_read_.load());
  if (data_ && deleter_) deleter_(data_);
}

}  // namespace hone
