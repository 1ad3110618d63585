// The max pool's rows for AVX2 (pooling_rows.h). This file alone is compiled with -mavx2.
#include <immintrin.h>

#include <limits>

#include "kernels/cpu/pooling_rows.h"

namespace hone::kernels::cpu {

namespace {

struct V {
  using F = __m256;
  using I = __m256i;
  static constexpr int W = 8;
  static F minus_inf() { return _mm256_set1_ps(-std::numeric_limits<float>::infinity()); }
  static I set1(int32_t s) { return _mm256_set1_epi32(s); }
  static I add(I a, I b) { return _mm256_add_epi32(a, b); }
  static I lanes_times(int32_t s) { return _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), set1(s)); }
  static F load(const float* p) { return _mm256_loadu_ps(p); }
  static F load_stride2(const float* p) {
    // p[0..7] and p[8..14] (a masked load: p[15] may lie past the plane); even lanes of each
    // gathered to the low and high halves.
    const F lo = _mm256_loadu_ps(p);
    const F hi = _mm256_maskload_ps(p + 8, _mm256_setr_epi32(-1, -1, -1, -1, -1, -1, -1, 0));
    const I evens_low = _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6);
    return _mm256_blend_ps(_mm256_permutevar8x32_ps(lo, evens_low), _mm256_permutevar8x32_ps(hi, evens_low), 0xf0);
  }
  static F gather(const float* p, I offsets) {
    return _mm256_mask_i32gather_ps(_mm256_setzero_ps(), p, offsets, _mm256_castsi256_ps(set1(-1)), 4);
  }
  // As the scalar loop: a larger value or any NaN takes over.
  static void take_larger_or_nan(F v, F& best, I& at, I pos) {
    const F take = _mm256_or_ps(_mm256_cmp_ps(v, best, _CMP_GT_OQ), _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    best = _mm256_blendv_ps(best, v, take);
    at = _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(at), _mm256_castsi256_ps(pos), take));
  }
  static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store_int(int32_t* p, I v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
};

#include "kernels/cpu/pooling_rows_impl.h"

}  // namespace

int64_t max_pool_row_avx2(const MaxRowArgs& a) { return max_rows(a); }

}  // namespace hone::kernels::cpu
