#pragma once
// The optimizers as nn/optim.cpp wrote them before issue 13 fused each update into one
// kernel: torch.optim 1.13's single-tensor steps composed from tensor ops (every
// intermediate a tensor rounded to the parameter's dtype). Kept verbatim as the reference
// the fused kernels must match bit for bit (tests/optim_fused_test.cpp), and as the
// "before" of bench/optim_bench.cpp.
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "hone.h"

namespace hone::optim::composed {

class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts)
      : Optimizer(std::move(groups), opts.lr, opts.weight_decay, "ComposedSGD"), opts_(opts) {}
  void step() override {
    for_each_update([this](Tensor& p, const Tensor& grad, ParamState& st, double lr, double wd) {
      Tensor d_p = wd != 0 ? add(grad, p, wd) : grad;
      if (opts_.momentum != 0) {
        auto it = st.buffers.find("momentum_buffer");
        if (it == st.buffers.end()) {
          it = st.buffers.emplace("momentum_buffer", d_p.clone()).first;  // the first gradient, as PyTorch
        } else {
          it->second.mul_(opts_.momentum).add_(d_p, 1 - opts_.dampening);
        }
        d_p = opts_.nesterov ? add(d_p, it->second, opts_.momentum) : it->second;
      }
      p.add_(d_p, -lr);
      ++st.step;
    });
  }

 protected:
  std::vector<std::string> buffer_names() const override {
    if (opts_.momentum == 0) return {};
    return {"momentum_buffer"};
  }
  bool saves_param_step() const override { return false; }

 private:
  SGDOptions opts_;
};

class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled)
      : Optimizer(std::move(groups), opts.lr, opts.weight_decay, "ComposedAdam"), opts_(opts), decoupled_(decoupled) {}
  void step() override {
    for_each_update([this](Tensor& p, const Tensor& grad_in, ParamState& st, double lr, double wd) {
      const double b1 = opts_.beta1, b2 = opts_.beta2;
      Tensor grad = grad_in;
      auto m_it = st.buffers.find("exp_avg");
      if (m_it == st.buffers.end()) {
        m_it = st.buffers.emplace("exp_avg", zeros_like(p)).first;
        st.buffers["exp_avg_sq"] = zeros_like(p);
      }
      Tensor& m = m_it->second;
      Tensor& v = st.buffers.at("exp_avg_sq");
      ++st.step;
      if (decoupled_) {
        if (lr * wd != 0) p.mul_(1 - lr * wd);  // multiplying by 1 would change nothing
      } else if (wd != 0) {
        grad = add(grad, p, wd);
      }
      m.mul_(b1).add_(grad, 1 - b1);
      v.mul_(b2).add_(grad * grad, 1 - b2);
      const double step = double(st.step);
      const double bias_correction1 = 1 - std::pow(b1, step);
      const double bias_correction2 = 1 - std::pow(b2, step);
      const double step_size = lr / bias_correction1;
      Tensor denom = sqrt(v) / std::sqrt(bias_correction2);
      denom.add_(opts_.eps);
      p.add_(m / denom, -step_size);
    });
  }

 protected:
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool saves_param_step() const override { return true; }

 private:
  AdamOptions opts_;
  bool decoupled_;
};

// clip_grad_norm as it was: sums on the host in storage order, scales with mul_.
inline double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  NoGradGuard no_grad;
  double sum = 0;
  for (const Tensor& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    Tensor c = raw::contiguous(g);
    double s = 0;
    if (c.dtype() == DType::Float32) {
      const float* x = c.data<float>();
      for (int64_t i = 0; i < c.numel(); ++i) s += double(x[i]) * double(x[i]);
    } else {
      const double* x = c.data<double>();
      for (int64_t i = 0; i < c.numel(); ++i) s += x[i] * x[i];
    }
    sum += s;
  }
  const double norm = std::sqrt(sum);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {
    for (const Tensor& p : params) {
      Tensor g = p.defined() ? p.grad() : Tensor();
      if (g.defined()) g.mul_(coef);
    }
  }
  return norm;
}

}  // namespace hone::optim::composed
