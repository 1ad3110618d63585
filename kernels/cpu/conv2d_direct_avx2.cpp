// The direct convolution's tiles for AVX2 + FMA (16 ymm registers: 12 accumulators, the
// loads and one broadcast). This file alone is compiled with -mavx2 -mfma;
// conv2d_direct.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include "kernels/cpu/conv2d_direct_tiles.h"

namespace hone::kernels::cpu::conv_direct {

namespace {
#include "kernels/cpu/conv2d_direct_tiles_impl.h"

struct V {
  using T = __m256;
  static constexpr int W = 8;
  static T zero() { return _mm256_setzero_ps(); }
  static T load(const float* p) { return _mm256_load_ps(p); }
  static T loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T set1(float s) { return _mm256_set1_ps(s); }
  static T fma(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
};
}  // namespace

Tiles avx2_tiles() {
  return {.mr = 6, .nq = 16, .rb = 6, .ob = 16, .forward = forward_tile<V, 6, 2>, .grad_weight = grad_weight_tile<V, 6, 2>};
}

}  // namespace hone::kernels::cpu::conv_direct
