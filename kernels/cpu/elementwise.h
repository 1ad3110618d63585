#pragma once
// Elementwise kernels over strided operands of one shape (the op layer expands broadcast
// inputs to stride-0 views first). All operands share one dtype.
#include <cstdint>
#include <vector>

#include "tensor/dtype.h"

namespace hone::kernels::cpu {

enum class UnaryOp {
  Neg, Exp, Log, Sqrt, Abs, Relu, Sigmoid, Tanh, Sign,
  PowScalar,  // x ^ scalar
};

enum class BinaryOp {
  Add,              // a + alpha * b
  Sub,              // a - alpha * b
  Mul, Div, Pow,
  ReluBackward,     // a = grad, b = relu input: b > 0 ? a : 0
  SigmoidBackward,  // a = grad, b = sigmoid output y: a * y * (1 - y)
  TanhBackward,     // a = grad, b = tanh output y: a * (1 - y * y)
  Eq, Ne, Lt, Le, Gt, Ge,  // write 1 or 0 in the operands' dtype
};

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
