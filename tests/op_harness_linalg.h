#pragma once
// The harness cases of matmul and conv2d (forward, backward): the kernels' references
// (matmul_reference, conv2d_*_reference), and for float32 conv2d every CPU lowering:
// Auto, Columns, Transposed (forward) and Direct with each instruction set this CPU runs.
#include <string>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/conv2d_blocked.h"
#include "kernels/cpu/matmul.h"
#include "op_harness_util.h"

namespace hone::harness {

// TF32's tolerance for a product whose float32 tolerance is `f32`. Rounding each operand to
// TF32 (relative error <= 2^-11) puts each product within 2^-10 of its exact value, relative.
// Over K terms the errors of the harness's random operands partly cancel, as the sum does, so
// the norm-wise error stays near that of one product: the reference on TF32-rounded operands
// (the "tf32-emulated" variant) measured 1.2e-4 to 3.9e-4 on every matmul and conv2d case here,
// for K from 1 to 4608. So 2^-10 (the bound for one product, 2.5x the worst measured), plus
// float32's tolerance for the kernel's float32 sums, which run in another order.
inline double tf32_tolerance(double f32) { return std::ldexp(1.0, -10) + f32; }

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
  s.tf32_tol = tf32_tolerance(s.tol.f32);
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
  for (kc::CpuIsa isa : {kc::CpuIsa::Avx512, kc::CpuIsa::Avx2})
    if (kc::conv_blocked::supported(g, isa))
      out.push_back({std::string("Blocked ") + kc::cpu_isa_name(isa), set(k::Conv2dAlgorithm::Blocked, isa)});
  return out;
}
inline GradcheckResult conv_gradcheck(k::Conv2dGeometry g) {
  const int64_t per_in = small(g.c_in / g.groups, 2), per_out = small(g.c_out / g.groups, 2);
  g.n = small(g.n, 2), g.c_in = per_in * g.groups, g.c_out = per_out * g.groups;
  const int64_t reach_h = g.dilation_h * (g.kh - 1) + 1, reach_w = g.dilation_w * (g.kw - 1) + 1;
  g.h = small(g.h, reach_h + g.stride_h + 1), g.w = small(g.w, reach_w + g.stride_w + 1);
  Conv2dFuncOptions o{.stride = {g.stride_h, g.stride_w}, .padding = {g.pad_top, g.pad_left, g.pad_bottom, g.pad_right},
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
  s.tf32_tol = tf32_tolerance(s.tol.f32);
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
  s.tf32_tol = tf32_tolerance(s.tol.f32);
  s.flops = 2 * conv_flops(g);
  s.elements = conv_elements(g) * 2;
  s.gradcheck = [=] { return conv_gradcheck(g); };
  return make_case(std::move(s));
}

}  // namespace hone::harness
