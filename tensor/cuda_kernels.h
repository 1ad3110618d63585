#pragma once
// The tensor layer's own CUDA kernels (tensor/copy_cuda.cu, tensor/random_cuda.cu): the
// strided copy behind raw::copy and the random fills behind rand/uniform/normal, so those
// never stage through the host. Each launches on `stream` (a cudaStream_t) on the current
// device and returns without waiting. Built without CUDA they throw (nothing calls them
// then: no tensor is on a GPU). Compiled, NOT yet run on a GPU: gpu_check checks them
// against the CPU where one is lent.
#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/strided_index.h"

namespace hone::detail {

// The dtypes the device copy converts between: float32/64, int64/32, uint8, bool (float16
// and bfloat16 copies that convert still go through the host).
bool cuda_copy_converts(DType t);
// dst[offsets[0]] = cast_value<dst dtype>(src[offsets[1]]) for every element of `index`.
void cuda_strided_copy(void* dst, DType dst_dtype, const void* src, DType src_dtype, const StridedIndex<2>& index,
                       void* stream);

// out[i], i < n, float32 or float64: exactly the bits the CPU factories (tensor/factory.cpp)
// write for the draw that starts at counter block `first` of `seed`. uniform: bitwise.
// normal: the same uniform pairs; log, sin and cos are CUDA's, within an ulp or two of
// glibc's in double (float32 results round to the CPU's bits almost always).
void cuda_fill_uniform(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t first, double low, double high,
                       void* stream);
void cuda_fill_normal(void* out, DType dtype, int64_t n, uint64_t seed, uint64_t first, double mean, double std,
                      void* stream);

}  // namespace hone::detail
