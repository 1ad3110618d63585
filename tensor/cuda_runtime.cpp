#include "tensor/cuda_runtime.h"

#include "hone_config.h"
#include "tensor/context.h"
#include "tensor/error.h"

#if HONE_HAS_CUDA
#include <cuda_runtime.h>
#endif

namespace hone {

bool cuda_built() { return HONE_HAS_CUDA; }

#if HONE_HAS_CUDA
namespace {
void check(cudaError_t err, const char* what) {
  HONE_CHECK(err == cudaSuccess, what, ": CUDA error ", cudaGetErrorName(err), ": ", cudaGetErrorString(err));
}
}  // namespace

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

void* cuda_alloc(size_t nbytes, int device) {
  int n = cuda_device_count();
  HONE_CHECK(device >= 0 && device < n, "cuda_alloc: no CUDA device ", device, " (", n, " present)");
  check(cudaSetDevice(device), "cudaSetDevice");
  void* p = nullptr;
  check(cudaMalloc(&p, nbytes), "cudaMalloc");
  return p;
}

void cuda_free(void* p, int device) {
  cudaSetDevice(device);
  cudaFree(p);  // errors here cannot be reported from a destructor; ignore them
}

void cuda_memcpy(void* dst, const void* src, size_t nbytes, CopyKind kind) {
  cudaMemcpyKind k = kind == CopyKind::HostToDevice   ? cudaMemcpyHostToDevice
                     : kind == CopyKind::DeviceToHost ? cudaMemcpyDeviceToHost
                                                      : cudaMemcpyDeviceToDevice;
  auto stream = static_cast<cudaStream_t>(Context::current().cuda_stream());
  check(cudaMemcpyAsync(dst, src, nbytes, k, stream), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
}
#else
int cuda_device_count() { return 0; }
void* cuda_alloc(size_t, int) { fail("cuda_alloc: hone was built without CUDA (configure with -DHONE_CUDA=ON)"); }
void cuda_free(void*, int) {}
void cuda_memcpy(void*, const void*, size_t, CopyKind) {
  fail("cuda_memcpy: hone was built without CUDA (configure with -DHONE_CUDA=ON)");
}
#endif

}  // namespace hone
