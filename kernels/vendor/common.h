#pragma once
// Internal to kernels/vendor: checked cuDNN/cuBLAS calls, this thread's handles bound to a
// kernel's stream, descriptors that free themselves, and call-long scratch memory from
// hone's caching allocator.
#include <cublas_v2.h>
#include <cudnn.h>

#include <cstddef>
#include <cstdint>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::vendor {

[[noreturn]] void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line);
[[noreturn]] void cublas_fail(cublasStatus_t status, const char* call, const char* file, int line);

#define HONE_CUDNN_CHECK(call)                                                                      \
  do {                                                                                              \
    const cudnnStatus_t hone_status_ = (call);                                                      \
    if (hone_status_ != CUDNN_STATUS_SUCCESS)                                                       \
      ::hone::kernels::vendor::cudnn_fail(hone_status_, #call, __FILE__, __LINE__);                 \
  } while (0)
#define HONE_CUBLAS_CHECK(call)                                                                     \
  do {                                                                                              \
    const cublasStatus_t hone_status_ = (call);                                                     \
    if (hone_status_ != CUBLAS_STATUS_SUCCESS)                                                      \
      ::hone::kernels::vendor::cublas_fail(hone_status_, #call, __FILE__, __LINE__);                \
  } while (0)

int current_device();

// This thread's handle for the current device, set to run on exec.stream. One per (thread,
// device): a cuDNN/cuBLAS handle must not be used by two threads at once, and setting its
// stream per call is cheap. Handles live until the process ends (destroying them in a
// thread-exit or static destructor can run after the CUDA driver has shut down).
cudnnHandle_t cudnn_handle(const Exec& exec);
cublasHandle_t cublas_handle(const Exec& exec);

// `v` as an int (cuDNN/cuBLAS sizes), else a hone::Error naming `op` and `what`.
int to_int(int64_t v, const char* op, const char* what);
cudnnDataType_t cudnn_type(DType t, const char* op);  // float32/float64, else a hone::Error

// The alpha/beta scaling factors cuDNN takes by pointer: double for double data, else float.
struct Scale {
  explicit Scale(DType t, double v) : f(float(v)), d(v), is_double(t == DType::Float64) {}
  float f;
  double d;
  bool is_double;
  const void* get() const { return is_double ? static_cast<const void*>(&d) : static_cast<const void*>(&f); }
};

struct TensorDesc {
  cudnnTensorDescriptor_t d = nullptr;
  TensorDesc();
  ~TensorDesc();
  TensorDesc(const TensorDesc&) = delete;
  TensorDesc& operator=(const TensorDesc&) = delete;
  // A packed NCHW tensor; a hone::Error naming `op` when a size exceeds int.
  void set(DType t, int64_t n, int64_t c, int64_t h, int64_t w, const char* op);
};

// Device memory for one kernel call, from hone's caching allocator on exec's stream: work
// queued on that stream is ordered before the block's next use, so it is freed when the
// call has been queued, without a synchronisation.
class Scratch {
 public:
  Scratch(size_t bytes, const Exec& exec);
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  void* get() const { return p_; }
  size_t size() const { return bytes_; }

 private:
  void* p_ = nullptr;
  size_t bytes_;
};

}  // namespace hone::kernels::vendor
