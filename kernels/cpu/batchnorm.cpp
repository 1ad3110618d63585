// BatchNorm: y = (x - mean) * invstd * gamma + beta, per channel.
// Backward with batch statistics (mean and var depend on x), with xhat = (x - mean) * invstd
// and M = N * HW elements per channel:
//   dx = gamma * invstd / M * (M * dy - sum(dy) - xhat * sum(dy * xhat))
// With running statistics they are constants: dx = gamma * invstd * dy.
// In both: dgamma = sum(dy * xhat), dbeta = sum(dy).
// With a fused relu the forward stores max(0, y), and the backward first masks dy where the
// stored y <= 0 (relu's backward), so the results are the bits of batch norm then relu.
#include "kernels/cpu/batchnorm.h"

#include <cmath>
#include <vector>

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

// Sums in double over eight fixed lanes (element i goes to lane i % 8), combined in a fixed
// order: the additions no longer form one long dependent chain, and the result still
// depends only on the data, never on threads. The lanes are held as four pairs of doubles
// so the loop vectorises (as eight doubles, GCC ran it scalar, spilling lanes to the
// stack); term maps a double, or a pair of them, to what is summed.
using Double2 = double __attribute__((vector_size(16)));
// The lanes' sum, in the fixed order ((0 + 1) + (2 + 3)) + ((4 + 5) + (6 + 7)).
double lanes_total(const Double2 (&l)[4]) {
  return ((l[0][0] + l[0][1]) + (l[1][0] + l[1][1])) + ((l[2][0] + l[2][1]) + (l[3][0] + l[3][1]));
}
template <typename T, typename F>
double lane_sum(const T* p, int64_t n, F&& term) {
  Double2 lanes[4] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 4; ++j) lanes[j] += term(Double2{double(p[i + 2 * j]), double(p[i + 2 * j + 1])});
  for (int l = 0; i < n; ++i, ++l) lanes[l / 2][l % 2] += term(double(p[i]));
  return lanes_total(lanes);
}

// The backward's two sums in one pass: sum(d) and sum(d * (x - mean) * invstd) over n
// elements of d (dy, already masked by y > 0 with a fused relu), each in lane_sum's lanes
// and order.
template <typename T>
void dy_sums(const T* d, const T* x, int64_t n, double mean, double invstd, double& a, double& b) {
  Double2 la[4] = {}, lb[4] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 4; ++j) {
      const int64_t k = i + 2 * j;
      const Double2 dv = {double(d[k]), double(d[k + 1])}, xv = {double(x[k]), double(x[k + 1])};
      la[j] += dv;
      lb[j] += dv * (xv - mean) * invstd;
    }
  for (int l = 0; i < n; ++i, ++l) {
    la[l / 2][l % 2] += double(d[i]);
    lb[l / 2][l % 2] += double(d[i]) * (double(x[i]) - mean) * invstd;
  }
  a += lanes_total(la);
  b += lanes_total(lb);
}

template <typename T>
void forward(const BatchNormForwardArgs& a, const Exec& exec) {
  const T* x = static_cast<const T*>(a.x);
  const T* gamma = static_cast<const T*>(a.gamma);
  const T* beta = static_cast<const T*>(a.beta);
  T* rm = static_cast<T*>(a.running_mean);
  T* rv = static_cast<T*>(a.running_var);
  T* y = static_cast<T*>(a.y);
  T* smean = static_cast<T*>(a.save_mean);
  T* sinv = static_cast<T*>(a.save_invstd);
  const int64_t m = a.n * a.hw;
  parallel_for(exec, a.c, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double mean, var;
      if (a.use_batch_stats) {
        double sum = 0;
        for (int64_t i = 0; i < a.n; ++i)
          sum += lane_sum(x + (i * a.c + c) * a.hw, a.hw, [](auto v) { return v; });
        mean = sum / double(m);
        double sq = 0;  // two passes: no cancellation when |mean| >> std
        for (int64_t i = 0; i < a.n; ++i)
          sq += lane_sum(x + (i * a.c + c) * a.hw, a.hw, [mean](auto v) {
            const auto d = v - mean;
            return d * d;
          });
        var = sq / double(m);
        if (a.update_running) {
          const double unbiased = m > 1 ? sq / double(m - 1) : var;
          if (a.convention == BatchNormConvention::PyTorch) {
            rm[c] = T((1 - a.momentum) * double(rm[c]) + a.momentum * mean);
            rv[c] = T((1 - a.momentum) * double(rv[c]) + a.momentum * unbiased);
          } else {
            rm[c] = T(a.momentum * double(rm[c]) + (1 - a.momentum) * mean);
            rv[c] = T(a.momentum * double(rv[c]) + (1 - a.momentum) * var);
          }
        }
      } else {
        mean = double(rm[c]);
        var = double(rv[c]);
      }
      const double invstd = 1.0 / std::sqrt(var + a.eps);
      smean[c] = T(mean);
      sinv[c] = T(invstd);
      const double scale = (gamma ? double(gamma[c]) : 1.0) * invstd;
      const double shift = (beta ? double(beta[c]) : 0.0) - mean * scale;
      const T s = T(scale), b = T(shift);
      for (int64_t i = 0; i < a.n; ++i) {
        const T* p = x + (i * a.c + c) * a.hw;
        T* q = y + (i * a.c + c) * a.hw;
        if (a.relu) {
          for (int64_t k = 0; k < a.hw; ++k) {
            const T v = p[k] * s + b;
            q[k] = v > T(0) ? v : T(0);
          }
        } else {
          for (int64_t k = 0; k < a.hw; ++k) q[k] = p[k] * s + b;
        }
      }
    }
  });
}

// Relu: dy is first masked by the fused relu (a.y > 0), channel by channel; a template
// parameter so the plain batch norm reads dy where it is.
template <typename T, bool Relu>
void backward(const BatchNormBackwardArgs& a, const Exec& exec) {
  const T* y = static_cast<const T*>(a.y);
  const T* x = static_cast<const T*>(a.x);
  const T* gamma = static_cast<const T*>(a.gamma);
  const T* dy = static_cast<const T*>(a.dy);
  const T* smean = static_cast<const T*>(a.save_mean);
  const T* sinv = static_cast<const T*>(a.save_invstd);
  T* dx = static_cast<T*>(a.dx);
  T* dgamma = static_cast<T*>(a.dgamma);
  T* dbeta = static_cast<T*>(a.dbeta);
  const int64_t m = a.n * a.hw;
  parallel_for(exec, a.c, 1, [&](int64_t c0, int64_t c1) {
    // With a fused relu, the channel's dy masked by y > 0 first, in a loop of its own: a
    // select that vectorises (inside the sums' loop it did not, and the sums ran scalar:
    // 12% of an imported ResNet-18's training step once its ReLUs were fused).
    std::vector<T> masked(Relu ? size_t(m) : 0);
    const int64_t hw = a.hw;  // a local: GCC reloaded a.hw on every element and ran the loop scalar
    for (int64_t c = c0; c < c1; ++c) {
      if constexpr (Relu)
        for (int64_t i = 0; i < a.n; ++i) {
          const T* g = dy + (i * a.c + c) * hw;
          const T* o = y + (i * a.c + c) * hw;
          T* t = masked.data() + i * hw;
          for (int64_t k = 0; k < hw; ++k) {
            const T gk = g[k];  // read whatever the mask: then the select vectorises
            t[k] = o[k] > T(0) ? gk : T(0);
          }
        }
      // Image i's row of the channel's dy (masked).
      const auto dy_row = [&](int64_t i) { return Relu ? masked.data() + i * a.hw : dy + (i * a.c + c) * a.hw; };
      const double mean = double(smean[c]), invstd = double(sinv[c]);
      double sum_dy = 0, sum_dy_xhat = 0;
      // One pass for both sums (two passes read dy and x twice: a training step's every
      // batch norm reads its activations here).
      for (int64_t i = 0; i < a.n; ++i)
        dy_sums<T>(dy_row(i), x + (i * a.c + c) * a.hw, a.hw, mean, invstd, sum_dy, sum_dy_xhat);
      if (dgamma) dgamma[c] = T(sum_dy_xhat);
      if (dbeta) dbeta[c] = T(sum_dy);
      if (!dx) continue;
      const double gscale = (gamma ? double(gamma[c]) : 1.0) * invstd;
      for (int64_t i = 0; i < a.n; ++i) {
        const T* d = dy_row(i);
        const T* p = x + (i * a.c + c) * a.hw;
        T* q = dx + (i * a.c + c) * a.hw;
        if (a.used_batch_stats) {
          const double mean_dy = sum_dy / double(m), mean_dy_xhat = sum_dy_xhat / double(m);
          for (int64_t k = 0; k < a.hw; ++k) {
            const double xhat = (double(p[k]) - mean) * invstd;
            q[k] = T(gscale * (double(d[k]) - mean_dy - xhat * mean_dy_xhat));
          }
        } else {
          for (int64_t k = 0; k < a.hw; ++k) q[k] = T(gscale * double(d[k]));
        }
      }
    }
  });
}

// ---- references: per channel, plain double sums over (n, k) ----

template <typename T>
void forward_reference(const BatchNormForwardArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* gamma = static_cast<const T*>(a.gamma);
  const T* beta = static_cast<const T*>(a.beta);
  T* rm = static_cast<T*>(a.running_mean);
  T* rv = static_cast<T*>(a.running_var);
  T* y = static_cast<T*>(a.y);
  const double m = double(a.n * a.hw);
  auto index = [&](int64_t i, int64_t c, int64_t k) { return (i * a.c + c) * a.hw + k; };
  for (int64_t c = 0; c < a.c; ++c) {
    double mean = 0, var = 0;
    if (a.use_batch_stats) {
      for (int64_t i = 0; i < a.n; ++i)
        for (int64_t k = 0; k < a.hw; ++k) mean += double(x[index(i, c, k)]);
      mean /= m;
      for (int64_t i = 0; i < a.n; ++i)
        for (int64_t k = 0; k < a.hw; ++k) var += std::pow(double(x[index(i, c, k)]) - mean, 2);
      var /= m;  // biased: what normalises
      if (a.update_running) {
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        const double old_mean = double(rm[c]), old_var = double(rv[c]);
        if (a.convention == BatchNormConvention::PyTorch) {
          rm[c] = T((1 - a.momentum) * old_mean + a.momentum * mean);
          rv[c] = T((1 - a.momentum) * old_var + a.momentum * unbiased);
        } else {
          rm[c] = T(a.momentum * old_mean + (1 - a.momentum) * mean);
          rv[c] = T(a.momentum * old_var + (1 - a.momentum) * var);
        }
      }
    } else {
      mean = double(rm[c]);
      var = double(rv[c]);
    }
    const double invstd = 1.0 / std::sqrt(var + a.eps);
    static_cast<T*>(a.save_mean)[c] = T(mean);
    static_cast<T*>(a.save_invstd)[c] = T(invstd);
    const double g = gamma ? double(gamma[c]) : 1.0, b = beta ? double(beta[c]) : 0.0;
    for (int64_t i = 0; i < a.n; ++i)
      for (int64_t k = 0; k < a.hw; ++k) {
        const double v = g * (double(x[index(i, c, k)]) - mean) * invstd + b;
        y[index(i, c, k)] = T(a.relu && !(v > 0) ? 0.0 : v);
      }
  }
}

template <typename T>
void backward_reference(const BatchNormBackwardArgs& a) {
  const T* x = static_cast<const T*>(a.x);
  const T* gamma = static_cast<const T*>(a.gamma);
  const T* y = static_cast<const T*>(a.y);
  const double m = double(a.n * a.hw);
  auto index = [&](int64_t i, int64_t c, int64_t k) { return (i * a.c + c) * a.hw + k; };
  // relu's backward first: dy where the output is positive, else 0.
  std::vector<T> masked(static_cast<const T*>(a.dy), static_cast<const T*>(a.dy) + a.n * a.c * a.hw);
  if (y)
    for (size_t i = 0; i < masked.size(); ++i) masked[i] = y[i] > T(0) ? masked[i] : T(0);
  const T* dy = masked.data();
  for (int64_t c = 0; c < a.c; ++c) {
    const double mean = double(static_cast<const T*>(a.save_mean)[c]);
    const double invstd = double(static_cast<const T*>(a.save_invstd)[c]);
    const double g = gamma ? double(gamma[c]) : 1.0;
    auto xhat = [&](int64_t i, int64_t k) { return (double(x[index(i, c, k)]) - mean) * invstd; };
    double sum_dy = 0, sum_dy_xhat = 0;
    for (int64_t i = 0; i < a.n; ++i)
      for (int64_t k = 0; k < a.hw; ++k) {
        sum_dy += double(dy[index(i, c, k)]);
        sum_dy_xhat += double(dy[index(i, c, k)]) * xhat(i, k);
      }
    if (a.dgamma) static_cast<T*>(a.dgamma)[c] = T(sum_dy_xhat);
    if (a.dbeta) static_cast<T*>(a.dbeta)[c] = T(sum_dy);
    if (!a.dx) continue;
    for (int64_t i = 0; i < a.n; ++i)
      for (int64_t k = 0; k < a.hw; ++k) {
        const double d = double(dy[index(i, c, k)]);
        static_cast<T*>(a.dx)[index(i, c, k)] =
            a.used_batch_stats ? T(g * invstd / m * (m * d - sum_dy - xhat(i, k) * sum_dy_xhat)) : T(g * invstd * d);
      }
  }
}

}  // namespace

void batchnorm_forward(const BatchNormForwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "batch_norm", [&](auto tag) { forward<decltype(tag)>(a, exec); });
}

void batchnorm_backward(const BatchNormBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "batch_norm backward", [&](auto tag) {
    if (a.y) backward<decltype(tag), true>(a, exec);
    else backward<decltype(tag), false>(a, exec);
  });
}

void batchnorm_forward_reference(const BatchNormForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "batch_norm", [&](auto tag) { forward_reference<decltype(tag)>(a); });
}
void batchnorm_backward_reference(const BatchNormBackwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "batch_norm backward", [&](auto tag) { backward_reference<decltype(tag)>(a); });
}

}  // namespace hone::kernels::cpu
