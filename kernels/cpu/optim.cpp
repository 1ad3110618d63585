#include "kernels/cpu/optim.h"

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

// Elements per chunk: big enough that a thread's start-up is noise next to its work.
constexpr int64_t kGrain = 1 << 15;

// fn(i) for every element the mask lets train, over exec's threads. The unmasked loop is
// kept separate so that it has no branch and the compiler can vectorise it.
template <typename F>
void for_each_trained(const Exec& exec, int64_t n, const uint8_t* mask, F&& fn) {
  parallel_for(exec, n, kGrain, [&](int64_t begin, int64_t end) {
    if (!mask) {
      for (int64_t i = begin; i < end; ++i) fn(i);
    } else {
      for (int64_t i = begin; i < end; ++i)
        if (mask[i]) fn(i);
    }
  });
}

}  // namespace

void sgd_update(const SgdUpdateArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "sgd_update", [&](auto tag) {
    using T = decltype(tag);
    const SgdScalars<T> s = sgd_scalars<T>(a);
    T* p = static_cast<T*>(a.param);
    const T* g = static_cast<const T*>(a.grad);
    T* buf = static_cast<T*>(a.momentum_buffer);
    if (!s.use_momentum) for_each_trained(exec, a.n, a.mask, [&](int64_t i) { sgd_element(s, p[i], g[i], static_cast<T*>(nullptr)); });
    else for_each_trained(exec, a.n, a.mask, [&](int64_t i) { sgd_element(s, p[i], g[i], buf + i); });
  });
}

void adam_update(const AdamUpdateArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "adam_update", [&](auto tag) {
    using T = decltype(tag);
    const AdamScalars<T> s = adam_scalars<T>(a);
    T* p = static_cast<T*>(a.param);
    const T* g = static_cast<const T*>(a.grad);
    T* m = static_cast<T*>(a.exp_avg);
    T* v = static_cast<T*>(a.exp_avg_sq);
    for_each_trained(exec, a.n, a.mask, [&](int64_t i) { adam_element(s, p[i], g[i], m[i], v[i]); });
  });
}

void sum_of_squares(const SumOfSquaresArgs& a, const Exec&) {
  HONE_DISPATCH_FLOAT(a.dtype, "sum_of_squares", [&](auto tag) {
    using T = decltype(tag);
    const T* x = static_cast<const T*>(a.in);
    double s = 0;
    for (int64_t i = 0; i < a.n; ++i) s += double(x[i]) * double(x[i]);
    *a.total = (a.accumulate ? *a.total : 0.0) + s;
  });
}

void clip_scale(const ClipScaleArgs& a, const Exec& exec) {
  const ClipCoefficient c = clip_coefficient(*a.total, a.max_norm);
  if (!c.apply) return;
  HONE_DISPATCH_FLOAT(a.dtype, "clip_scale", [&](auto tag) {
    using T = decltype(tag);
    const T coef = T(c.coef);
    T* g = static_cast<T*>(a.grad);
    parallel_for(exec, a.n, kGrain, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) g[i] = g[i] * coef;
    });
  });
}

}  // namespace hone::kernels::cpu
