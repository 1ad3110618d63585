#pragma once
// The max pool's interior outputs, a vector of them at a time: sixteen with AVX-512
// (pooling_avx512.cpp, the one file compiled with -mavx512f), eight with AVX2
// (pooling_avx2.cpp, -mavx2); pooling.cpp calls one only where the CPU has it. Both come from
// pooling_rows_impl.h.
#include <cstdint>

namespace hone::kernels::cpu {

struct MaxRowArgs {
  const float* plane;    // the input plane [h, w]
  int64_t w;             // its width
  int64_t row_begin, row_end, dilation_h;  // the window's rows inside the image
  int64_t start;         // the first output's first column (its window lies inside the row)
  int64_t stride, kw, dilation_w;
  float* out;            // the outputs, `count` of them
  int64_t* indices;      // iy * w + ix of each maximum
  int64_t count;
};

// Each writes the largest multiple of its width (16, 8) of outputs not above `count` and
// returns how many: the same taps in the same order as the scalar loop, so the same maxima,
// the same first maximum on ties and the same (last) NaN. Needs h * w < 2^31 (positions
// kept as int32).
int64_t max_pool_row_avx512(const MaxRowArgs& a);
int64_t max_pool_row_avx2(const MaxRowArgs& a);

}  // namespace hone::kernels::cpu
