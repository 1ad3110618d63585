#pragma once
// Elementwise kernels over strided operands of one shape (the op layer expands broadcast
// inputs to stride-0 views first). All operands share one dtype.
#include <cstdint>
#include <vector>

#include "kernels/elementwise_ops.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

struct UnaryArgs {
  UnaryOp op;
  DType dtype;
  std::vector<int64_t> sizes;
  std::vector<int64_t> out_strides, in_strides;  // in elements
  void* out;
  const void* in;
  double scalar = 0;  // PowScalar's exponent
};

struct BinaryArgs {
  BinaryOp op;
  DType dtype;
  std::vector<int64_t> sizes;
  std::vector<int64_t> out_strides, a_strides, b_strides;
  void* out;
  const void* a;
  const void* b;
  double alpha = 1;  // Add/Sub scale b
};

void unary(const UnaryArgs& args);    // float32/float64; Neg/Abs/Relu/Sign also integers
void binary(const BinaryArgs& args);  // float32/float64 and integers (Pow and *Backward: floats only)

}  // namespace hone::kernels::cpu
