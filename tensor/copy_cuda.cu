// The strided copy on CUDA: one thread per element (grid-stride), each turning its linear
// index into a source and a destination offset (tensor/strided_index.h) and converting
// with cast_value, the CPU copy's one conversion. Float-to-integer conversions of values
// out of the target's range are undefined in C++ and differ between CPU and GPU (the GPU
// saturates); every in-range value converts alike.
#include <cuda_runtime.h>

#include "tensor/cuda_kernels.h"
#include "tensor/cuda_launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::detail {

namespace {

template <typename D, typename S>
__global__ void strided_copy_kernel(StridedIndex<2> index, D* dst, const S* src) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < index.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    index.offsets(i, off);
    dst[off[0]] = cast_value<D>(src[off[1]]);
  }
}

// Calls fn(T{}) for the dtypes the device copy converts.
template <typename F>
void dispatch(DType t, F&& fn) {
  switch (t) {
    case DType::Float32: return fn(float{});
    case DType::Float64: return fn(double{});
    case DType::Int64: return fn(int64_t{});
    case DType::Int32: return fn(int32_t{});
    case DType::UInt8: return fn(uint8_t{});
    case DType::Bool: return fn(bool{});
    default: fail("cuda copy: dtype ", dtype_name(t), " is not converted on the device");
  }
}


}  // namespace

bool cuda_copy_converts(DType t) {
  return t == DType::Float32 || t == DType::Float64 || t == DType::Int64 || t == DType::Int32 || t == DType::UInt8 ||
         t == DType::Bool;
}

void cuda_strided_copy(void* dst, DType dst_dtype, const void* src, DType src_dtype, const StridedIndex<2>& index,
                       void* stream) {
  if (index.numel == 0) return;
  const unsigned grid = grid_for(index.numel, 256);
  auto s = static_cast<cudaStream_t>(stream);
  if (dst_dtype == src_dtype) {  // the element's bits, as the CPU's same-type copy
    switch (dtype_size(dst_dtype)) {
      case 1: strided_copy_kernel<<<grid, 256, 0, s>>>(index, static_cast<uint8_t*>(dst), static_cast<const uint8_t*>(src)); break;
      case 2: strided_copy_kernel<<<grid, 256, 0, s>>>(index, static_cast<uint16_t*>(dst), static_cast<const uint16_t*>(src)); break;
      case 4: strided_copy_kernel<<<grid, 256, 0, s>>>(index, static_cast<uint32_t*>(dst), static_cast<const uint32_t*>(src)); break;
      default: strided_copy_kernel<<<grid, 256, 0, s>>>(index, static_cast<uint64_t*>(dst), static_cast<const uint64_t*>(src)); break;
    }
    HONE_CUDA_CHECK_LAUNCH("cuda copy");
    return;
  }
  dispatch(dst_dtype, [&](auto dtag) {
    using D = decltype(dtag);
    dispatch(src_dtype, [&](auto stag) {
      using S = decltype(stag);
      strided_copy_kernel<D, S><<<grid, 256, 0, s>>>(index, static_cast<D*>(dst), static_cast<const S*>(src));
    });
  });
  HONE_CUDA_CHECK_LAUNCH("cuda copy");
}

}  // namespace hone::detail
