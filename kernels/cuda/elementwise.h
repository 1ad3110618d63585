#pragma once
// CUDA twins of kernels/cpu/elementwise.h: the same ops over strided operands (up to 8
// dims), float32/float64, launched on exec.stream (a cudaStream_t; nullptr = default).
// Compiled only when hone is built with CUDA (HONE_HAS_CUDA).
#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"
#include "tensor/dtype.h"

namespace hone::kernels::cuda {

constexpr int kMaxDims = 8;

void unary(const UnaryArgs& args, const Exec& exec);
void binary(const BinaryArgs& args, const Exec& exec);

}  // namespace hone::kernels::cuda
