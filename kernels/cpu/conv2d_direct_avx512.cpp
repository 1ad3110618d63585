// The direct convolution's tiles for AVX-512. This file alone is compiled with
// -mavx512f -mfma; conv2d_direct.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include "kernels/cpu/conv2d_direct_tiles.h"

namespace hone::kernels::cpu::conv_direct {

namespace {
#include "kernels/cpu/conv2d_direct_tiles_impl.h"

struct V {
  using T = __m512;
  static constexpr int W = 16;
  static T zero() { return _mm512_setzero_ps(); }
  static T load(const float* p) { return _mm512_load_ps(p); }
  static T loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T set1(float s) { return _mm512_set1_ps(s); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
};
}  // namespace

Tiles avx512_tiles() {
  return {.mr = 8, .nq = 48, .rb = 6, .ob = 64, .forward = forward_tile<V, 8, 3>, .grad_weight = grad_weight_tile<V, 6, 4>};
}

}  // namespace hone::kernels::cpu::conv_direct
