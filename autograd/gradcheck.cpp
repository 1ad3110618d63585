#include "autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace hone {

GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions opts) {
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    HONE_CHECK(x.dtype() == DType::Float64 && x.device().is_cpu() && x.is_contiguous() && x.is_leaf(),
               "gradcheck: input ", i, " must be a contiguous float64 CPU leaf tensor, got ",
               dtype_name(x.dtype()), " on ", x.device().str());
  }
  // Output size, and the numerical Jacobian column by column (J[o][e] per input).
  Tensor y0;
  {
    NoGradGuard ng;
    y0 = fn(inputs);
  }
  HONE_CHECK(is_floating(y0.dtype()), "gradcheck: function output must be floating point");
  const int64_t m = y0.numel();
  std::vector<std::vector<double>> numeric(inputs.size()), analytic(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    if (!x.defined() || !x.requires_grad()) continue;
    const int64_t n = x.numel();
    numeric[i].assign(size_t(m * n), 0.0);
    analytic[i].assign(size_t(m * n), 0.0);
    double* p = x.data<double>();
    NoGradGuard ng;
    for (int64_t e = 0; e < n; ++e) {
      const double orig = p[e];
      p[e] = orig + opts.eps;
      std::vector<double> plus = fn(inputs).to_vector<double>();
      p[e] = orig - opts.eps;
      std::vector<double> minus = fn(inputs).to_vector<double>();
      p[e] = orig;
      for (int64_t o = 0; o < m; ++o) numeric[i][size_t(o * n + e)] = (plus[size_t(o)] - minus[size_t(o)]) / (2 * opts.eps);
    }
  }
  // The analytic Jacobian row by row: backward with a one-hot output gradient.
  for (int64_t o = 0; o < m; ++o) {
    for (const Tensor& x : inputs)
      if (x.defined() && x.requires_grad()) Tensor(x).set_grad(Tensor());
    Tensor y = fn(inputs);
    HONE_CHECK(y.requires_grad(), "gradcheck: the output does not depend on any input that requires grad");
    std::vector<double> onehot(size_t(m), 0.0);
    onehot[size_t(o)] = 1.0;
    y.backward(from_vector(onehot, y.shape(), {.dtype = y.dtype()}));
    for (size_t i = 0; i < inputs.size(); ++i) {
      const Tensor& x = inputs[i];
      if (!x.defined() || !x.requires_grad() || !x.grad().defined()) continue;
      std::vector<double> g = x.grad().to_vector<double>();
      for (size_t e = 0; e < g.size(); ++e) analytic[i][size_t(o) * g.size() + e] = g[e];
    }
  }
  GradcheckResult r;
  std::ostringstream rep;
  rep.precision(3);
  for (size_t i = 0; i < inputs.size(); ++i) {
    GradcheckInputReport in;
    if (!numeric[i].empty()) {
      in.checked = true;
      for (size_t k = 0; k < numeric[i].size(); ++k) {
        double a = analytic[i][k], n = numeric[i][k], err = std::abs(a - n);
        in.max_abs_error = std::max(in.max_abs_error, err);
        in.max_rel_error = std::max(in.max_rel_error, err / std::max(std::abs(n), 1e-12));
        if (!(err <= opts.atol + opts.rtol * std::abs(n))) r.passed = false;  // NaN fails too
      }
      rep << "input " << i << ' ' << shape_str(inputs[i].shape()) << ": max abs error " << in.max_abs_error
          << ", max rel error " << in.max_rel_error << '\n';
    }
    r.inputs.push_back(in);
  }
  r.report = rep.str();
  for (const Tensor& x : inputs)
    if (x.defined() && x.requires_grad()) Tensor(x).set_grad(Tensor());
  return r;
}

}  // namespace hone
