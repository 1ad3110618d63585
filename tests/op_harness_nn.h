#pragma once
// The harness cases of batch norm, softmax and cross-entropy (forward, backward), against
// the kernels' *_reference functions. Backward cases build their saved inputs (batch
// statistics, softmax output, log-probabilities) from the forward definition in float64.
#include <string>
#include <vector>

#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/softmax.h"
#include "op_harness_util.h"

namespace hone::harness {

// ---- batch norm ----

struct BatchNormMode {
  bool affine = true;
  bool use_batch_stats = true;  // training; false: running statistics (eval, frozen)
  bool update_running = true;
  k::BatchNormConvention convention = k::BatchNormConvention::PyTorch;
  bool relu = false;  // fused relu (BatchNormFuncOptions::fuse_relu)
};
inline std::string bn_name(const char* dir, int64_t n, int64_t c, int64_t hw, const BatchNormMode& m) {
  return std::string("batch_norm ") + dir + " n" + std::to_string(n) + " c" + std::to_string(c) + " hw" +
         std::to_string(hw) + (m.use_batch_stats ? " train" : " eval") + (m.affine ? "" : " noaffine") +
         (m.use_batch_stats && !m.update_running ? " norunning" : "") +
         (m.convention == k::BatchNormConvention::Onnx ? " onnx" : "") + (m.relu ? " relu" : "");
}
inline GradcheckResult bn_gradcheck(int64_t n, int64_t c, int64_t hw, const BatchNormMode& m) {
  const int64_t gn = small(n, 3), gc = small(c, 3), gh = small(hw, 4);
  Tensor rm = from_vector<double>(std::vector<double>(size_t(gc), 0.1), {gc});
  Tensor rv = from_vector<double>(std::vector<double>(size_t(gc), 1.2), {gc});
  BatchNormFuncOptions o{.use_batch_stats = m.use_batch_stats, .update_running_stats = m.update_running,
                         .convention = m.convention == k::BatchNormConvention::Onnx ? BatchNormConvention::Onnx
                                                                                   : BatchNormConvention::PyTorch,
                         .fuse_relu = m.relu};
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
    a.relu = m.relu;
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
    if (m.relu) {  // only y's sign matters to the backward: about half masked, with exact zeros
      std::vector<double> y = p.draw(n * c * hw);
      for (double& v : y) v = std::max(v, 0.0);
      a.y = p.input(y);
    }
    return a;
  };
  s.reference = [](const k::BatchNormBackwardArgs& a) { kc::batchnorm_backward_reference(a); };
  s.tol = {.f32 = 5e-7, .f64 = 2e-14};
  s.elements = 3.0 * double(n * c * hw);
  s.gradcheck = [=] { return bn_gradcheck(n, c, hw, m); };
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

}  // namespace hone::harness
