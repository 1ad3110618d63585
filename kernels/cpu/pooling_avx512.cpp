// See pooling_avx512.h. Per tap, sixteen outputs' inputs come in as one vector: a plain
// load at stride 1, two loads and a permute at stride 2 (the stem's 3x3/2), a gather
// otherwise; the compare-and-select then runs on all sixteen at once, positions as int32.
#include "kernels/cpu/pooling_avx512.h"

#include <immintrin.h>

#include <limits>

namespace hone::kernels::cpu {

int64_t max_pool_row_avx512(const MaxRowArgs& a) {
  const int64_t groups = a.count / 16;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i offsets = _mm512_mullo_epi32(lane, _mm512_set1_epi32(int32_t(a.stride)));  // q * stride
  const __m512i evens = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  for (int64_t gi = 0; gi < groups; ++gi) {
    const int64_t first = a.start + gi * 16 * a.stride;  // this group's first window column
    __m512 best = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __m512i at = _mm512_add_epi32(_mm512_set1_epi32(int32_t(a.row_begin * a.w + first)), offsets);
    for (int64_t iy = a.row_begin; iy < a.row_end; iy += a.dilation_h)
      for (int64_t t = 0; t < a.kw; ++t) {
        const int64_t pos = iy * a.w + first + t * a.dilation_w;
        const float* p = a.plane + pos;
        __m512 v;
        if (a.stride == 1) {
          v = _mm512_loadu_ps(p);
        } else if (a.stride == 2) {
          // p[0..30]: the second load stops at p[30], the last window's own tap.
          v = _mm512_permutex2var_ps(_mm512_loadu_ps(p), evens, _mm512_maskz_loadu_ps(0x7fff, p + 16));
        } else {
          v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), 0xffff, offsets, p, 4);
        }
        // As the scalar loop: a larger value or any NaN takes over.
        const __mmask16 take = _mm512_cmp_ps_mask(v, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        best = _mm512_mask_mov_ps(best, take, v);
        at = _mm512_mask_mov_epi32(at, take, _mm512_add_epi32(_mm512_set1_epi32(int32_t(pos)), offsets));
      }
    _mm512_storeu_ps(a.out + gi * 16, best);
    alignas(64) int32_t positions[16];
    _mm512_store_si512(positions, at);
    for (int q = 0; q < 16; ++q) a.indices[gi * 16 + q] = positions[q];
  }
  return groups * 16;
}

}  // namespace hone::kernels::cpu
