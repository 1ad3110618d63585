// softmax and friends, numerically stable (the row max is subtracted before exp).
//   softmax backward:     dx = y * (dy - sum(dy * y))
//   log_softmax backward: dx = dy - exp(y) * sum(dy)
#include "kernels/cpu/softmax.h"

#include <cmath>
#include <vector>

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

template <typename T>
void forward(const SoftmaxForwardArgs& a, const Exec& exec) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  parallel_for(exec, a.outer * a.inner, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t o = r / a.inner, i = r % a.inner;
      const T* px = x + o * a.dim * a.inner + i;
      T* py = y + o * a.dim * a.inner + i;
      double mx = -INFINITY;
      for (int64_t d = 0; d < a.dim; ++d) mx = std::max(mx, double(px[d * a.inner]));
      double sum = 0;
      for (int64_t d = 0; d < a.dim; ++d) sum += std::exp(double(px[d * a.inner]) - mx);
      const double lse = mx + std::log(sum);
      for (int64_t d = 0; d < a.dim; ++d) {
        const double v = double(px[d * a.inner]) - lse;
        py[d * a.inner] = T(a.log ? v : std::exp(v));
      }
    }
  });
}

template <typename T>
void backward(const SoftmaxBackwardArgs& a, const Exec& exec) {
  const T* y = static_cast<const T*>(a.y);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  parallel_for(exec, a.outer * a.inner, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) softmax_backward_row(a, r, y, dy, dx);
  });
}

template <typename T>
void ce_forward(const CrossEntropyArgs& a, const Exec& exec) {
  forward<T>({.dtype = a.dtype, .outer = a.n, .dim = a.c, .inner = 1, .log = true, .x = a.logits, .y = a.log_prob}, exec);
  const T* lp = static_cast<const T*>(a.log_prob);
  T* loss = static_cast<T*>(a.losses);
  for (int64_t i = 0; i < a.n; ++i) {
    const int64_t t = a.target[i];
    if (t == a.ignore_index) {
      loss[i] = T(0);
      continue;
    }
    HONE_CHECK(t >= 0 && t < a.c, "cross_entropy: target ", t, " at row ", i, " is out of range for ", a.c, " classes");
    double v = -(1.0 - a.label_smoothing) * double(lp[i * a.c + t]);
    if (a.label_smoothing > 0) {
      double s = 0;
      for (int64_t k = 0; k < a.c; ++k) s += double(lp[i * a.c + k]);
      v -= a.label_smoothing / double(a.c) * s;
    }
    loss[i] = T(v);
  }
}

template <typename T>
void ce_backward(const CrossEntropyBackwardArgs& a, const Exec& exec) {
  const T* lp = static_cast<const T*>(a.log_prob);
  const T* scale = static_cast<const T*>(a.row_scale);
  T* d = static_cast<T*>(a.dlogits);
  parallel_for(exec, a.n, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t i = r0; i < r1; ++i) {
      const int64_t t = a.target[i];
      T* row = d + i * a.c;
      if (t == a.ignore_index) {
        std::fill(row, row + a.c, T(0));
        continue;
      }
      const double g = double(scale[i]), off = a.label_smoothing / double(a.c);
      for (int64_t k = 0; k < a.c; ++k) {
        const double q = (k == t ? 1.0 - a.label_smoothing : 0.0) + off;
        row[k] = T(g * (std::exp(double(lp[i * a.c + k])) - q));
      }
    }
  });
}

// ---- references: the definitions, one row at a time, every sum in double ----

// Element d of row r (r = o * inner + i) of a tensor seen as [outer, dim, inner].
template <typename Args>
int64_t at(const Args& a, int64_t r, int64_t d) {
  return (r / a.inner) * a.dim * a.inner + d * a.inner + r % a.inner;
}

// log p_k = x_k - log sum_j exp(x_j), with the row max taken out of the exponent (the same
// value mathematically; it keeps exp finite).
std::vector<double> log_softmax_row(const std::vector<double>& x) {
  double mx = -INFINITY;
  for (double v : x) mx = std::max(mx, v);
  double z = 0;
  for (double v : x) z += std::exp(v - mx);
  std::vector<double> lp;
  for (double v : x) lp.push_back(v - mx - std::log(z));
  return lp;
}

template <typename T>
void forward_reference(const SoftmaxForwardArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  for (int64_t r = 0; r < a.outer * a.inner; ++r) {
    std::vector<double> row;
    for (int64_t d = 0; d < a.dim; ++d) row.push_back(double(x[at(a, r, d)]));
    const std::vector<double> lp = log_softmax_row(row);
    for (int64_t d = 0; d < a.dim; ++d) y[at(a, r, d)] = T(a.log ? lp[size_t(d)] : std::exp(lp[size_t(d)]));
  }
}

// dx_i = sum_j dy_j * dy_j/dx_i, with the Jacobian written out:
//   softmax:     dy_j/dx_i = y_j * (delta_ij - y_i)
//   log_softmax: dy_j/dx_i = delta_ij - exp(y_i)
template <typename T>
void backward_reference(const SoftmaxBackwardArgs& a) {
  const T* y = static_cast<const T*>(a.y);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.dx);
  for (int64_t r = 0; r < a.outer * a.inner; ++r)
    for (int64_t i = 0; i < a.dim; ++i) {
      const double yi = double(y[at(a, r, i)]);
      double acc = 0;
      for (int64_t j = 0; j < a.dim; ++j) {
        const double yj = double(y[at(a, r, j)]), delta = i == j ? 1.0 : 0.0;
        const double jacobian = a.log ? delta - std::exp(yi) : yj * (delta - yi);
        acc += double(dy[at(a, r, j)]) * jacobian;
      }
      dx[at(a, r, i)] = T(acc);
    }
}

// The smoothed target distribution of one row: q_k = (1 - eps) [k == t] + eps / C.
std::vector<double> smoothed_target(int64_t t, int64_t c, double eps) {
  std::vector<double> q(size_t(c), eps / double(c));
  q[size_t(t)] += 1.0 - eps;
  return q;
}

// loss_i = -sum_k q_k log p_k (the cross-entropy of q against softmax(logits)).
template <typename T>
void ce_forward_reference(const CrossEntropyArgs& a) {
  const T* logits = static_cast<const T*>(a.logits);
  T* lp_out = static_cast<T*>(a.log_prob);
  T* loss = static_cast<T*>(a.losses);
  for (int64_t i = 0; i < a.n; ++i) {
    const std::vector<double> lp = log_softmax_row(std::vector<double>(logits + i * a.c, logits + (i + 1) * a.c));
    for (int64_t k = 0; k < a.c; ++k) lp_out[i * a.c + k] = T(lp[size_t(k)]);
    const int64_t t = a.target[i];
    if (t == a.ignore_index) {
      loss[i] = T(0);
      continue;
    }
    HONE_CHECK(t >= 0 && t < a.c, "cross_entropy: target ", t, " at row ", i, " is out of range for ", a.c, " classes");
    const std::vector<double> q = smoothed_target(t, a.c, a.label_smoothing);
    double v = 0;
    for (int64_t k = 0; k < a.c; ++k) v -= q[size_t(k)] * lp[size_t(k)];
    loss[i] = T(v);
  }
}

// dloss/dlogit_k = sum_j -q_j * dlog p_j/dlogit_k, with dlog p_j/dlogit_k = delta_jk - p_k.
template <typename T>
void ce_backward_reference(const CrossEntropyBackwardArgs& a) {
  const T* lp = static_cast<const T*>(a.log_prob);
  const T* scale = static_cast<const T*>(a.row_scale);
  T* d = static_cast<T*>(a.dlogits);
  for (int64_t i = 0; i < a.n; ++i) {
    const int64_t t = a.target[i];
    if (t == a.ignore_index) {
      for (int64_t k = 0; k < a.c; ++k) d[i * a.c + k] = T(0);
      continue;
    }
    HONE_CHECK(t >= 0 && t < a.c, "cross_entropy backward: target ", t, " at row ", i, " is out of range for ", a.c,
               " classes");
    const std::vector<double> q = smoothed_target(t, a.c, a.label_smoothing);
    for (int64_t k = 0; k < a.c; ++k) {
      const double pk = std::exp(double(lp[i * a.c + k]));
      double acc = 0;
      for (int64_t j = 0; j < a.c; ++j) acc += -q[size_t(j)] * ((j == k ? 1.0 : 0.0) - pk);
      d[i * a.c + k] = T(double(scale[i]) * acc);
    }
  }
}

}  // namespace

void softmax_forward(const SoftmaxForwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax" : "softmax", [&](auto tag) { forward<decltype(tag)>(a, exec); });
}
void softmax_backward(const SoftmaxBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax backward" : "softmax backward",
                      [&](auto tag) { backward<decltype(tag)>(a, exec); });
}
void cross_entropy_forward(const CrossEntropyArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy", [&](auto tag) { ce_forward<decltype(tag)>(a, exec); });
}
void cross_entropy_backward(const CrossEntropyBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy backward", [&](auto tag) { ce_backward<decltype(tag)>(a, exec); });
}

void softmax_forward_reference(const SoftmaxForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax" : "softmax", [&](auto tag) { forward_reference<decltype(tag)>(a); });
}
void softmax_backward_reference(const SoftmaxBackwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax backward" : "softmax backward",
                      [&](auto tag) { backward_reference<decltype(tag)>(a); });
}
void cross_entropy_forward_reference(const CrossEntropyArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy", [&](auto tag) { ce_forward_reference<decltype(tag)>(a); });
}
void cross_entropy_backward_reference(const CrossEntropyBackwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy backward", [&](auto tag) { ce_backward_reference<decltype(tag)>(a); });
}

}  // namespace hone::kernels::cpu
