// Elementwise differentiable ops: forward through the unary/binary kernel tables (dispatch.h), backward as
// formulas over the same ops (each gradient summed back to its input's broadcast shape).
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"

namespace hone {

using kernels::BinaryOp;
using kernels::UnaryOp;
using autograd::record;


namespace {

// Converts both operands to their promoted dtype (differentiably).
std::pair<Tensor, Tensor> promote(const Tensor& a, const Tensor& b) {
  DType t = promote_types(a.dtype(), b.dtype());
  return {a.to(t), b.to(t)};
}

void require_floating(const char* op, const Tensor& x) {
  HONE_CHECK(is_floating(x.dtype()), op, ": needs a floating-point tensor, got ", dtype_name(x.dtype()),
             " (convert with .to(DType::Float32))");
}

}  // namespace

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  const int64_t lead = grad.dim() - int64_t(shape.size());
  HONE_CHECK(lead >= 0, "sum_to: cannot reduce shape ", grad.shape(), " to ", shape);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < grad.dim(); ++d)
    if (d < lead || (shape[size_t(d - lead)] == 1 && grad.shape()[size_t(d)] != 1)) dims.push_back(d);
  Tensor r = dims.empty() ? grad : sum(grad, dims, /*keepdim=*/true);
  return r.reshape(shape);
}

Tensor add(const Tensor& a0, const Tensor& b0, double alpha) {
  auto [a, b] = promote(a0, b0);
  Tensor out = detail::binary_kernel(BinaryOp::Add, a, b, alpha, "add");
  record("add", {a, b}, {out}, {}, [sa = a.shape(), sb = b.shape(), alpha](const auto& g, const auto&, const auto& need) {
    return std::vector<Tensor>{need[0] ? sum_to(g[0], sa) : Tensor(),
                               need[1] ? sum_to(alpha == 1.0 ? g[0] : g[0] * alpha, sb) : Tensor()};
  });
  HONE_TRACE("add", {a, b}, {out}, {{"alpha", alpha}});
  return out;
}

Tensor sub(const Tensor& a0, const Tensor& b0, double alpha) {
  auto [a, b] = promote(a0, b0);
  Tensor out = detail::binary_kernel(BinaryOp::Sub, a, b, alpha, "sub");
  record("sub", {a, b}, {out}, {}, [sa = a.shape(), sb = b.shape(), alpha](const auto& g, const auto&, const auto& need) {
    return std::vector<Tensor>{need[0] ? sum_to(g[0], sa) : Tensor(), need[1] ? sum_to(g[0] * -alpha, sb) : Tensor()};
  });
  HONE_TRACE("sub", {a, b}, {out}, {{"alpha", alpha}});
  return out;
}

Tensor mul(const Tensor& a0, const Tensor& b0) {
  auto [a, b] = promote(a0, b0);
  Tensor out = detail::binary_kernel(BinaryOp::Mul, a, b, 1.0, "mul");
  record("mul", {a, b}, {out}, {a, b}, [](const auto& g, const auto& s, const auto& need) {
    return std::vector<Tensor>{need[0] ? sum_to(g[0] * s[1], s[0].shape()) : Tensor(),
                               need[1] ? sum_to(g[0] * s[0], s[1].shape()) : Tensor()};
  });
  HONE_TRACE("mul", {a, b}, {out});
  return out;
}

Tensor div(const Tensor& a0, const Tensor& b0) {
  // True division, as Python and PyTorch: integers divide into float32.
  const DType t = is_floating(promote_types(a0.dtype(), b0.dtype())) ? promote_types(a0.dtype(), b0.dtype()) : DType::Float32;
  const Tensor a = a0.to(t), b = b0.to(t);
  Tensor out = detail::binary_kernel(BinaryOp::Div, a, b, 1.0, "div");
  record("div", {a, b}, {out}, {a, b}, [](const auto& g, const auto& s, const auto& need) {
    return std::vector<Tensor>{need[0] ? sum_to(g[0] / s[1], s[0].shape()) : Tensor(),
                               need[1] ? sum_to(-g[0] * s[0] / (s[1] * s[1]), s[1].shape()) : Tensor()};
  });
  HONE_TRACE("div", {a, b}, {out});
  return out;
}

Tensor pow(const Tensor& a0, const Tensor& b0) {
  auto [a, b] = promote(a0, b0);
  require_floating("pow", a);
  Tensor out = detail::binary_kernel(BinaryOp::Pow, a, b, 1.0, "pow");
  record("pow", {a, b}, {out}, {a, b, out}, [](const auto& g, const auto& s, const auto& need) {
    const Tensor &base = s[0], &expo = s[1], &out = s[2];
    Tensor ga, gb;
    if (need[0]) ga = sum_to(g[0] * expo * pow(base, expo - 1.0), base.shape());
    if (need[1]) {
      // d/db a^b = a^b log a; defined as 0 where a <= 0 (a^b is 0 or NaN there anyway).
      Tensor positive = gt(base, scalar_like(0.0, base)).to(base.dtype());
      Tensor safe_base = base * positive + (1.0 - positive);
      gb = sum_to(g[0] * out * log(safe_base), expo.shape());
    }
    return std::vector<Tensor>{ga, gb};
  });
  HONE_TRACE("pow", {a, b}, {out});
  return out;
}

Tensor pow(const Tensor& a, double e) {
  require_floating("pow", a);
  Tensor out = detail::unary_kernel(UnaryOp::PowScalar, a, "pow", e);
  record("pow", {a}, {out}, {a}, [e](const auto& g, const auto& s, const auto&) {
    if (e == 0.0) return std::vector<Tensor>{g[0] * 0.0};  // x^0 is constant; avoid 0 * inf at x = 0
    return std::vector<Tensor>{g[0] * e * pow(s[0], e - 1.0)};
  });
  HONE_TRACE("pow", {a}, {out}, {{"exponent", e}});
  return out;
}

Tensor neg(const Tensor& x) {
  Tensor out = detail::unary_kernel(UnaryOp::Neg, x, "neg");
  record("neg", {x}, {out}, {}, [](const auto& g, const auto&, const auto&) { return std::vector<Tensor>{-g[0]}; });
  HONE_TRACE("neg", {x}, {out});
  return out;
}

Tensor exp(const Tensor& x) {
  require_floating("exp", x);
  Tensor out = detail::unary_kernel(UnaryOp::Exp, x, "exp");
  record("exp", {x}, {out}, {out}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{g[0] * s[0]};
  });
  HONE_TRACE("exp", {x}, {out});
  return out;
}

Tensor log(const Tensor& x) {
  require_floating("log", x);
  Tensor out = detail::unary_kernel(UnaryOp::Log, x, "log");
  record("log", {x}, {out}, {x}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{g[0] / s[0]};
  });
  HONE_TRACE("log", {x}, {out});
  return out;
}

Tensor sqrt(const Tensor& x) {
  require_floating("sqrt", x);
  Tensor out = detail::unary_kernel(UnaryOp::Sqrt, x, "sqrt");
  record("sqrt", {x}, {out}, {out}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{g[0] / (s[0] * 2.0)};
  });
  HONE_TRACE("sqrt", {x}, {out});
  return out;
}

Tensor abs(const Tensor& x) {
  Tensor out = detail::unary_kernel(UnaryOp::Abs, x, "abs");
  record("abs", {x}, {out}, {x}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{g[0] * sign(s[0])};
  });
  HONE_TRACE("abs", {x}, {out});
  return out;
}

Tensor sign(const Tensor& x) { return detail::unary_kernel(UnaryOp::Sign, x, "sign"); }

Tensor relu(const Tensor& x) {
  Tensor out = detail::unary_kernel(UnaryOp::Relu, x, "relu");
  // relu's output is positive exactly where its input is: save the output, which the next
  // layer keeps alive anyway, rather than the input.
  record("relu", {x}, {out}, {out}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{detail::binary_kernel(BinaryOp::ReluBackward, g[0], s[0], 1.0, "relu backward")};
  });
  HONE_TRACE("relu", {x}, {out});
  return out;
}

Tensor sigmoid(const Tensor& x) {
  require_floating("sigmoid", x);
  Tensor out = detail::unary_kernel(UnaryOp::Sigmoid, x, "sigmoid");
  record("sigmoid", {x}, {out}, {out}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{detail::binary_kernel(BinaryOp::SigmoidBackward, g[0], s[0], 1.0, "sigmoid backward")};
  });
  HONE_TRACE("sigmoid", {x}, {out});
  return out;
}

Tensor tanh(const Tensor& x) {
  require_floating("tanh", x);
  Tensor out = detail::unary_kernel(UnaryOp::Tanh, x, "tanh");
  record("tanh", {x}, {out}, {out}, [](const auto& g, const auto& s, const auto&) {
    return std::vector<Tensor>{detail::binary_kernel(BinaryOp::TanhBackward, g[0], s[0], 1.0, "tanh backward")};
  });
  HONE_TRACE("tanh", {x}, {out});
  return out;
}

namespace {
Tensor compare(BinaryOp op, const Tensor& a0, const Tensor& b0, const char* name) {
  DType t = promote_types(a0.dtype(), b0.dtype());
  if (t == DType::Bool) t = DType::UInt8;  // the kernels compute in a numeric type
  Tensor r = detail::binary_kernel(op, raw::to_dtype(a0, t), raw::to_dtype(b0, t), 1.0, name);
  return raw::to_dtype(r, DType::Bool);
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Eq, a, b, "eq"); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ne, a, b, "ne"); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Lt, a, b, "lt"); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Le, a, b, "le"); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Gt, a, b, "gt"); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(BinaryOp::Ge, a, b, "ge"); }

Tensor scalar_like(double value, const Tensor& like) {
  DType t = like.dtype();
  if (!is_floating(t) && value != std::floor(value)) t = DType::Float32;
  if (t == DType::Bool) t = DType::Int64;
  return scalar_tensor(value, {.dtype = t, .device = like.device()});
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator-(const Tensor& x) { return neg(x); }
Tensor operator+(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor operator-(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor operator*(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor operator/(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }
Tensor operator+(double a, const Tensor& b) { return add(scalar_like(a, b), b); }
Tensor operator-(double a, const Tensor& b) { return sub(scalar_like(a, b), b); }
Tensor operator*(double a, const Tensor& b) { return mul(scalar_like(a, b), b); }
Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

}  // namespace hone
