#pragma once
// The harness cases of the optimizer updates and clip_grad_norm's two halves
// (kernels/optim.h): the fused kernels against the references' textbook formulas in
// float64. Not differentiable: no gradcheck. The bitwise match with the tensor-op
// optimizers is tests/optim_fused_test.cpp's job.
#include <sstream>
#include <string>
#include <vector>

#include "kernels/optim.h"
#include "op_harness_util.h"

namespace hone::harness {

// A mask of n bytes, about half of them 0; nullptr when not `masked`.
inline const uint8_t* draw_mask(Problem& p, int64_t n, bool masked) {
  if (!masked) return nullptr;
  return static_cast<const uint8_t*>(p.input_as(DType::UInt8, p.draw_ints(n, 0, 1)));
}

inline OpCase sgd_update_case(int64_t n, k::SgdUpdateArgs opts, bool masked = false) {
  Spec<k::SgdUpdateArgs> s;
  s.name = "sgd_update n" + std::to_string(n) + (opts.momentum != 0 ? " momentum" : "") +
           (opts.dampening != 0 ? " dampening" : "") + (opts.nesterov ? " nesterov" : "") +
           (opts.weight_decay != 0 ? " wd" : "") + (opts.first_update ? " first" : "") + (masked ? " masked" : "");
  s.table = &k::kernel_registry().sgd_update;
  s.build = [=](Problem& p) {
    k::SgdUpdateArgs a = opts;
    a.dtype = p.dtype();
    a.n = n;
    a.param = p.inout("param", p.draw(n));
    a.grad = p.random(n);
    // A first update must write every trained entry of the buffer: it starts as NaN.
    if (opts.momentum != 0) a.momentum_buffer = opts.first_update ? p.output("buf", n) : p.inout("buf", p.draw(n));
    else a.momentum_buffer = nullptr;
    a.mask = draw_mask(p, n, masked);
    return a;
  };
  s.reference = [](const k::SgdUpdateArgs& a) { k::sgd_update_reference(a); };
  s.tol = {.f32 = 2e-6, .f64 = 1e-14};
  s.elements = 4.0 * double(n);
  return make_case(std::move(s));
}

inline OpCase adam_update_case(int64_t n, k::AdamUpdateArgs opts, bool masked = false) {
  Spec<k::AdamUpdateArgs> s;
  s.name = std::string(opts.decoupled ? "adamw_update" : "adam_update") + " n" + std::to_string(n) + " step" +
           std::to_string(opts.step) + (opts.weight_decay != 0 ? " wd" : "") + (masked ? " masked" : "");
  s.table = &k::kernel_registry().adam_update;
  s.build = [=](Problem& p) {
    k::AdamUpdateArgs a = opts;
    a.dtype = p.dtype();
    a.n = n;
    a.param = p.inout("param", p.draw(n));
    a.grad = p.random(n);
    a.exp_avg = p.inout("exp_avg", p.draw(n, -0.5, 0.5));
    a.exp_avg_sq = p.inout("exp_avg_sq", p.draw(n, 0, 1));  // a second moment: never negative
    a.mask = draw_mask(p, n, masked);
    return a;
  };
  s.reference = [](const k::AdamUpdateArgs& a) { k::adam_update_reference(a); };
  s.tol = {.f32 = 1e-6, .f64 = 1e-13};
  s.elements = 7.0 * double(n);
  return make_case(std::move(s));
}

// *total (starting at 2.5) += the sum of squares of n values; or, not accumulating,
// *total (starting as NaN) = that sum.
inline OpCase sum_of_squares_case(int64_t n, bool accumulate = true) {
  Spec<k::SumOfSquaresArgs> s;
  s.name = "sum_of_squares n" + std::to_string(n) + (accumulate ? "" : " first");
  s.table = &k::kernel_registry().sum_of_squares;
  s.build = [=](Problem& p) {
    k::SumOfSquaresArgs a{.dtype = p.dtype(), .n = n, .in = p.random(n, -3, 3), .total = nullptr,
                          .accumulate = accumulate};
    a.total = static_cast<double*>(accumulate ? p.inout_as("total", DType::Float64, {2.5})
                                              : p.output_as("total", DType::Float64, 1));
    return a;
  };
  s.reference = [](const k::SumOfSquaresArgs& a) { k::sum_of_squares_reference(a); };
  s.tol = {.f32 = 1e-12, .f64 = 1e-12};  // double sums of the same values; CUDA's order differs
  s.elements = double(n);
  return make_case(std::move(s));
}

// Gradients scaled by max_norm / (sqrt(total) + 1e-6) when that is below 1.
inline OpCase clip_scale_case(int64_t n, double total, double max_norm) {
  Spec<k::ClipScaleArgs> s;
  std::ostringstream name;
  name << "clip_scale n" << n << " total " << total << " max_norm " << max_norm;
  s.name = name.str();
  s.table = &k::kernel_registry().clip_scale;
  s.build = [=](Problem& p) {
    k::ClipScaleArgs a{.dtype = p.dtype(), .n = n, .grad = p.inout("grad", p.draw(n)), .total = nullptr,
                       .max_norm = max_norm};
    a.total = static_cast<const double*>(p.input_as(DType::Float64, {total}));
    return a;
  };
  s.reference = [](const k::ClipScaleArgs& a) { k::clip_scale_reference(a); };
  s.tol = {.f32 = 1e-6, .f64 = 1e-15};
  s.elements = 2.0 * double(n);
  return make_case(std::move(s));
}

}  // namespace hone::harness
