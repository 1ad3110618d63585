#include "kernels/vendor/common.h"

#include <cuda_runtime.h>

#include <climits>
#include <map>

#include "tensor/caching_allocator.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::vendor {

void cudnn_fail(cudnnStatus_t status, const char* call, const char* file, int line) {
  fail(call, " failed at ", file, ":", line, ": cuDNN error ", cudnnGetErrorString(status), " (", int(status), ")");
}

void cublas_fail(cublasStatus_t status, const char* call, const char* file, int line) {
  fail(call, " failed at ", file, ":", line, ": cuBLAS error ", cublasGetStatusString(status), " (", int(status), ")");
}

int current_device() {
  int device = 0;
  HONE_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

cudnnHandle_t cudnn_handle(const Exec& exec) {
  thread_local std::map<int, cudnnHandle_t> handles;
  cudnnHandle_t& h = handles[current_device()];
  if (!h) HONE_CUDNN_CHECK(cudnnCreate(&h));
  HONE_CUDNN_CHECK(cudnnSetStream(h, static_cast<cudaStream_t>(exec.stream)));
  return h;
}

cublasHandle_t cublas_handle(const Exec& exec) {
  thread_local std::map<int, cublasHandle_t> handles;
  cublasHandle_t& h = handles[current_device()];
  if (!h) HONE_CUBLAS_CHECK(cublasCreate(&h));
  HONE_CUBLAS_CHECK(cublasSetStream(h, static_cast<cudaStream_t>(exec.stream)));
  return h;
}

int to_int(int64_t v, const char* op, const char* what) {
  HONE_CHECK(v >= 0 && v <= INT_MAX, op, ": ", what, " = ", v, " does not fit the vendor library's int sizes; "
             "use Backend::Native for this op");
  return int(v);
}

cudnnDataType_t cudnn_type(DType t, const char* op) {
  if (t == DType::Float32) return CUDNN_DATA_FLOAT;
  if (t == DType::Float64) return CUDNN_DATA_DOUBLE;
  fail(op, ": cuDNN kernels take float32 or float64, not ", dtype_name(t));
}

TensorDesc::TensorDesc() { HONE_CUDNN_CHECK(cudnnCreateTensorDescriptor(&d)); }
TensorDesc::~TensorDesc() { cudnnDestroyTensorDescriptor(d); }

void TensorDesc::set(DType t, int64_t n, int64_t c, int64_t h, int64_t w, const char* op) {
  HONE_CUDNN_CHECK(cudnnSetTensor4dDescriptor(d, CUDNN_TENSOR_NCHW, cudnn_type(t, op), to_int(n, op, "n"),
                                              to_int(c, op, "channels"), to_int(h, op, "height"),
                                              to_int(w, op, "width")));
}

Scratch::Scratch(size_t bytes, const Exec& exec) : bytes_(bytes) {
  if (bytes) p_ = cuda_allocator().allocate(bytes, current_device(), exec.stream);
}

Scratch::~Scratch() {
  if (p_) cuda_allocator().free(p_);
}

}  // namespace hone::kernels::vendor
