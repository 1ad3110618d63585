#pragma once
// The few CUDA runtime calls the tensor layer needs (allocation, copies, device count).
// Built without CUDA, they throw hone::Error saying so, and cuda_device_count() is 0, so
// code and tests can ask at run time instead of needing #ifdefs.
#include <cstddef>

namespace hone {

bool cuda_built();            // was this copy of hone compiled with CUDA?
int cuda_device_count();      // 0 when not built with CUDA or no GPU/driver is present
void* cuda_alloc(size_t nbytes, int device);
void cuda_free(void* p, int device);
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Copies on the current context's stream and waits for it.
void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind);

}  // namespace hone
