// softmax and friends, numerically stable (the row max is subtracted before exp).
//   softmax backward:     dx = y * (dy - sum(dy * y))
//   log_softmax backward: dx = dy - exp(y) * sum(dy)
#include "kernels/cpu/softmax.h"

#include <cmath>

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

template <typename T>
void forward(const SoftmaxArgs& a, const Exec& exec) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.out);
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
void backward(const SoftmaxArgs& a, const Exec& exec) {
  const T* y = static_cast<const T*>(a.y);
  const T* dy = static_cast<const T*>(a.dy);
  T* dx = static_cast<T*>(a.out);
  parallel_for(exec, a.outer * a.inner, 16, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t base = (r / a.inner) * a.dim * a.inner + r % a.inner;
      double s = 0;
      for (int64_t d = 0; d < a.dim; ++d) {
        const int64_t k = base + d * a.inner;
        s += a.log ? double(dy[k]) : double(dy[k]) * double(y[k]);
      }
      for (int64_t d = 0; d < a.dim; ++d) {
        const int64_t k = base + d * a.inner;
        dx[k] = a.log ? T(double(dy[k]) - std::exp(double(y[k])) * s) : T(double(y[k]) * (double(dy[k]) - s));
      }
    }
  });
}

template <typename T>
void ce_forward(const CrossEntropyArgs& a, const Exec& exec) {
  forward<T>({.dtype = a.dtype, .outer = a.n, .dim = a.c, .inner = 1, .log = true, .x = a.logits, .out = a.log_prob}, exec);
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

}  // namespace

void softmax_forward(const SoftmaxArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax" : "softmax", [&](auto tag) { forward<decltype(tag)>(a, exec); });
}
void softmax_backward(const SoftmaxArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, a.log ? "log_softmax backward" : "softmax backward",
                      [&](auto tag) { backward<decltype(tag)>(a, exec); });
}
void cross_entropy_forward(const CrossEntropyArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy", [&](auto tag) { ce_forward<decltype(tag)>(a, exec); });
}
void cross_entropy_backward(const CrossEntropyBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "cross_entropy backward", [&](auto tag) { ce_backward<decltype(tag)>(a, exec); });
}

}  // namespace hone::kernels::cpu
