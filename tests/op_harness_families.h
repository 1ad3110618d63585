#pragma once
// One maker per kernel table of the registry: from a geometry, the Spec that builds the
// kernel's arguments from seeded draws, names the reference (the kernels' own *_reference
// where one exists; here a plain loop from the definition where none does: elementwise,
// and the pooling backwards as the adjoint of the forward reference), the CPU lowerings
// and the float64 gradcheck of the public op on a small version of the geometry.
#include <array>
#include <string>
#include <vector>

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax.h"
#include "op_harness.h"

namespace hone::harness {

namespace k = kernels;
namespace kc = kernels::cpu;
using Sizes = std::vector<int64_t>;

// ---- strided operands ----

// How an operand lies in memory: row-major, column-major (dims reversed), every stride
// doubled (gaps), or dim 0 broadcast (stride 0; inputs only).
enum class Layout { Contiguous, Transposed, Gapped, Broadcast };

inline Sizes contiguous_strides(const Sizes& sizes) {
  Sizes st(sizes.size());
  int64_t s = 1;
  for (size_t i = sizes.size(); i-- > 0;) st[i] = s, s *= std::max<int64_t>(sizes[i], 1);
  return st;
}
inline Sizes layout_strides(const Sizes& sizes, Layout layout) {
  if (layout == Layout::Transposed) {
    Sizes rev(sizes.rbegin(), sizes.rend()), st = contiguous_strides(rev);
    return Sizes(st.rbegin(), st.rend());
  }
  Sizes st = contiguous_strides(sizes);
  if (layout == Layout::Gapped)
    for (int64_t& s : st) s *= 2;
  if (layout == Layout::Broadcast && !st.empty()) st[0] = 0;
  return st;
}
// Elements a buffer needs for a view with these sizes and strides.
inline int64_t extent(const Sizes& sizes, const Sizes& strides) {
  int64_t e = 1;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (sizes[i] == 0) return 0;
    e += (sizes[i] - 1) * strides[i];
  }
  return e;
}
inline int64_t numel_of(const Sizes& sizes) {
  int64_t n = 1;
  for (int64_t s : sizes) n *= s;
  return n;
}
inline int64_t offset_of(int64_t linear, const Sizes& sizes, const Sizes& strides) {
  int64_t off = 0;
  for (size_t i = sizes.size(); i-- > 0;) off += (linear % sizes[i]) * strides[i], linear /= sizes[i];
  return off;
}
inline std::string layout_name(Layout l) {
  switch (l) {
    case Layout::Transposed: return " transposed";
    case Layout::Gapped: return " gapped";
    case Layout::Broadcast: return " broadcast";
    default: return "";
  }
}
inline std::string sizes_name(const Sizes& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "x" : "") + std::to_string(s[i]);
  return s.empty() ? "scalar" : out;
}
inline std::vector<double> rounded_to_float(std::vector<double> v) {
  for (double& e : v) e = double(float(e));
  return v;
}

// A float64 leaf of the given shape for gradcheck, uniform in [lo, hi].
inline Tensor leaf(const Shape& shape, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::vector<double> v(size_t(numel(shape)));
  for (double& e : v) e = std::uniform_real_distribution<double>(lo, hi)(rng);
  Tensor t = from_vector<double>(v, shape);
  t.set_requires_grad();
  return t;
}
inline int64_t small(int64_t v, int64_t most) { return std::min(v, most); }

// ---- elementwise ----

inline const char* unary_name(k::UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "abs", "relu", "sigmoid", "tanh", "sign", "pow_scalar"};
  return names[int(op)];
}
inline double unary_value(k::UnaryOp op, double x, double s) {
  switch (op) {
    case k::UnaryOp::Neg: return -x;
    case k::UnaryOp::Exp: return std::exp(x);
    case k::UnaryOp::Log: return std::log(x);
    case k::UnaryOp::Sqrt: return std::sqrt(x);
    case k::UnaryOp::Abs: return std::abs(x);
    case k::UnaryOp::Relu: return x > 0 ? x : 0;
    case k::UnaryOp::Sigmoid: return 1 / (1 + std::exp(-x));
    case k::UnaryOp::Tanh: return std::tanh(x);
    case k::UnaryOp::Sign: return double(x > 0) - double(x < 0);
    case k::UnaryOp::PowScalar: return std::pow(x, s);
  }
  return 0;
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
  s.reference = [](const k::UnaryArgs& a) {
    const auto* in = static_cast<const double*>(a.in);
    auto* out = static_cast<double*>(a.out);
    for (int64_t i = 0, n = numel_of(a.sizes); i < n; ++i)
      out[offset_of(i, a.sizes, a.out_strides)] = unary_value(a.op, in[offset_of(i, a.sizes, a.in_strides)], a.scalar);
  };
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
                                "tanh_backward", "eq", "ne", "lt", "le", "gt", "ge"};
  return names[int(op)];
}
inline double binary_value(k::BinaryOp op, double a, double b, double alpha) {
  switch (op) {
    case k::BinaryOp::Add: return a + alpha * b;
    case k::BinaryOp::Sub: return a - alpha * b;
    case k::BinaryOp::Mul: return a * b;
    case k::BinaryOp::Div: return a / b;
    case k::BinaryOp::Pow: return std::pow(a, b);
    case k::BinaryOp::ReluBackward: return b > 0 ? a : 0;
    case k::BinaryOp::SigmoidBackward: return a * b * (1 - b);
    case k::BinaryOp::TanhBackward: return a * (1 - b * b);
    case k::BinaryOp::Eq: return a == b;
    case k::BinaryOp::Ne: return a != b;
    case k::BinaryOp::Lt: return a < b;
    case k::BinaryOp::Le: return a <= b;
    case k::BinaryOp::Gt: return a > b;
    case k::BinaryOp::Ge: return a >= b;
  }
  return 0;
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
  s.reference = [](const k::BinaryArgs& a) {
    const auto* x = static_cast<const double*>(a.a);
    const auto* y = static_cast<const double*>(a.b);
    auto* out = static_cast<double*>(a.out);
    for (int64_t i = 0, n = numel_of(a.sizes); i < n; ++i)
      out[offset_of(i, a.sizes, a.out_strides)] =
          binary_value(a.op, x[offset_of(i, a.sizes, a.a_strides)], y[offset_of(i, a.sizes, a.b_strides)], a.alpha);
  };
  // Comparisons of float32-representable values are exact in either dtype.
  const bool exact = op >= k::BinaryOp::Eq;
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

// ---- matmul ----

// batch x (m x k) times (k x n); A and/or B stored transposed; `gapped` doubles C's
// row stride (every GEMM stride the kernel takes, exercised).
inline OpCase matmul_case(int64_t batch, int64_t m, int64_t n, int64_t kk, bool a_t = false, bool b_t = false,
                          bool gapped = false) {
  Spec<k::MatmulArgs> s;
  s.name = "matmul " + std::to_string(batch) + "x" + std::to_string(m) + "x" + std::to_string(kk) + " @ " +
           std::to_string(kk) + "x" + std::to_string(n) + (a_t ? " At" : "") + (b_t ? " Bt" : "") + (gapped ? " gapped" : "");
  s.table = &k::kernel_registry().matmul;
  s.build = [=](Problem& p) {
    k::MatmulArgs a{};
    a.dtype = p.dtype();
    a.batch = batch, a.m = m, a.n = n, a.k = kk;
    a.a_batch_stride = m * kk, a.a_row_stride = a_t ? 1 : kk, a.a_col_stride = a_t ? m : 1;
    a.b_batch_stride = kk * n, a.b_row_stride = b_t ? 1 : n, a.b_col_stride = b_t ? kk : 1;
    const int64_t ldc = gapped ? 2 * n + 1 : n;
    a.c_batch_stride = m * ldc, a.c_row_stride = ldc, a.c_col_stride = 1;
    a.a = p.random(batch * m * kk);
    a.b = p.random(batch * kk * n);
    a.c = p.output("c", batch * m * ldc);
    return a;
  };
  s.reference = [](const k::MatmulArgs& a) {
    // The gaps of a gapped C are not the product's: the reference leaves them NaN as the
    // kernel must, so they compare equal.
    kc::matmul_reference(a);
  };
  s.tol = {.f32 = 3e-7 * std::sqrt(double(kk) + 1), .f64 = 1e-15 * std::sqrt(double(kk) + 1)};
  s.flops = 2.0 * double(batch * m * n * kk);
  s.elements = double(batch * (m * kk + kk * n + m * n));
  s.gradcheck = [=] {
    Tensor a = leaf({small(batch, 2), small(m, 3), small(kk, 4)}, 31), b = leaf({small(batch, 2), small(kk, 4), small(n, 3)}, 32);
    return gradcheck(
        [=](const std::vector<Tensor>& in) {
          return matmul(a_t ? in[0].transpose(1, 2).contiguous().transpose(1, 2) : in[0], in[1]);
        },
        {a, b});
  };
  return make_case(std::move(s));
}

// ---- conv2d ----

inline std::string conv_name(const char* dir, const k::Conv2dGeometry& g) {
  std::ostringstream o;
  o << "conv2d " << dir << " " << g.kh << "x" << g.kw << " s" << g.stride_h;
  if (g.stride_w != g.stride_h) o << "," << g.stride_w;
  o << " p" << g.pad_top;
  if (g.pad_left != g.pad_top || g.pad_bottom != g.pad_top || g.pad_right != g.pad_top)
    o << "," << g.pad_left << "," << g.pad_bottom << "," << g.pad_right;
  if (g.dilation_h != 1 || g.dilation_w != 1) o << " d" << g.dilation_h << "," << g.dilation_w;
  if (g.groups != 1) o << " g" << g.groups;
  o << " c" << g.c_in << "->" << g.c_out << " " << g.h << "x" << g.w << " n" << g.n;
  return o.str();
}
// The CPU float32 lowerings: each algorithm, the direct one with each instruction set
// this CPU runs (float64 has one lowering).
template <typename Args>
std::vector<Lowering<Args>> conv_lowerings(const k::Conv2dGeometry& g, DType dtype, bool backward) {
  std::vector<Lowering<Args>> out;
  if (dtype != DType::Float32) return out;
  auto set = [](k::Conv2dAlgorithm al, kc::CpuIsa isa) { return [=](Args& a) { a.algorithm = al, a.isa = isa; }; };
  out.push_back({"Auto", set(k::Conv2dAlgorithm::Auto, kc::CpuIsa::Auto)});
  out.push_back({"Columns", set(k::Conv2dAlgorithm::Columns, kc::CpuIsa::Auto)});
  if (!backward) out.push_back({"Transposed", set(k::Conv2dAlgorithm::Transposed, kc::CpuIsa::Auto)});
  for (kc::CpuIsa isa : {kc::CpuIsa::Avx512, kc::CpuIsa::Avx2})
    if (kc::conv2d_direct_supported(g, isa))
      out.push_back({std::string("Direct ") + kc::cpu_isa_name(isa), set(k::Conv2dAlgorithm::Direct, isa)});
  return out;
}
inline GradcheckResult conv_gradcheck(k::Conv2dGeometry g) {
  const int64_t per_in = small(g.c_in / g.groups, 2), per_out = small(g.c_out / g.groups, 2);
  g.n = small(g.n, 2), g.c_in = per_in * g.groups, g.c_out = per_out * g.groups;
  const int64_t reach_h = g.dilation_h * (g.kh - 1) + 1, reach_w = g.dilation_w * (g.kw - 1) + 1;
  g.h = small(g.h, reach_h + g.stride_h + 1), g.w = small(g.w, reach_w + g.stride_w + 1);
  Conv2dOptions o{.stride = {g.stride_h, g.stride_w}, .padding = {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right},
                  .dilation = {g.dilation_h, g.dilation_w}, .groups = g.groups};
  return gradcheck([=](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], o); },
                   {leaf({g.n, g.c_in, g.h, g.w}, 41), leaf({g.c_out, per_in, g.kh, g.kw}, 42), leaf({g.c_out}, 43)});
}
inline double conv_flops(const k::Conv2dGeometry& g) {
  return 2.0 * double(g.n * g.c_out * g.out_h() * g.out_w()) * double(g.c_in / g.groups * g.kh * g.kw);
}
inline double conv_elements(const k::Conv2dGeometry& g) {
  return double(g.n * g.c_in * g.h * g.w + g.c_out * (g.c_in / g.groups) * g.kh * g.kw + g.n * g.c_out * g.out_h() * g.out_w());
}
inline Tolerance conv_tolerance(const k::Conv2dGeometry& g) {
  const double depth = double(g.c_in / g.groups * g.kh * g.kw + g.n * g.out_h() * g.out_w());
  return {.f32 = 2e-7 * std::sqrt(depth), .f64 = 1e-15 * std::sqrt(depth)};
}

inline OpCase conv2d_forward_case(k::Conv2dGeometry g, bool bias = true) {
  Spec<k::Conv2dForwardArgs> s;
  s.name = conv_name("forward", g) + (bias ? "" : " nobias");
  s.table = &k::kernel_registry().conv2d_forward;
  s.build = [=](Problem& p) {
    k::Conv2dForwardArgs a{.g = g, .dtype = p.dtype(), .input = nullptr, .weight = nullptr, .bias = nullptr, .output = nullptr};
    a.input = p.random(g.n * g.c_in * g.h * g.w);
    a.weight = p.random(g.c_out * (g.c_in / g.groups) * g.kh * g.kw);
    if (bias) a.bias = p.random(g.c_out);
    a.output = p.output("output", g.n * g.c_out * g.out_h() * g.out_w());
    return a;
  };
  s.reference = [](const k::Conv2dForwardArgs& a) { kc::conv2d_forward_reference(a); };
  s.lowerings = [=](DType t) { return conv_lowerings<k::Conv2dForwardArgs>(g, t, false); };
  s.tol = conv_tolerance(g);
  s.flops = conv_flops(g);
  s.elements = conv_elements(g);
  s.gradcheck = [=] { return conv_gradcheck(g); };
  return make_case(std::move(s));
}

inline OpCase conv2d_backward_case(k::Conv2dGeometry g) {
  Spec<k::Conv2dBackwardArgs> s;
  s.name = conv_name("backward", g);
  s.table = &k::kernel_registry().conv2d_backward;
  s.build = [=](Problem& p) {
    k::Conv2dBackwardArgs a{.g = g, .dtype = p.dtype(), .input = nullptr, .weight = nullptr, .grad_output = nullptr,
                            .grad_input = nullptr, .grad_weight = nullptr, .grad_bias = nullptr};
    a.input = p.random(g.n * g.c_in * g.h * g.w);
    a.weight = p.random(g.c_out * (g.c_in / g.groups) * g.kh * g.kw);
    a.grad_output = p.random(g.n * g.c_out * g.out_h() * g.out_w());
    a.grad_input = p.output("grad_input", g.n * g.c_in * g.h * g.w);
    a.grad_weight = p.output("grad_weight", g.c_out * (g.c_in / g.groups) * g.kh * g.kw);
    a.grad_bias = p.output("grad_bias", g.c_out);
    return a;
  };
  s.reference = [](const k::Conv2dBackwardArgs& a) { kc::conv2d_backward_reference(a); };
  s.lowerings = [=](DType t) { return conv_lowerings<k::Conv2dBackwardArgs>(g, t, true); };
  s.tol = conv_tolerance(g);
  s.flops = 2 * conv_flops(g);
  s.elements = conv_elements(g) * 2;
  s.gradcheck = [=] { return conv_gradcheck(g); };
  return make_case(std::move(s));
}

// ---- batch norm ----

struct BatchNormMode {
  bool affine = true;
  bool use_batch_stats = true;  // training; false: running statistics (eval, frozen)
  bool update_running = true;
  k::BatchNormConvention convention = k::BatchNormConvention::PyTorch;
};
inline std::string bn_name(const char* dir, int64_t n, int64_t c, int64_t hw, const BatchNormMode& m) {
  return std::string("batch_norm ") + dir + " n" + std::to_string(n) + " c" + std::to_string(c) + " hw" +
         std::to_string(hw) + (m.use_batch_stats ? " train" : " eval") + (m.affine ? "" : " noaffine") +
         (m.use_batch_stats && !m.update_running ? " norunning" : "") +
         (m.convention == k::BatchNormConvention::Onnx ? " onnx" : "");
}
inline GradcheckResult bn_gradcheck(int64_t n, int64_t c, int64_t hw, const BatchNormMode& m) {
  const int64_t gn = small(n, 3), gc = small(c, 3), gh = small(hw, 4);
  Tensor rm = from_vector<double>(std::vector<double>(size_t(gc), 0.1), {gc});
  Tensor rv = from_vector<double>(std::vector<double>(size_t(gc), 1.2), {gc});
  BatchNormOptions o{.use_batch_stats = m.use_batch_stats, .update_running_stats = m.update_running,
                     .convention = m.convention};
  std::vector<Tensor> in{leaf({gn, gc, gh}, 51)};
  if (m.affine) in.push_back(leaf({gc}, 52, 0.5, 1.5)), in.push_back(leaf({gc}, 53));
  return gradcheck(
      [=](const std::vector<Tensor>& x) {
        return batch_norm(x[0], m.affine ? x[1] : Tensor(), m.affine ? x[2] : Tensor(), rm, rv, o);
      },
      in);
}

inline OpCase batch_norm_forward_case(int64_t n, int64_t c, int64_t hw, BatchNormMode m = {}) {
  Spec<k::BatchNormForwardArgs> s;
  s.name = bn_name("forward", n, c, hw, m);
  s.table = &k::kernel_registry().batch_norm_forward;
  s.build = [=](Problem& p) {
    k::BatchNormForwardArgs a{.dtype = p.dtype(), .n = n, .c = c, .hw = hw};
    a.x = p.random(n * c * hw, -2, 3);
    a.gamma = m.affine ? p.random(c, 0.5, 1.5) : nullptr;
    a.beta = m.affine ? p.random(c) : nullptr;
    a.running_mean = p.inout("running_mean", p.draw(c, -0.5, 0.5));
    a.running_var = p.inout("running_var", p.draw(c, 0.5, 1.5));
    a.use_batch_stats = m.use_batch_stats;
    a.update_running = m.use_batch_stats && m.update_running;
    a.convention = m.convention;
    a.y = p.output("y", n * c * hw);
    a.save_mean = p.output("save_mean", c);
    a.save_invstd = p.output("save_invstd", c);
    return a;
  };
  s.reference = [](const k::BatchNormForwardArgs& a) { kc::batchnorm_forward_reference(a); };
  s.tol = {.f32 = 1e-6, .f64 = 1e-14};
  s.elements = 2.0 * double(n * c * hw);
  s.gradcheck = [=] { return bn_gradcheck(n, c, hw, m); };
  return make_case(std::move(s));
}

inline OpCase batch_norm_backward_case(int64_t n, int64_t c, int64_t hw, BatchNormMode m = {}) {
  Spec<k::BatchNormBackwardArgs> s;
  s.name = bn_name("backward", n, c, hw, m);
  s.table = &k::kernel_registry().batch_norm_backward;
  s.build = [=](Problem& p) {
    k::BatchNormBackwardArgs a{.dtype = p.dtype(), .n = n, .c = c, .hw = hw};
    const std::vector<double> x = p.draw(n * c * hw, -2, 3);
    std::vector<double> mean(static_cast<size_t>(c)), invstd(static_cast<size_t>(c));
    if (m.use_batch_stats) {  // what the forward saves: this batch's mean and 1/sqrt(biased var + eps)
      for (int64_t ch = 0; ch < c; ++ch) {
        double s1 = 0, s2 = 0;
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < hw; ++j) s1 += x[size_t((i * c + ch) * hw + j)];
        const double mu = s1 / double(n * hw);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < hw; ++j) s2 += std::pow(x[size_t((i * c + ch) * hw + j)] - mu, 2);
        mean[size_t(ch)] = mu, invstd[size_t(ch)] = 1 / std::sqrt(s2 / double(n * hw) + 1e-5);
      }
    } else {
      mean = p.draw(c, -0.5, 0.5), invstd = p.draw(c, 0.7, 1.4);
    }
    a.x = p.input(x);
    a.gamma = m.affine ? p.random(c, 0.5, 1.5) : nullptr;
    a.dy = p.random(n * c * hw);
    a.save_mean = p.input(rounded_to_float(mean));
    a.save_invstd = p.input(rounded_to_float(invstd));
    a.used_batch_stats = m.use_batch_stats;
    a.dx = p.output("dx", n * c * hw);
    a.dgamma = p.output("dgamma", c);
    a.dbeta = p.output("dbeta", c);
    return a;
  };
  s.reference = [](const k::BatchNormBackwardArgs& a) { kc::batchnorm_backward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 2e-14};
  s.elements = 3.0 * double(n * c * hw);
  s.gradcheck = [=] { return bn_gradcheck(n, c, hw, m); };
  return make_case(std::move(s));
}

// ---- pooling ----

inline std::string pool_name(const std::string& what, const k::Pool2dGeometry& g) {
  std::ostringstream o;
  o << what << " " << g.kh << "x" << g.kw << " s" << g.stride_h << "," << g.stride_w << " p" << g.pad_top << ","
    << g.pad_left << "," << g.pad_bottom << "," << g.pad_right;
  if (g.dilation_h != 1 || g.dilation_w != 1) o << " d" << g.dilation_h << "," << g.dilation_w;
  if (g.ceil_mode) o << " ceil";
  o << " c" << g.c << " " << g.h << "x" << g.w << " n" << g.n;
  return o.str();
}
inline Pool2dOptions pool_options(const k::Pool2dGeometry& g, bool count_include_pad = true) {
  return {.kernel = {g.kh, g.kw}, .stride = {g.stride_h, g.stride_w},
          .padding = {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right}, .dilation = {g.dilation_h, g.dilation_w},
          .ceil_mode = g.ceil_mode, .count_include_pad = count_include_pad};
}
// A small input for the gradcheck: few planes, and a spatial size that still holds a
// window and a stride or two (large layers would take seconds of finite differences).
inline Shape pool_small_input(const k::Pool2dGeometry& g) {
  return {small(g.n, 2), small(g.c, 2), small(g.h, g.dilation_h * (g.kh - 1) + 2 * g.stride_h + 2),
          small(g.w, g.dilation_w * (g.kw - 1) + 2 * g.stride_w + 2)};
}

// The adjoint of a linear map on one plane given by its forward reference: column i of the
// map is the forward of the unit vector e_i; dx = A^T dy on every plane.
inline void adjoint_per_plane(int64_t planes, int64_t in_size, int64_t out_size,
                              const std::function<void(const double* x, double* y)>& forward, const double* dy,
                              double* dx) {
  std::vector<double> e(static_cast<size_t>(in_size), 0.0), col(static_cast<size_t>(out_size));
  std::vector<double> a(size_t(in_size * out_size));
  for (int64_t i = 0; i < in_size; ++i) {
    e[size_t(i)] = 1;
    forward(e.data(), col.data());
    e[size_t(i)] = 0;
    for (int64_t o = 0; o < out_size; ++o) a[size_t(i * out_size + o)] = col[size_t(o)];
  }
  for (int64_t pl = 0; pl < planes; ++pl)
    for (int64_t i = 0; i < in_size; ++i) {
      double acc = 0;
      for (int64_t o = 0; o < out_size; ++o) acc += a[size_t(i * out_size + o)] * dy[pl * out_size + o];
      dx[pl * in_size + i] = acc;
    }
}

inline OpCase max_pool2d_forward_case(k::Pool2dGeometry g) {
  Spec<k::MaxPool2dForwardArgs> s;
  s.name = pool_name("max_pool2d forward", g);
  s.table = &k::kernel_registry().max_pool2d_forward;
  s.build = [=](Problem& p) {
    const int64_t out = g.n * g.c * g.out_h() * g.out_w();
    k::MaxPool2dForwardArgs a{.g = g, .dtype = p.dtype(), .input = p.random(g.n * g.c * g.h * g.w),
                              .output = p.output("values", out), .indices = nullptr};
    a.indices = static_cast<int64_t*>(p.output_as("indices", DType::Int64, out));
    return a;
  };
  s.reference = [](const k::MaxPool2dForwardArgs& a) { kc::max_pool2d_reference(a); };
  s.tol = {0, 0};  // a maximum is one of the inputs
  s.elements = double(g.n * g.c * (g.h * g.w + 2 * g.out_h() * g.out_w()));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_options(g)); },
                     {leaf(pool_small_input(g), 61)});
  };
  return make_case(std::move(s));
}

inline OpCase max_pool2d_backward_case(k::Pool2dGeometry g) {
  Spec<k::MaxPool2dBackwardArgs> s;
  s.name = pool_name("max_pool2d backward", g);
  s.table = &k::kernel_registry().max_pool2d_backward;
  s.build = [=](Problem& p) {
    const int64_t in = g.n * g.c * g.h * g.w, out = g.n * g.c * g.out_h() * g.out_w();
    std::vector<double> x = p.draw(in), y(static_cast<size_t>(out));
    std::vector<int64_t> idx(static_cast<size_t>(out));
    kc::max_pool2d_reference({.g = g, .dtype = DType::Float64, .input = x.data(), .output = y.data(), .indices = idx.data()});
    return k::MaxPool2dBackwardArgs{
        .g = g, .dtype = p.dtype(), .grad_output = p.random(out),
        .indices = static_cast<const int64_t*>(p.input_as(DType::Int64, std::vector<double>(idx.begin(), idx.end()))),
        .grad_input = p.output("grad_input", in)};
  };
  s.reference = [](const k::MaxPool2dBackwardArgs& a) {  // each output's gradient to its maximum
    const int64_t plane_in = a.g.h * a.g.w, plane_out = a.g.out_h() * a.g.out_w();
    auto* dx = static_cast<double*>(a.grad_input);
    const auto* dy = static_cast<const double*>(a.grad_output);
    std::fill(dx, dx + a.g.n * a.g.c * plane_in, 0.0);
    for (int64_t pl = 0; pl < a.g.n * a.g.c; ++pl)
      for (int64_t o = 0; o < plane_out; ++o) dx[pl * plane_in + a.indices[pl * plane_out + o]] += dy[pl * plane_out + o];
  };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = double(g.n * g.c * (g.h * g.w + 2 * g.out_h() * g.out_w()));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool_options(g)); },
                     {leaf(pool_small_input(g), 62)});
  };
  return make_case(std::move(s));
}

inline OpCase avg_pool2d_forward_case(k::Pool2dGeometry g, bool count_include_pad = true) {
  Spec<k::AvgPool2dForwardArgs> s;
  s.name = pool_name("avg_pool2d forward", g) + (count_include_pad ? "" : " exclude_pad");
  s.table = &k::kernel_registry().avg_pool2d_forward;
  s.build = [=](Problem& p) {
    return k::AvgPool2dForwardArgs{.g = g, .dtype = p.dtype(), .count_include_pad = count_include_pad,
                                   .input = p.random(g.n * g.c * g.h * g.w),
                                   .output = p.output("output", g.n * g.c * g.out_h() * g.out_w())};
  };
  s.reference = [](const k::AvgPool2dForwardArgs& a) { kc::avg_pool2d_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = double(g.n * g.c * (g.h * g.w + g.out_h() * g.out_w()));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return avg_pool2d(in[0], pool_options(g, count_include_pad)); },
                     {leaf(pool_small_input(g), 63)});
  };
  return make_case(std::move(s));
}

inline OpCase avg_pool2d_backward_case(k::Pool2dGeometry g, bool count_include_pad = true) {
  Spec<k::AvgPool2dBackwardArgs> s;
  s.name = pool_name("avg_pool2d backward", g) + (count_include_pad ? "" : " exclude_pad");
  s.table = &k::kernel_registry().avg_pool2d_backward;
  s.build = [=](Problem& p) {
    return k::AvgPool2dBackwardArgs{.g = g, .dtype = p.dtype(), .count_include_pad = count_include_pad,
                                    .grad_output = p.random(g.n * g.c * g.out_h() * g.out_w()),
                                    .grad_input = p.output("grad_input", g.n * g.c * g.h * g.w)};
  };
  s.reference = [](const k::AvgPool2dBackwardArgs& a) {
    k::Pool2dGeometry one = a.g;
    one.n = one.c = 1;
    adjoint_per_plane(
        a.g.n * a.g.c, a.g.h * a.g.w, a.g.out_h() * a.g.out_w(),
        [&](const double* x, double* y) {
          kc::avg_pool2d_reference({.g = one, .dtype = DType::Float64, .count_include_pad = a.count_include_pad,
                                    .input = x, .output = y});
        },
        static_cast<const double*>(a.grad_output), static_cast<double*>(a.grad_input));
  };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = double(g.n * g.c * (g.h * g.w + g.out_h() * g.out_w()));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return avg_pool2d(in[0], pool_options(g, count_include_pad)); },
                     {leaf(pool_small_input(g), 64)});
  };
  return make_case(std::move(s));
}

inline std::string adaptive_name(const char* dir, int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  return std::string("adaptive_avg_pool2d ") + dir + " c" + std::to_string(c) + " " + std::to_string(h) + "x" +
         std::to_string(w) + "->" + std::to_string(oh) + "x" + std::to_string(ow) + " n" + std::to_string(n);
}
inline GradcheckResult adaptive_gradcheck(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  return gradcheck([=](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {oh, ow}); },
                   {leaf({small(n, 2), small(c, 2), h, w}, 65)});
}

inline OpCase adaptive_avg_pool2d_forward_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  Spec<k::AdaptiveAvgPool2dForwardArgs> s;
  s.name = adaptive_name("forward", n, c, h, w, oh, ow);
  s.table = &k::kernel_registry().adaptive_avg_pool2d_forward;
  s.build = [=](Problem& p) {
    return k::AdaptiveAvgPool2dForwardArgs{.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow, .dtype = p.dtype(),
                                           .input = p.random(n * c * h * w), .output = p.output("output", n * c * oh * ow)};
  };
  s.reference = [](const k::AdaptiveAvgPool2dForwardArgs& a) { kc::adaptive_avg_pool2d_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = double(n * c * (h * w + oh * ow));
  s.gradcheck = [=] { return adaptive_gradcheck(n, c, h, w, oh, ow); };
  return make_case(std::move(s));
}

inline OpCase adaptive_avg_pool2d_backward_case(int64_t n, int64_t c, int64_t h, int64_t w, int64_t oh, int64_t ow) {
  Spec<k::AdaptiveAvgPool2dBackwardArgs> s;
  s.name = adaptive_name("backward", n, c, h, w, oh, ow);
  s.table = &k::kernel_registry().adaptive_avg_pool2d_backward;
  s.build = [=](Problem& p) {
    return k::AdaptiveAvgPool2dBackwardArgs{.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow, .dtype = p.dtype(),
                                            .grad_output = p.random(n * c * oh * ow),
                                            .grad_input = p.output("grad_input", n * c * h * w)};
  };
  s.reference = [](const k::AdaptiveAvgPool2dBackwardArgs& a) {
    adjoint_per_plane(
        a.n * a.c, a.h * a.w, a.out_h * a.out_w,
        [&](const double* x, double* y) {
          kc::adaptive_avg_pool2d_reference({.n = 1, .c = 1, .h = a.h, .w = a.w, .out_h = a.out_h, .out_w = a.out_w,
                                             .dtype = DType::Float64, .input = x, .output = y});
        },
        static_cast<const double*>(a.grad_output), static_cast<double*>(a.grad_input));
  };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = double(n * c * (h * w + oh * ow));
  s.gradcheck = [=] { return adaptive_gradcheck(n, c, h, w, oh, ow); };
  return make_case(std::move(s));
}

// ---- softmax and cross-entropy ----

inline std::string softmax_name(const char* dir, int64_t outer, int64_t dim, int64_t inner, bool log) {
  return std::string(log ? "log_softmax " : "softmax ") + dir + " " + std::to_string(outer) + "x[" +
         std::to_string(dim) + "]x" + std::to_string(inner);
}
inline GradcheckResult softmax_gradcheck(int64_t outer, int64_t dim, int64_t inner, bool log) {
  return gradcheck(
      [=](const std::vector<Tensor>& in) {
        // A weighted sum, so the gradient is not the trivially zero one of sum(softmax).
        Tensor y = log ? log_softmax(in[0], 1) : softmax(in[0], 1);
        return y * in[1];
      },
      {leaf({small(outer, 2), small(dim, 5), small(inner, 3)}, 71, -3, 3), leaf({small(outer, 2), small(dim, 5), small(inner, 3)}, 72)});
}

inline OpCase softmax_forward_case(int64_t outer, int64_t dim, int64_t inner, bool log) {
  Spec<k::SoftmaxForwardArgs> s;
  s.name = softmax_name("forward", outer, dim, inner, log);
  s.table = &k::kernel_registry().softmax_forward;
  s.build = [=](Problem& p) {
    return k::SoftmaxForwardArgs{.dtype = p.dtype(), .outer = outer, .dim = dim, .inner = inner, .log = log,
                                 .x = p.random(outer * dim * inner, -8, 8), .y = p.output("y", outer * dim * inner)};
  };
  s.reference = [](const k::SoftmaxForwardArgs& a) { kc::softmax_forward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 1e-14};
  s.elements = 2.0 * double(outer * dim * inner);
  s.gradcheck = [=] { return softmax_gradcheck(outer, dim, inner, log); };
  return make_case(std::move(s));
}

inline OpCase softmax_backward_case(int64_t outer, int64_t dim, int64_t inner, bool log) {
  Spec<k::SoftmaxBackwardArgs> s;
  s.name = softmax_name("backward", outer, dim, inner, log);
  s.table = &k::kernel_registry().softmax_backward;
  s.build = [=](Problem& p) {
    const int64_t n = outer * dim * inner;
    std::vector<double> x = p.draw(n, -8, 8), y(static_cast<size_t>(n));
    kc::softmax_forward_reference(
        {.dtype = DType::Float64, .outer = outer, .dim = dim, .inner = inner, .log = log, .x = x.data(), .y = y.data()});
    return k::SoftmaxBackwardArgs{.dtype = p.dtype(), .outer = outer, .dim = dim, .inner = inner, .log = log,
                                  .y = p.input(rounded_to_float(y)), .dy = p.random(n), .dx = p.output("dx", n)};
  };
  s.reference = [](const k::SoftmaxBackwardArgs& a) { kc::softmax_backward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 1e-14};
  s.elements = 3.0 * double(outer * dim * inner);
  s.gradcheck = [=] { return softmax_gradcheck(outer, dim, inner, log); };
  return make_case(std::move(s));
}

// Targets in [0, c); with `ignored`, every third row's target is ignore_index.
inline std::vector<double> ce_targets(Problem& p, int64_t n, int64_t c, bool ignored) {
  std::vector<double> t = p.draw_ints(n, 0, c - 1);
  if (ignored)
    for (size_t i = 0; i < t.size(); i += 3) t[i] = -100;
  return t;
}
inline std::string ce_name(const char* dir, int64_t n, int64_t c, double smoothing, bool ignored) {
  return std::string("cross_entropy ") + dir + " n" + std::to_string(n) + " c" + std::to_string(c) +
         (smoothing > 0 ? " smoothing" : "") + (ignored ? " ignored" : "");
}
inline GradcheckResult ce_gradcheck(int64_t n, int64_t c, double smoothing, bool ignored) {
  const int64_t gn = small(n, 4), gc = small(c, 5);
  std::vector<int64_t> t(static_cast<size_t>(gn));
  for (int64_t i = 0; i < gn; ++i) t[size_t(i)] = ignored && i % 3 == 0 ? -100 : (i * 7 + 1) % gc;
  Tensor target = from_vector<int64_t>(t, {gn});
  return gradcheck(
      [=](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, {.label_smoothing = smoothing}); },
      {leaf({gn, gc}, 81, -3, 3)});
}

inline OpCase cross_entropy_forward_case(int64_t n, int64_t c, double smoothing = 0, bool ignored = false) {
  Spec<k::CrossEntropyArgs> s;
  s.name = ce_name("forward", n, c, smoothing, ignored);
  s.table = &k::kernel_registry().cross_entropy_forward;
  s.build = [=](Problem& p) {
    k::CrossEntropyArgs a{.dtype = p.dtype(), .n = n, .c = c, .logits = p.random(n * c, -6, 6)};
    a.target = static_cast<const int64_t*>(p.input_as(DType::Int64, ce_targets(p, n, c, ignored)));
    a.label_smoothing = smoothing;
    a.losses = p.output("losses", n);
    a.log_prob = p.output("log_prob", n * c);
    return a;
  };
  s.reference = [](const k::CrossEntropyArgs& a) { kc::cross_entropy_forward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 1e-14};
  s.elements = 2.0 * double(n * c);
  s.gradcheck = [=] { return ce_gradcheck(n, c, smoothing, ignored); };
  return make_case(std::move(s));
}

inline OpCase cross_entropy_backward_case(int64_t n, int64_t c, double smoothing = 0, bool ignored = false) {
  Spec<k::CrossEntropyBackwardArgs> s;
  s.name = ce_name("backward", n, c, smoothing, ignored);
  s.table = &k::kernel_registry().cross_entropy_backward;
  s.build = [=](Problem& p) {
    std::vector<double> logits = p.draw(n * c, -6, 6), losses(static_cast<size_t>(n)), log_prob(static_cast<size_t>(n * c));
    std::vector<double> t = ce_targets(p, n, c, ignored);
    std::vector<int64_t> ti(t.begin(), t.end());
    kc::cross_entropy_forward_reference({.dtype = DType::Float64, .n = n, .c = c, .logits = logits.data(),
                                         .target = ti.data(), .label_smoothing = smoothing, .losses = losses.data(),
                                         .log_prob = log_prob.data()});
    k::CrossEntropyBackwardArgs a{.dtype = p.dtype(), .n = n, .c = c, .log_prob = p.input(rounded_to_float(log_prob))};
    a.target = static_cast<const int64_t*>(p.input_as(DType::Int64, t));
    a.label_smoothing = smoothing;
    a.row_scale = p.random(n, 0.1, 1);
    a.dlogits = p.output("dlogits", n * c);
    return a;
  };
  s.reference = [](const k::CrossEntropyBackwardArgs& a) { kc::cross_entropy_backward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 1e-14};
  s.elements = 2.0 * double(n * c);
  s.gradcheck = [=] { return ce_gradcheck(n, c, smoothing, ignored); };
  return make_case(std::move(s));
}

// ---- reductions ----

// Splits a strided input into the kept (outer) dims and the reduced ones.
struct Split {
  Sizes outer_sizes, outer_in_strides, inner_sizes, inner_in_strides;
};
inline Split split_dims(const Sizes& sizes, const Sizes& strides, const std::vector<int64_t>& reduced) {
  Split s;
  for (size_t d = 0; d < sizes.size(); ++d) {
    const bool r = std::find(reduced.begin(), reduced.end(), int64_t(d)) != reduced.end();
    (r ? s.inner_sizes : s.outer_sizes).push_back(sizes[d]);
    (r ? s.inner_in_strides : s.outer_in_strides).push_back(strides[d]);
  }
  return s;
}
inline std::string dims_name(const std::vector<int64_t>& dims) {
  std::string o = "[";
  for (size_t i = 0; i < dims.size(); ++i) o += (i ? "," : "") + std::to_string(dims[i]);
  return o + "]";
}
inline Shape small_shape(const Sizes& sizes, int64_t most) {
  Shape sh(sizes.begin(), sizes.end());
  for (int64_t& d : sh) d = small(d, most);
  return sh;
}

// sum of `sizes` (laid out as `layout`) over `dims`, times `scale` (mean: 1/count).
inline OpCase sum_case(Sizes sizes, std::vector<int64_t> dims, Layout layout = Layout::Contiguous, double scale = 1,
                       std::vector<DType> dtypes = {DType::Float32, DType::Float64}) {
  Spec<k::ReduceArgs> s;
  s.name = "sum " + sizes_name(sizes) + " over " + dims_name(dims) + layout_name(layout) + (scale != 1 ? " mean" : "") +
           (dtypes.size() > 2 ? " ints" : "");
  s.table = &k::kernel_registry().sum;
  s.dtypes = dtypes;
  s.integer_values = true;
  s.build = [=](Problem& p) {
    const Sizes st = layout_strides(sizes, layout);
    Split sp = split_dims(sizes, st, dims);
    k::ReduceArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes, .outer_in_strides = sp.outer_in_strides,
                    .outer_out_strides = contiguous_strides(sp.outer_sizes), .inner_sizes = sp.inner_sizes,
                    .inner_in_strides = sp.inner_in_strides, .out = nullptr, .in = nullptr, .scale = scale};
    a.in = p.random(extent(sizes, st), -3, 3);
    a.out = p.output("out", numel_of(sp.outer_sizes));  // integers accumulate in int64, stored in the input's dtype
    return a;
  };
  s.reference = [](const k::ReduceArgs& a) { kc::sum_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-14};
  s.elements = double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return scale != 1 ? mean(in[0], dims) : sum(in[0], dims); },
                     {leaf(small_shape(sizes, 4), 91)});
  };
  return make_case(std::move(s));
}

inline OpCase max_dim_case(Sizes sizes, int64_t dim, Layout layout = Layout::Contiguous,
                           std::vector<DType> dtypes = {DType::Float32, DType::Float64}) {
  Spec<k::MaxDimArgs> s;
  s.name = "max " + sizes_name(sizes) + " over " + std::to_string(dim) + layout_name(layout) + (dtypes.size() > 2 ? " ints" : "");
  s.table = &k::kernel_registry().max_dim;
  s.dtypes = dtypes;
  s.integer_values = true;
  s.build = [=](Problem& p) {
    const Sizes st = layout_strides(sizes, layout);
    Split sp = split_dims(sizes, st, {dim});
    const int64_t outer = numel_of(sp.outer_sizes);
    k::MaxDimArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes, .outer_in_strides = sp.outer_in_strides,
                    .outer_out_strides = contiguous_strides(sp.outer_sizes), .dim_size = sizes[size_t(dim)],
                    .dim_stride = st[size_t(dim)], .values = nullptr, .indices = nullptr, .in = nullptr};
    a.in = p.random(extent(sizes, st), -50, 50);
    a.values = p.output("values", outer);
    a.indices = static_cast<int64_t*>(p.output_as("indices", DType::Int64, outer));
    return a;
  };
  s.reference = [](const k::MaxDimArgs& a) { kc::max_dim_reference(a); };
  s.tol = {0, 0};
  s.elements = double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], dim).values; }, {leaf(small_shape(sizes, 4), 92)});
  };
  return make_case(std::move(s));
}

// max's backward: dst (sizes, random) += src scattered along `dim` at random indices.
inline OpCase index_add_dim_case(Sizes sizes, int64_t dim) {
  Spec<k::IndexAddDimArgs> s;
  s.name = "index_add " + sizes_name(sizes) + " along " + std::to_string(dim);
  s.table = &k::kernel_registry().index_add_dim;
  s.build = [=](Problem& p) {
    const Sizes st = contiguous_strides(sizes);
    Split sp = split_dims(sizes, st, {dim});
    const int64_t outer = numel_of(sp.outer_sizes);
    k::IndexAddDimArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes,
                         .outer_src_strides = contiguous_strides(sp.outer_sizes), .outer_dst_strides = sp.outer_in_strides,
                         .dim_size = sizes[size_t(dim)], .dim_stride = st[size_t(dim)]};
    a.dst = p.inout("dst", p.draw(numel_of(sizes)));
    a.src = p.random(outer);
    a.indices = static_cast<const int64_t*>(p.input_as(DType::Int64, p.draw_ints(outer, 0, sizes[size_t(dim)] - 1)));
    return a;
  };
  s.reference = [](const k::IndexAddDimArgs& a) { kc::index_add_dim_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = 2.0 * double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], dim).values; }, {leaf(small_shape(sizes, 4), 93)});
  };
  return make_case(std::move(s));
}

}  // namespace hone::harness
