#pragma once
// The elementwise operations, shared by the CPU kernels (kernels/cpu/elementwise.h) and
// the CUDA kernels (kernels/cuda/elementwise.h), so an op names its math once.
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
};

}  // namespace hone::kernels

namespace hone::kernels::cpu {
using kernels::BinaryOp;
using kernels::UnaryOp;
}  // namespace hone::kernels::cpu
