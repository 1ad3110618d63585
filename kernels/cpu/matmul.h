#pragma once
// Batched matrix product C[b] = A[b] x B[b] on strided operands (any strides, so the op
// layer passes transposed views without copying). float32 runs on the packed GEMM
// (kernels/cpu/gemm.h); float64 and the reference use a plain loop, accumulating in double.
#include <cstdint>

#include "kernels/matmul.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void matmul(const MatmulArgs& args, const Exec& exec);
void matmul_reference(const MatmulArgs& args);  // the plain loop, any dtype it supports

}  // namespace hone::kernels::cpu
