#include "kernels/cpu/elementwise.h"

#include <cmath>

#include "tensor/strided_loop.h"

namespace hone::kernels::cpu {

namespace {

// Rows of the coalesced layout split over threads; a row is the innermost dimension.
template <size_t N, typename F>
void for_rows(const Exec& exec, const StridedLayout<N>& layout, F&& row_fn) {
  const int64_t rows = layout.num_rows();
  const int64_t grain = std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(layout.inner_size(), 1));
  parallel_for(exec, rows, grain, [&](int64_t r0, int64_t r1) { layout.for_each_row(r0, r1, row_fn); });
}

template <typename T>
T apply_unary(UnaryOp op, T x, double s) {
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case UnaryOp::Neg: return -x;
      case UnaryOp::Exp: return std::exp(x);
      case UnaryOp::Log: return std::log(x);
      case UnaryOp::Sqrt: return std::sqrt(x);
      case UnaryOp::Abs: return std::abs(x);
      case UnaryOp::Relu: return x > T(0) ? x : T(0);
      case UnaryOp::Sigmoid: return T(1) / (T(1) + std::exp(-x));
      case UnaryOp::Tanh: return std::tanh(x);
      case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
      case UnaryOp::PowScalar: return std::pow(x, T(s));
    }
  } else {
    switch (op) {
      case UnaryOp::Neg: return T(-x);
      case UnaryOp::Abs: return x < T(0) ? T(-x) : x;
      case UnaryOp::Relu: return x > T(0) ? x : T(0);
      case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
      default: break;
    }
  }
  return T(0);
}

bool unary_supports(UnaryOp op, DType t) {
  if (t == DType::Float32 || t == DType::Float64) return true;
  return is_integral(t) && (op == UnaryOp::Neg || op == UnaryOp::Abs || op == UnaryOp::Relu || op == UnaryOp::Sign);
}

template <typename T>
T apply_binary(BinaryOp op, T a, T b, T alpha) {
  switch (op) {
    case BinaryOp::Add: return a + alpha * b;
    case BinaryOp::Sub: return a - alpha * b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<T>) return a / b;
      else return b == T(0) ? T(0) : T(a / b);  // never trap on integer division by zero
    case BinaryOp::Eq: return T(a == b);
    case BinaryOp::Ne: return T(a != b);
    case BinaryOp::Lt: return T(a < b);
    case BinaryOp::Le: return T(a <= b);
    case BinaryOp::Gt: return T(a > b);
    case BinaryOp::Ge: return T(a >= b);
    case BinaryOp::AddRelu: {
      const T s = a + alpha * b;
      return s > T(0) ? s : T(0);
    }
    default: break;
  }
  if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case BinaryOp::Pow: return std::pow(a, b);
      case BinaryOp::ReluBackward: return b > T(0) ? a : T(0);
      case BinaryOp::SigmoidBackward: return a * b * (T(1) - b);
      case BinaryOp::TanhBackward: return a * (T(1) - b * b);
      default: break;
    }
  }
  return T(0);
}

bool binary_floats_only(BinaryOp op) {
  return op == BinaryOp::Pow || op == BinaryOp::ReluBackward || op == BinaryOp::SigmoidBackward ||
         op == BinaryOp::TanhBackward;
}

}  // namespace

// The op is chosen once per call: each case instantiates the row loop with its own
// functor, so the inner loop has no switch and the compiler can vectorise it.
template <typename T, typename F>
void unary_rows(const Exec& exec, const StridedLayout<2>& layout, T* out, const T* in, F f) {
  for_rows(exec, layout, [&](const auto& off, int64_t n, const auto& st) {
    T* o = out + off[0];
    const T* x = in + off[1];
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i]);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]]);
    }
  });
}

template <typename T, typename F>
void binary_rows(const Exec& exec, const StridedLayout<3>& layout, T* out, const T* a, const T* b, F f) {
  for_rows(exec, layout, [&](const auto& off, int64_t n, const auto& st) {
    T* o = out + off[0];
    const T* x = a + off[1];
    const T* y = b + off[2];
    if (st[0] == 1 && st[1] == 1 && st[2] == 1) {
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], y[i]);
    } else if (st[0] == 1 && st[1] == 1 && st[2] == 0) {  // tensor op scalar / broadcast row
      const T yv = y[0];
      for (int64_t i = 0; i < n; ++i) o[i] = f(x[i], yv);
    } else {
      for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(x[i * st[1]], y[i * st[2]]);
    }
  });
}

void unary(const UnaryArgs& args, const Exec& exec) {
  HONE_CHECK(unary_supports(args.op, args.dtype), "unary kernel: op ", int(args.op), " does not support dtype ",
             dtype_name(args.dtype));
  StridedLayout<2> layout(args.sizes, {args.out_strides, args.in_strides});
  HONE_DISPATCH_MATH(args.dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(args.out);
    const T* in = static_cast<const T*>(args.in);
    const double s = args.scalar;
    switch (args.op) {
      case UnaryOp::Neg: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Neg, x, 0); });
      case UnaryOp::Abs: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Abs, x, 0); });
      case UnaryOp::Relu: return unary_rows(exec, layout, out, in, [](T x) { return x > T(0) ? x : T(0); });
      case UnaryOp::Sign: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Sign, x, 0); });
      case UnaryOp::Exp: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Exp, x, 0); });
      case UnaryOp::Log: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Log, x, 0); });
      case UnaryOp::Sqrt: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Sqrt, x, 0); });
      case UnaryOp::Sigmoid: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Sigmoid, x, 0); });
      case UnaryOp::Tanh: return unary_rows(exec, layout, out, in, [](T x) { return apply_unary<T>(UnaryOp::Tanh, x, 0); });
      case UnaryOp::PowScalar: return unary_rows(exec, layout, out, in, [s](T x) { return apply_unary<T>(UnaryOp::PowScalar, x, s); });
    }
  });
}

void binary(const BinaryArgs& args, const Exec& exec) {
  HONE_CHECK(!binary_floats_only(args.op) || args.dtype == DType::Float32 || args.dtype == DType::Float64,
             "binary kernel: op ", int(args.op), " needs float32/float64, got ", dtype_name(args.dtype));
  StridedLayout<3> layout(args.sizes, {args.out_strides, args.a_strides, args.b_strides});
  HONE_DISPATCH_MATH(args.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    T* out = static_cast<T*>(args.out);
    const T* a = static_cast<const T*>(args.a);
    const T* b = static_cast<const T*>(args.b);
    const T alpha = T(args.alpha);
    switch (args.op) {
      case BinaryOp::Add:
        if (alpha == T(1)) return binary_rows(exec, layout, out, a, b, [](T x, T y) { return T(x + y); });
        return binary_rows(exec, layout, out, a, b, [alpha](T x, T y) { return T(x + alpha * y); });
      case BinaryOp::Sub:
        if (alpha == T(1)) return binary_rows(exec, layout, out, a, b, [](T x, T y) { return T(x - y); });
        return binary_rows(exec, layout, out, a, b, [alpha](T x, T y) { return T(x - alpha * y); });
      case BinaryOp::Mul: return binary_rows(exec, layout, out, a, b, [](T x, T y) { return T(x * y); });
      case BinaryOp::AddRelu:  // the same sum, then the same relu, as Add and then Relu: the same bits
        if (alpha == T(1))
          return binary_rows(exec, layout, out, a, b, [](T x, T y) {
            const T s = T(x + y);
            return s > T(0) ? s : T(0);
          });
        return binary_rows(exec, layout, out, a, b, [alpha](T x, T y) {
          const T s = T(x + alpha * y);
          return s > T(0) ? s : T(0);
        });
      // The activations' backwards run once per activation per training step: each gets a
      // loop of its own, which vectorises (through the generic switch below, ReLU's backward
      // took 6% of a ResNet-18 step).
      case BinaryOp::ReluBackward:
        if constexpr (std::is_floating_point_v<T>)
          return binary_rows(exec, layout, out, a, b, [](T g, T y) { return apply_binary<T>(BinaryOp::ReluBackward, g, y, 0); });
        break;
      case BinaryOp::SigmoidBackward:
        if constexpr (std::is_floating_point_v<T>)
          return binary_rows(exec, layout, out, a, b, [](T g, T y) { return apply_binary<T>(BinaryOp::SigmoidBackward, g, y, 0); });
        break;
      case BinaryOp::TanhBackward:
        if constexpr (std::is_floating_point_v<T>)
          return binary_rows(exec, layout, out, a, b, [](T g, T y) { return apply_binary<T>(BinaryOp::TanhBackward, g, y, 0); });
        break;
      default: break;
    }
    const BinaryOp op = args.op;  // the rest: less hot, one generic loop
    binary_rows(exec, layout, out, a, b, [op, alpha](T x, T y) { return apply_binary<T>(op, x, y, alpha); });
  });
}

}  // namespace hone::kernels::cpu

// ---- references: the definitions, one element at a time over the strides ----
namespace hone::kernels::cpu {

namespace {

// Offset of row-major element i of `sizes` through `strides`.
int64_t offset_of(int64_t i, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = sizes.size(); d-- > 0;) {
    off += (i % sizes[d]) * strides[d];
    i /= sizes[d];
  }
  return off;
}

int64_t numel_of(const std::vector<int64_t>& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}

// Floating types are computed in double; integers exactly, in int64 (division truncates,
// and by zero gives 0, as the fast kernel defines it).
template <typename T>
T unary_definition(UnaryOp op, T value, double s) {
  if constexpr (std::is_floating_point_v<T>) {
    const double x = double(value);
    switch (op) {
      case UnaryOp::Neg: return T(-x);
      case UnaryOp::Exp: return T(std::exp(x));
      case UnaryOp::Log: return T(std::log(x));
      case UnaryOp::Sqrt: return T(std::sqrt(x));
      case UnaryOp::Abs: return T(std::fabs(x));
      case UnaryOp::Relu: return T(x > 0 ? x : 0.0);
      case UnaryOp::Sigmoid: return T(1.0 / (1.0 + std::exp(-x)));
      case UnaryOp::Tanh: return T(std::tanh(x));
      case UnaryOp::Sign: return T((x > 0) - (x < 0));
      case UnaryOp::PowScalar: return T(std::pow(x, s));
    }
  } else {
    const int64_t x = int64_t(value);
    switch (op) {
      case UnaryOp::Neg: return T(-x);
      case UnaryOp::Abs: return T(x < 0 ? -x : x);
      case UnaryOp::Relu: return T(x > 0 ? x : 0);
      case UnaryOp::Sign: return T((x > 0) - (x < 0));
      default: break;
    }
  }
  return T(0);
}

template <typename T>
T binary_definition(BinaryOp op, T av, T bv, double alpha) {
  using W = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const W a = W(av), b = W(bv);
  switch (op) {
    case BinaryOp::Add: return T(a + W(alpha) * b);
    case BinaryOp::Sub: return T(a - W(alpha) * b);
    case BinaryOp::Mul: return T(a * b);
    case BinaryOp::Div:
      if constexpr (std::is_floating_point_v<T>) return T(a / b);
      else return b == 0 ? T(0) : T(a / b);
    case BinaryOp::Pow: return T(std::pow(double(a), double(b)));
    case BinaryOp::ReluBackward: return b > 0 ? T(a) : T(0);
    case BinaryOp::SigmoidBackward: return T(a * b * (1 - b));
    case BinaryOp::TanhBackward: return T(a * (1 - b * b));
    case BinaryOp::Eq: return T(a == b);
    case BinaryOp::Ne: return T(a != b);
    case BinaryOp::Lt: return T(a < b);
    case BinaryOp::Le: return T(a <= b);
    case BinaryOp::Gt: return T(a > b);
    case BinaryOp::Ge: return T(a >= b);
    case BinaryOp::AddRelu: return T(a + W(alpha) * b > 0 ? a + W(alpha) * b : 0);
  }
  return T(0);
}

}  // namespace

void unary_reference(const UnaryArgs& a) {
  HONE_DISPATCH_MATH(a.dtype, "unary", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(a.in);
    T* out = static_cast<T*>(a.out);
    for (int64_t i = 0, n = numel_of(a.sizes); i < n; ++i)
      out[offset_of(i, a.sizes, a.out_strides)] = unary_definition<T>(a.op, in[offset_of(i, a.sizes, a.in_strides)], a.scalar);
  });
}

void binary_reference(const BinaryArgs& a) {
  HONE_DISPATCH_MATH(a.dtype, "binary", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.a);
    const T* y = static_cast<const T*>(a.b);
    T* out = static_cast<T*>(a.out);
    for (int64_t i = 0, n = numel_of(a.sizes); i < n; ++i)
      out[offset_of(i, a.sizes, a.out_strides)] = binary_definition<T>(
          a.op, x[offset_of(i, a.sizes, a.a_strides)], y[offset_of(i, a.sizes, a.b_strides)], a.alpha);
  });
}

}  // namespace hone::kernels::cpu
