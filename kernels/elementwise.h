#pragma once
// The elementwise operations and their argument structs, shared by the CPU kernels
// (kernels/cpu/elementwise.h) and the CUDA kernels (kernels/cuda/elementwise.h), so an
// op names its math and its operands once.
#include <cstdint>
#include <vector>

#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels {

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
  AddRelu,          // relu(a + alpha * b): a residual block's sum and activation in one pass
};

// Operands share one shape (broadcast inputs come as stride-0 views) and one dtype.
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

}  // namespace hone::kernels
