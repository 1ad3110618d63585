// The blocked kernels for AVX-512: 16 lanes, tiles of 4 blocks x 6 pixels (24 of the 32 zmm
// as accumulators, 4 for the weights, 1 broadcast). This file alone is compiled with
// -mavx512f -mfma; nchwc.cpp calls it only when the CPU has them.
#include <immintrin.h>

#include "kernels/cpu/nchwc_tiles.h"

namespace hone::kernels::cpu::nchwc {

namespace {
struct V {
  using T = __m512;
  static constexpr int W = 16;
  static T load(const float* p) { return _mm512_load_ps(p); }
  static void store(float* p, T v) { _mm512_store_ps(p, v); }
  static T set1(float s) { return _mm512_set1_ps(s); }
  static T fma(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  static T max0(T a) { return _mm512_maskz_max_ps(__mmask16(0xFFFF), a, _mm512_setzero_ps()); }  // (maskz: GCC 12 warns on max_ps)
  // b where b > m or b is NaN, else m.
  static T max_nan(T m, T b) {
    const __mmask16 take = _mm512_cmp_ps_mask(b, m, _CMP_GT_OQ) | _mm512_cmp_ps_mask(b, b, _CMP_UNORD_Q);
    return _mm512_mask_blend_ps(take, m, b);
  }
};
#include "kernels/cpu/nchwc_tiles_impl.h"
}  // namespace

// Measured against 2 x 12 and 3 x 8 (conv2d_bench --benchmark_filter=blocked, AMD EPYC
// Zen 5): 4 x 6 won on every ResNet-18 and VGG-16 layer, 2 x 12 took twice as long.
Kernels avx512_kernels() {
  Kernels k = make_kernels<V, 4, 6>();
  add_grad_weight_tiles<V, 3, 3>(k);
  return k;
}

}  // namespace hone::kernels::cpu::nchwc
