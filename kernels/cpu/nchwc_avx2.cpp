// The blocked kernels for AVX2 + FMA: 8 lanes, tiles of 2 blocks x 6 pixels (12 of the 16
// ymm as accumulators, 2 for the weights, 1 broadcast). This file alone is compiled with
// -mavx2 -mfma; nchwc.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include "kernels/cpu/nchwc_tiles.h"

namespace hone::kernels::cpu::nchwc {

namespace {
struct V {
  using T = __m256;
  static constexpr int W = 8;
  static T load(const float* p) { return _mm256_load_ps(p); }
  static void store(float* p, T v) { _mm256_store_ps(p, v); }
  static T set1(float s) { return _mm256_set1_ps(s); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static T max0(T a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
  static T max_nan(T m, T b) {
    const T take = _mm256_or_ps(_mm256_cmp_ps(b, m, _CMP_GT_OQ), _mm256_cmp_ps(b, b, _CMP_UNORD_Q));
    return _mm256_blendv_ps(m, b, take);
  }
};
#include "kernels/cpu/nchwc_tiles_impl.h"
}  // namespace

Kernels avx2_kernels() {
  Kernels k = make_kernels<V, 2, 6>();
  add_grad_weight_tiles<V, 3, 0>(k);
  return k;
}

}  // namespace hone::kernels::cpu::nchwc
