#include "tensor/cuda_runtime.h"

#include <cstdio>

#include "hone_config.h"
#include "tensor/context.h"
#include "tensor/error.h"

#if HONE_HAS_CUDA
#include <cuda_runtime.h>
#endif

namespace hone {

bool cuda_built() { return HONE_HAS_CUDA; }

#if HONE_HAS_CUDA
void detail::cuda_fail(int status, const char* call, const char* file, int line) {
  const auto err = cudaError_t(status);
  (void)cudaGetLastError();  // clear a non-sticky error so that the next call starts clean
  fail(call, " failed at ", file, ":", line, ": CUDA error ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void* cuda_try_alloc(size_t nbytes, int device) {
  const int n = cuda_device_count();
  HONE_CHECK(device >= 0 && device < n, "cuda_alloc: no CUDA device ", device, " (", n, " present)");
  HONE_CUDA_CHECK(cudaSetDevice(device));
  void* p = nullptr;
  const cudaError_t err = cudaMalloc(&p, nbytes);
  if (err == cudaErrorMemoryAllocation) {
    (void)cudaGetLastError();
    return nullptr;
  }
  HONE_CUDA_CHECK(err);
  return p;
}

void* cuda_alloc(size_t nbytes, int device) {
  void* p = cuda_try_alloc(nbytes, device);
  HONE_CHECK(p || nbytes == 0, "cuda_alloc: out of memory on cuda:", device, " asking for ", nbytes, " bytes",
             cuda_memory_info(device));
  return p;
}

void cuda_free(void* p, int device) {
  cudaSetDevice(device);
  cudaFree(p);  // errors here cannot be reported from a destructor; ignore them
}

bool cuda_stream_capturing(int device) {
  (void)device;
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  if (cudaStreamIsCapturing(static_cast<cudaStream_t>(Context::current().cuda_stream()), &status) != cudaSuccess) {
    (void)cudaGetLastError();
    return false;
  }
  return status == cudaStreamCaptureStatusActive;
}

std::string cuda_memory_info(int device) {
  size_t free_bytes = 0, total = 0;
  int previous = 0;
  if (cudaGetDevice(&previous) != cudaSuccess || cudaSetDevice(device) != cudaSuccess ||
      cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
    (void)cudaGetLastError();
    return "";
  }
  cudaSetDevice(previous);
  char buf[96];
  std::snprintf(buf, sizeof buf, "; the device has %.1f MiB free of %.1f MiB", double(free_bytes) / 1048576.0,
                double(total) / 1048576.0);
  return buf;
}

void cuda_synchronize() {
  HONE_CUDA_CHECK(cudaStreamSynchronize(static_cast<cudaStream_t>(Context::current().cuda_stream())));
}

CudaDeviceGuard::CudaDeviceGuard(int device) {
  HONE_CUDA_CHECK(cudaGetDevice(&previous_));
  if (previous_ != device) HONE_CUDA_CHECK(cudaSetDevice(device));
}
CudaDeviceGuard::~CudaDeviceGuard() {
  if (previous_ >= 0) cudaSetDevice(previous_);  // cannot report from a destructor
}

void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  auto stream = static_cast<cudaStream_t>(Context::current().cuda_stream());
  HONE_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, stream));
  HONE_CUDA_CHECK(cudaStreamSynchronize(stream));
}
void* cuda_host_alloc(size_t nbytes) {
  HONE_CHECK(cuda_device_count() > 0, "pin_memory: no CUDA device or driver is present (the CUDA driver is what ",
             "page-locks the memory)");
  void* p = nullptr;
  if (nbytes) HONE_CUDA_CHECK(cudaHostAlloc(&p, nbytes, cudaHostAllocDefault));
  return p;
}

void cuda_host_free(void* p) {
  if (p) cudaFreeHost(p);  // errors here cannot be reported from a destructor; ignore them
}

void* cuda_memcpy_async(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  auto stream = static_cast<cudaStream_t>(Context::current().cuda_stream());
  HONE_CUDA_CHECK(cudaMemcpyAsync(dst, src, nbytes, k, stream));
  cudaEvent_t done = nullptr;
  HONE_CUDA_CHECK(cudaEventCreateWithFlags(&done, cudaEventDisableTiming));
  HONE_CUDA_CHECK(cudaEventRecord(done, stream));
  return done;
}

void cuda_event_wait(void* event) {
  if (!event) return;
  cudaEventSynchronize(static_cast<cudaEvent_t>(event));  // called from destructors: errors are ignored
  cudaEventDestroy(static_cast<cudaEvent_t>(event));
}
#else
namespace {
[[noreturn]] void not_built(const char* what) {
  fail(what, ": hone was built without CUDA (configure with -DHONE_CUDA=ON)");
}
}  // namespace
void detail::cuda_fail(int status, const char* call, const char* file, int line) {
  fail(call, " failed at ", file, ":", line, ": CUDA error ", status);
}
int cuda_device_count() { return 0; }
void* cuda_try_alloc(size_t, int) { not_built("cuda_alloc"); }
void* cuda_alloc(size_t, int) { not_built("cuda_alloc"); }
void cuda_free(void*, int) {}
bool cuda_stream_capturing(int) { return false; }
std::string cuda_memory_info(int) { return ""; }
void cuda_memcpy(void*, const void*, size_t, CopyKind) { not_built("cuda_memcpy"); }
void cuda_synchronize() {}
void* cuda_host_alloc(size_t) { not_built("pin_memory"); }
void cuda_host_free(void*) {}
void* cuda_memcpy_async(void*, const void*, size_t, CopyKind) { not_built("cuda_memcpy_async"); }
void cuda_event_wait(void*) {}
CudaDeviceGuard::CudaDeviceGuard(int) {}
CudaDeviceGuard::~CudaDeviceGuard() {}
#endif

}  // namespace hone
