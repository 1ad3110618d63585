// The max pool's rows for AVX-512 (pooling_rows.h). This file alone is compiled with -mavx512f.
#include <immintrin.h>

#include <limits>

#include "kernels/cpu/pooling_rows.h"

namespace hone::kernels::cpu {

namespace {

struct V {
  using F = __m512;
  using I = __m512i;
  static constexpr int W = 16;
  static F minus_inf() { return _mm512_set1_ps(-std::numeric_limits<float>::infinity()); }
  static I set1(int32_t s) { return _mm512_set1_epi32(s); }
  static I add(I a, I b) { return _mm512_add_epi32(a, b); }
  static I lanes_times(int32_t s) {
    return _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), set1(s));
  }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static F load_stride2(const float* p) {
    const I evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), evens, _mm512_maskz_loadu_ps(0x7fff, p + 16));
  }
  static F gather(const float* p, I offsets) { return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xffff, offsets, p, 4); }
  // As the scalar loop: a larger value or any NaN takes over.
  static void take_larger_or_nan(F v, F& best, I& at, I pos) {
    const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
    best = _mm512_mask_mov_ps(best, take, v);
    at = _mm512_mask_mov_epi32(at, take, pos);
  }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store_int(int32_t* p, I v) { _mm512_store_si512(p, v); }
};

#include "kernels/cpu/pooling_rows_impl.h"

}  // namespace

int64_t max_pool_row_avx512(const MaxRowArgs& a) { return max_rows(a); }

}  // namespace hone::kernels::cpu
