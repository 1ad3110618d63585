#pragma once
// float32 -> TF32 rounding as the tensor-core path of kernels/cuda/tiled_gemm.cuh does it, in
// one __host__ __device__ function: the kernel rounds its operands with it, and the CPU tests
// run the reference on operands rounded with it (tests/op_harness.h, the "tf32-emulated"
// variant), which is how the TF32 tolerance is justified without a GPU.
//
// TF32 keeps float32's sign and 8-bit exponent and the top 10 of its 23 mantissa bits. The
// rounding is to nearest, ties away from zero, as PTX's cvt.rna.tf32.f32 (what
// nvcuda::wmma::__float_to_tf32 compiles to): add half a unit of the 13 dropped bits to the
// magnitude and clear them (a carry into the exponent is the right result, up to infinity).
// The relative error is at most 2^-11 per operand, so 2^-10 per product.
#include <cstdint>
#include <cstring>

#include "kernels/host_device.h"

namespace hone::kernels::cuda {

HONE_HOST_DEVICE inline float round_to_tf32(float x) {
#if defined(__CUDA_ARCH__)
  uint32_t u = __float_as_uint(x);
#else
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
#endif
  if ((u & 0x7f800000u) == 0x7f800000u) return x;  // infinity and NaN stay as they are
  u = (u + 0x1000u) & 0xffffe000u;
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float r;
  std::memcpy(&r, &u, sizeof r);
  return r;
#endif
}

}  // namespace hone::kernels::cuda
