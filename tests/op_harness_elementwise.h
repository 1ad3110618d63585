#pragma once
// The harness cases of the elementwise kernel tables (unary, binary), against
// kernels::cpu::unary_reference / binary_reference (the definitions, element by element).
#include <array>
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "op_harness_util.h"

namespace hone::harness {

// ---- elementwise ----

inline const char* unary_name(k::UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sign", "pow_scalar"};
  return names[int(op)];
}
inline Tensor unary_op(k::UnaryOp op, const Tensor& x, double s) {
  switch (op) {
    case k::UnaryOp::Neg: return neg(x);
    case k::UnaryOp::Exp: return exp(x);
    case k::UnaryOp::Log: return log(x);
    case k::UnaryOp::Sqrt: return sqrt(x);
    case k::UnaryOp::Abs: return abs(x);
    case k::UnaryOp::Relu: return relu(x);
    case k::UnaryOp::Sigmoid: return sigmoid(x);
    case k::UnaryOp::Tanh: return tanh(x);
    case k::UnaryOp::Sign: return sign(x);
    case k::UnaryOp::PowScalar: return pow(x, s);
  }
  return x;
}

// `op` on `sizes`, the input laid out as `layout`, values in [lo, hi] (keep them inside
// the op's domain and away from its kinks).
inline OpCase unary_case(k::UnaryOp op, Sizes sizes, Layout layout = Layout::Contiguous, double lo = -2, double hi = 2,
                         double scalar = 0) {
  Spec<k::UnaryArgs> s;
  s.name = std::string("unary ") + unary_name(op) + " " + sizes_name(sizes) + layout_name(layout);
  s.table = &k::kernel_registry().unary;
  s.build = [=](Problem& p) {
    k::UnaryArgs a{.op = op, .dtype = p.dtype(), .sizes = sizes, .out_strides = contiguous_strides(sizes),
                   .in_strides = layout_strides(sizes, layout), .out = nullptr, .in = nullptr, .scalar = scalar};
    a.in = p.random(extent(sizes, a.in_strides), lo, hi);
    a.out = p.output("out", numel_of(sizes));
    return a;
  };
  s.reference = kc::unary_reference;
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = 2.0 * double(numel_of(sizes));
  if (op != k::UnaryOp::Sign)  // sign records no gradient
    s.gradcheck = [=] {
      Shape sh(sizes.begin(), sizes.end());
      for (int64_t& d : sh) d = small(d, 3);
      return gradcheck([=](const std::vector<Tensor>& in) { return unary_op(op, in[0], scalar); },
                       {leaf(sh, 17, lo, hi)});
    };
  return make_case(std::move(s));
}

inline const char* binary_name(k::BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "pow", "relu_backward", "sigmoid_backward",
                                "tanh_backward", "eq", "ne", "lt", "le", "gt", "ge", "add_relu"};
  return names[int(op)];
}
// The public op whose forward or backward runs this kernel; nullptr for comparisons.
inline std::function<Tensor(const Tensor&, const Tensor&)> binary_op(k::BinaryOp op, double alpha) {
  switch (op) {
    case k::BinaryOp::Add: return [=](const Tensor& a, const Tensor& b) { return add(a, b, alpha); };
    case k::BinaryOp::Sub: return [=](const Tensor& a, const Tensor& b) { return sub(a, b, alpha); };
    case k::BinaryOp::Mul: return [](const Tensor& a, const Tensor& b) { return mul(a, b); };
    case k::BinaryOp::Div: return [](const Tensor& a, const Tensor& b) { return div(a, b); };
    case k::BinaryOp::Pow: return [](const Tensor& a, const Tensor& b) { return pow(a, b); };
    // The activations' backward kernels: checked through the activation's gradient.
    case k::BinaryOp::ReluBackward: return [](const Tensor& a, const Tensor& b) { return mul(relu(a), b); };
    case k::BinaryOp::SigmoidBackward: return [](const Tensor& a, const Tensor& b) { return mul(sigmoid(a), b); };
    case k::BinaryOp::TanhBackward: return [](const Tensor& a, const Tensor& b) { return mul(tanh(a), b); };
    case k::BinaryOp::AddRelu: return [](const Tensor& a, const Tensor& b) { return add_relu(a, b); };  // alpha 1
    default: return nullptr;
  }
}

// a (laid out as `a_layout`) op b (as `b_layout`), both of `sizes`; values of a in
// [a_lo, a_hi], of b in [b_lo, b_hi]. `dtypes` may add integer kernels (whole values).
inline OpCase binary_case(k::BinaryOp op, Sizes sizes, Layout a_layout = Layout::Contiguous,
                          Layout b_layout = Layout::Contiguous, double alpha = 1, std::array<double, 4> range = {-2, 2, -2, 2},
                          std::vector<DType> dtypes = {DType::Float32, DType::Float64}) {
  Spec<k::BinaryArgs> s;
  s.name = std::string("binary ") + binary_name(op) + " " + sizes_name(sizes) + layout_name(a_layout) + layout_name(b_layout) +
           (alpha != 1 ? " alpha" : "") + (dtypes.size() > 2 ? " ints" : "");
  s.table = &k::kernel_registry().binary;
  s.dtypes = dtypes;
  s.integer_values = true;
  s.build = [=](Problem& p) {
    k::BinaryArgs a{.op = op, .dtype = p.dtype(), .sizes = sizes, .out_strides = contiguous_strides(sizes),
                    .a_strides = layout_strides(sizes, a_layout), .b_strides = layout_strides(sizes, b_layout),
                    .out = nullptr, .a = nullptr, .b = nullptr, .alpha = alpha};
    a.a = p.random(extent(sizes, a.a_strides), range[0], range[1]);
    a.b = p.random(extent(sizes, a.b_strides), range[2], range[3]);
    a.out = p.output("out", numel_of(sizes));
    return a;
  };
  s.reference = kc::binary_reference;
  // Comparisons of float32-representable values are exact in either dtype.
  const bool exact = op >= k::BinaryOp::Eq && op <= k::BinaryOp::Ge;
  s.tol = exact ? Tolerance{0, 0} : Tolerance{.f32 = 3e-7, .f64 = 1e-15};
  s.elements = 3.0 * double(numel_of(sizes));
  if (auto fn = binary_op(op, alpha))
    s.gradcheck = [=] {
      Shape sh(sizes.begin(), sizes.end());
      for (int64_t& d : sh) d = small(d, 3);
      return gradcheck([=](const std::vector<Tensor>& in) { return fn(in[0], in[1]); },
                       {leaf(sh, 21, range[0], range[1]), leaf(sh, 22, range[2], range[3])});
    };
  return make_case(std::move(s));
}

}  // namespace hone::harness
