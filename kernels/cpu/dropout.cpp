// Dropout on the CPU: one Philox block serves elements 2k and 2k+1, so chunks start at an
// even element and each block is computed once. Every element depends only on (seed,
// counter, x), so any split over threads gives the same bits.
#include "kernels/cpu/dropout.h"

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {
constexpr int64_t kGrainPairs = int64_t(1) << 14;

template <typename T>
void forward_pairs(const DropoutForwardArgs& a, int64_t k0, int64_t k1) {
  const T* x = static_cast<const T*>(a.x);
  T* y = static_cast<T*>(a.y);
  const T kept = T(a.scale);
  for (int64_t k = k0; k < k1; ++k) {
    const PhiloxBlock b = philox4x32_10(a.seed, a.first_block + uint64_t(k));
    for (int lane = 0; lane < 2 && 2 * k + lane < a.n; ++lane) {
      const int64_t i = 2 * k + lane;
      const bool keep = dropout_keeps(b, lane, a.p);
      a.mask[i] = uint8_t(keep);
      y[i] = x[i] * (keep ? kept : T(0));
    }
  }
}
}  // namespace

void dropout_forward(const DropoutForwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "dropout", [&](auto tag) {
    using T = decltype(tag);
    parallel_for(exec, (a.n + 1) / 2, kGrainPairs, [&](int64_t k0, int64_t k1) { forward_pairs<T>(a, k0, k1); });
  });
}

void dropout_backward(const DropoutBackwardArgs& a, const Exec& exec) {
  HONE_DISPATCH_FLOAT(a.dtype, "dropout backward", [&](auto tag) {
    using T = decltype(tag);
    const T* dy = static_cast<const T*>(a.dy);
    T* dx = static_cast<T*>(a.dx);
    const T kept = T(a.scale);
    parallel_for(exec, a.n, 2 * kGrainPairs, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) dx[i] = dy[i] * (a.mask[i] ? kept : T(0));
    });
  });
}

void dropout_forward_reference(const DropoutForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "dropout reference", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < a.n; ++i) {
      const bool keep = philox_uniform(a.seed, a.first_block, i) >= a.p;
      a.mask[i] = uint8_t(keep);
      static_cast<T*>(a.y)[i] = T(double(static_cast<const T*>(a.x)[i]) * (keep ? a.scale : 0.0));
    }
  });
}

void dropout_backward_reference(const DropoutBackwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "dropout backward reference", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t i = 0; i < a.n; ++i)
      static_cast<T*>(a.dx)[i] = T(double(static_cast<const T*>(a.dy)[i]) * (a.mask[i] ? a.scale : 0.0));
  });
}

}  // namespace hone::kernels::cpu
