#pragma once
// The optimizer updates' contract (issue 13): fused SGD and Adam/AdamW steps over one
// contiguous parameter, and the two halves of clip_grad_norm (a sum of squares, then the
// scaling), as argument structs the CPU and CUDA kernels both take.
//
// The updates reproduce torch.optim 1.13's single-tensor path exactly as nn/optim.cpp
// composed it from tensor ops before they were fused: every intermediate is rounded to the
// parameter's dtype, in the same order, with each scalar rounded to that dtype as the
// binary kernels round theirs (a float32 `add(grad, p, wd)` is g + float(wd) * p). So the
// element math is written once here (HONE_HOST_DEVICE), and on CUDA each product and sum
// is an explicitly rounded intrinsic that nvcc may not fuse into an FMA: the device then
// computes the same bits as the CPU.
//
// Masks (issue 14): `mask` is nullptr or one byte per element (uint8 or bool); where it is
// 0 nothing is written: the weight, its momentum / exp_avg / exp_avg_sq entries keep their
// bits and weight decay does not touch it.
#include <cmath>
#include <cstdint>

#include "kernels/host_device.h"
#include "tensor/dtype.h"

namespace hone::kernels {

struct SgdUpdateArgs {
  DType dtype;
  int64_t n;
  void* param;
  const void* grad;
  void* momentum_buffer;        // nullptr when momentum == 0
  const uint8_t* mask = nullptr;
  double lr = 0, weight_decay = 0, momentum = 0, dampening = 0;
  bool nesterov = false;
  bool first_update = false;    // the buffer starts as this step's d_p (its contents are not read)
};

struct AdamUpdateArgs {
  DType dtype;
  int64_t n;
  void* param;
  const void* grad;
  void* exp_avg;
  void* exp_avg_sq;
  const uint8_t* mask = nullptr;
  double lr = 0, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t step = 1;        // this update's number, from 1 (bias correction)
  bool decoupled = false;  // AdamW: p *= 1 - lr * wd instead of wd * p added to the gradient
};

// *total += the sum of in[i]^2 over i in storage order, accumulated in double from 0
// (with accumulate false, *total = that sum: the first gradient of a clip_grad_norm starts
// the total without a fill, which on CUDA would be a host round trip).
struct SumOfSquaresArgs {
  DType dtype;
  int64_t n;
  const void* in;
  double* total;  // on the kernel's device
  bool accumulate = true;
};

// grad[i] *= coef, where coef = max_norm / (sqrt(*total) + 1e-6), when coef < 1 or is NaN;
// the coefficient is computed from *total where it lies (on the device, for CUDA).
struct ClipScaleArgs {
  DType dtype;
  int64_t n;
  void* grad;
  const double* total;
  double max_norm;
};

// ---- the element math, shared by the reference, the CPU and the CUDA kernels ----

template <typename T>
HONE_HOST_DEVICE inline T mul_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fmul_rn(a, b);
  else return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
template <typename T>
HONE_HOST_DEVICE inline T add_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fadd_rn(a, b);
  else return __dadd_rn(a, b);
#else
  return a + b;
#endif
}
template <typename T>
HONE_HOST_DEVICE inline T div_rn(T a, T b) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fdiv_rn(a, b);
  else return __ddiv_rn(a, b);
#else
  return a / b;
#endif
}
template <typename T>
HONE_HOST_DEVICE inline T sqrt_rn(T a) {
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4) return __fsqrt_rn(a);
  else return __dsqrt_rn(a);
#else
  return std::sqrt(a);
#endif
}

// The scalars of one SGD update, rounded to T once on the host, and which steps apply.
template <typename T>
struct SgdScalars {
  T weight_decay, momentum, one_minus_dampening, neg_lr;
  bool decay, use_momentum, nesterov, first_update;
};
template <typename T>
SgdScalars<T> sgd_scalars(const SgdUpdateArgs& a) {
  return {T(a.weight_decay), T(a.momentum), T(1 - a.dampening), T(-a.lr),
          a.weight_decay != 0, a.momentum != 0, a.nesterov, a.first_update};
}

// torch.optim.SGD on one element: d = g + wd*p; buf = d (first) or momentum*buf + (1-damp)*d;
// d = d + momentum*buf (Nesterov) or buf; p = p - lr*d.
template <typename T>
HONE_HOST_DEVICE inline void sgd_element(const SgdScalars<T>& s, T& p, T g, T* buf) {
  T d = s.decay ? add_rn(g, mul_rn(s.weight_decay, p)) : g;
  if (s.use_momentum) {
    T b = s.first_update ? d : add_rn(mul_rn(*buf, s.momentum), mul_rn(s.one_minus_dampening, d));
    *buf = b;
    d = s.nesterov ? add_rn(d, mul_rn(s.momentum, b)) : b;
  }
  p = add_rn(p, mul_rn(s.neg_lr, d));
}

template <typename T>
struct AdamScalars {
  T weight_decay, decay_factor, beta1, one_minus_beta1, beta2, one_minus_beta2, sqrt_bias_correction2, eps,
      neg_step_size;
  bool l2, decoupled_decay;
};
// Bias corrections in double on the host (std::pow), as nn/optim.cpp computed them.
template <typename T>
AdamScalars<T> adam_scalars(const AdamUpdateArgs& a) {
  const double t = double(a.step);
  const double bias_correction1 = 1 - std::pow(a.beta1, t);
  const double bias_correction2 = 1 - std::pow(a.beta2, t);
  return {T(a.weight_decay), T(1 - a.lr * a.weight_decay), T(a.beta1), T(1 - a.beta1), T(a.beta2), T(1 - a.beta2),
          T(std::sqrt(bias_correction2)), T(a.eps), T(-(a.lr / bias_correction1)),
          !a.decoupled && a.weight_decay != 0, a.decoupled && a.lr * a.weight_decay != 0};
}

// torch.optim.Adam/AdamW on one element (the order of nn/optim.cpp's former tensor ops).
template <typename T>
HONE_HOST_DEVICE inline void adam_element(const AdamScalars<T>& s, T& p, T g, T& m, T& v) {
  if (s.decoupled_decay) p = mul_rn(p, s.decay_factor);
  if (s.l2) g = add_rn(g, mul_rn(s.weight_decay, p));
  m = add_rn(mul_rn(m, s.beta1), mul_rn(s.one_minus_beta1, g));
  v = add_rn(mul_rn(v, s.beta2), mul_rn(s.one_minus_beta2, mul_rn(g, g)));
  const T denom = add_rn(div_rn(sqrt_rn(v), s.sqrt_bias_correction2), s.eps);
  p = add_rn(p, mul_rn(s.neg_step_size, div_rn(m, denom)));
}

// clip_grad_norm's coefficient from the total sum of squares, and whether it applies
// (PyTorch clamps it at 1; a NaN norm makes the gradients NaN).
struct ClipCoefficient {
  double coef;
  bool apply;
};
HONE_HOST_DEVICE inline ClipCoefficient clip_coefficient(double total, double max_norm) {
#if defined(__CUDA_ARCH__)
  const double norm = __dsqrt_rn(total);
  const double coef = __ddiv_rn(max_norm, __dadd_rn(norm, 1e-6));
#else
  const double norm = std::sqrt(total);
  const double coef = max_norm / (norm + 1e-6);
#endif
  return {coef, coef < 1.0 || coef != coef};
}

// The references: the same element math, one element after another, no threads.
void sgd_update_reference(const SgdUpdateArgs& args);
void adam_update_reference(const AdamUpdateArgs& args);
void sum_of_squares_reference(const SumOfSquaresArgs& args);
void clip_scale_reference(const ClipScaleArgs& args);

}  // namespace hone::kernels
