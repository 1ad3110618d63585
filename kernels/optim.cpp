// The optimizer kernels' references: torch.optim's formulas written out plainly, each
// element computed in double and stored in the parameter's dtype, one element after
// another. The harness runs them on float64 problems; a float32 kernel differs from them
// by its intermediate roundings (which nn/optim.cpp's bitwise test pins separately).
#include "kernels/optim.h"

#include <cmath>

#include "tensor/error.h"

namespace hone::kernels {

namespace {
bool trains(const uint8_t* mask, int64_t i) { return !mask || mask[i] != 0; }
}  // namespace

void sgd_update_reference(const SgdUpdateArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "sgd_update_reference", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(a.param);
    const T* g = static_cast<const T*>(a.grad);
    T* buf = static_cast<T*>(a.momentum_buffer);
    for (int64_t i = 0; i < a.n; ++i) {
      if (!trains(a.mask, i)) continue;
      double d = double(g[i]) + a.weight_decay * double(p[i]);
      if (a.momentum != 0) {
        const double b = a.first_update ? d : a.momentum * double(buf[i]) + (1 - a.dampening) * d;
        buf[i] = T(b);
        d = a.nesterov ? d + a.momentum * b : b;
      }
      p[i] = T(double(p[i]) - a.lr * d);
    }
  });
}

void adam_update_reference(const AdamUpdateArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "adam_update_reference", [&](auto tag) {
    using T = decltype(tag);
    T* p = static_cast<T*>(a.param);
    const T* g = static_cast<const T*>(a.grad);
    T* m = static_cast<T*>(a.exp_avg);
    T* v = static_cast<T*>(a.exp_avg_sq);
    const double t = double(a.step);
    for (int64_t i = 0; i < a.n; ++i) {
      if (!trains(a.mask, i)) continue;
      double w = double(p[i]), grad = double(g[i]);
      if (a.decoupled) w *= 1 - a.lr * a.weight_decay;
      else grad += a.weight_decay * w;
      const double mi = a.beta1 * double(m[i]) + (1 - a.beta1) * grad;
      const double vi = a.beta2 * double(v[i]) + (1 - a.beta2) * grad * grad;
      const double m_hat = mi / (1 - std::pow(a.beta1, t));
      const double v_hat = vi / (1 - std::pow(a.beta2, t));
      m[i] = T(mi);
      v[i] = T(vi);
      p[i] = T(w - a.lr * m_hat / (std::sqrt(v_hat) + a.eps));
    }
  });
}

void sum_of_squares_reference(const SumOfSquaresArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "sum_of_squares_reference", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.in);
    double s = 0;
    for (int64_t i = 0; i < a.n; ++i) s += double(x[i]) * double(x[i]);
    *a.total = (a.accumulate ? *a.total : 0.0) + s;
  });
}

void clip_scale_reference(const ClipScaleArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "clip_scale_reference", [&](auto tag) {
    using T = decltype(tag);
    const double coef = a.max_norm / (std::sqrt(*a.total) + 1e-6);
    if (!(coef < 1.0 || std::isnan(coef))) return;
    T* g = static_cast<T*>(a.grad);
    for (int64_t i = 0; i < a.n; ++i) g[i] = T(double(g[i]) * coef);
  });
}

}  // namespace hone::kernels
