#pragma once
// The few CUDA runtime calls the tensor layer needs (allocation, copies, device count).
// Built without CUDA, they throw hone::Error saying so, and cuda_device_count() is 0, so
// code and tests can ask at run time instead of needing #ifdefs. Every CUDA call is checked:
// a failure is a hone::Error with the call, the file and line, and CUDA's own message.
#include <cstddef>
#include <string>

namespace hone {

bool cuda_built();            // was this copy of hone compiled with CUDA?
int cuda_device_count();      // 0 when not built with CUDA or no GPU/driver is present
void* cuda_alloc(size_t nbytes, int device);      // a hone::Error when out of memory
void* cuda_try_alloc(size_t nbytes, int device);  // nullptr when out of memory
void cuda_free(void* p, int device);
bool cuda_stream_capturing(int device);  // is the current context's stream being captured?
std::string cuda_memory_info(int device);  // "; the device has X free of Y", or ""
// Makes `device` current on this thread for the guard's life (the kernels launch on the
// current device); restores the previous one after. Does nothing without CUDA.
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device);
  ~CudaDeviceGuard();
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = -1;
};
enum class CopyKind { HostToDevice, DeviceToHost, DeviceToDevice };
// Waits for the current context's stream (a hone::Error naming the failure, e.g. a kernel
// that faulted; without CUDA, nothing to wait for).
void cuda_synchronize();
// Copies on the current context's stream and waits for it.
void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind);
// Pinned (page-locked) host memory, which the GPU reads by DMA while the host goes on:
// cudaHostAlloc / cudaFreeHost. Built without CUDA (or with no driver) allocating is a
// hone::Error: pinning needs the CUDA driver, and a silent pageable fallback would hide that
// the asynchronous copies the caller asked for are not happening.
void* cuda_host_alloc(size_t nbytes);
void cuda_host_free(void* p);
// Queues a copy on the current context's stream and returns at once, with a cudaEvent_t
// recorded after the copy: the source must stay alive until cuda_event_wait(event) returns.
void* cuda_memcpy_async(void* dst, const void* src, size_t nbytes, CopyKind kind);
void cuda_event_wait(void* event);  // waits for the event, then destroys it

namespace detail {
// Throws the hone::Error for a failed CUDA call (`status` is a cudaError_t).
[[noreturn]] void cuda_fail(int status, const char* call, const char* file, int line);
}  // namespace detail

}  // namespace hone

// Checks a kernel launch (in .cu files, right after the <<<...>>>): HONE_CUDA_CHECK_LAUNCH("cuda unary");
// the error reads "cuda unary failed at FILE:LINE: CUDA error ...".
#define HONE_CUDA_CHECK_LAUNCH(what)                                                   \
  do {                                                                                 \
    const auto hone_cuda_status_ = cudaGetLastError();                                 \
    if (hone_cuda_status_ != 0) ::hone::detail::cuda_fail(int(hone_cuda_status_), what, __FILE__, __LINE__); \
  } while (0)

// Checks a CUDA runtime call: HONE_CUDA_CHECK(cudaMemcpyAsync(...)).
#define HONE_CUDA_CHECK(call)                                                          \
  do {                                                                                 \
    const auto hone_cuda_status_ = (call);                                             \
    if (hone_cuda_status_ != 0) ::hone::detail::cuda_fail(int(hone_cuda_status_), #call, __FILE__, __LINE__); \
  } while (0)
