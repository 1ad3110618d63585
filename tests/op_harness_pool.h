#pragma once
// The harness cases of max, average and adaptive average pooling (forward, backward). The
// forwards use the kernels' references; the backwards have none in kernels/, so max pool's
// is the scatter through the forward's indices and the averages' are the adjoint of the
// forward reference (adjoint_per_plane).
#include <functional>
#include <string>
#include <vector>

#include "kernels/cpu/pooling.h"
#include "op_harness_util.h"

namespace hone::harness {

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

}  // namespace hone::harness
