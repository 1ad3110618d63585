#pragma once
// CUDA twins of kernels/cpu/elementwise.h: the same ops over strided operands (up to 8
// dims), float32/float64, launched on the given stream (a cudaStream_t; nullptr = default).
// Compiled only when hone is built with CUDA (HONE_HAS_CUDA).
#include <cstdint>
#include <vector>

#include "kernels/elementwise_ops.h"
#include "tensor/dtype.h"

namespace hone::kernels::cuda {

constexpr int kMaxDims = 8;

struct UnaryArgs {
  UnaryOp op;
  DType dtype;
  std::vector<int64_t> sizes;
  std::vector<int64_t> out_strides, in_strides;
  void* out;
  const void* in;
  double scalar = 0;
  void* stream = nullptr;
};

struct BinaryArgs {
  BinaryOp op;
  DType dtype;
  std::vector<int64_t> sizes;
  std::vector<int64_t> out_strides, a_strides, b_strides;
  void* out;
  const void* a;
  const void* b;
  double alpha = 1;
  void* stream = nullptr;
};

void unary(const UnaryArgs& args);
void binary(const BinaryArgs& args);

}  // namespace hone::kernels::cuda
