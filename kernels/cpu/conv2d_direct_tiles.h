#pragma once
// Internal to the direct convolution: its two register-blocked tiles, one pair per ISA
// (conv2d_direct_avx512.cpp, conv2d_direct_avx2.cpp, each compiled with its own flags).
// Everything else in conv2d_direct.cpp is ISA-independent code built with the default flags.
#include <cstdint>

namespace hone::kernels::cpu::conv_direct {

// C[r, 0:nq] (row stride ldc; r < mr) (+)= sum over taps t < T and channels i < cc of
// a[(t*cc + i)*mr + r] * b[taps[t] + i*cs + 0:nq]. `accumulate`: add to C, else overwrite.
using ForwardTileFn = void (*)(int64_t cc, int64_t T, const int64_t* taps, const float* b, int64_t cs, const float* a,
                               float* c, int64_t ldc, bool accumulate);
// C[r, 0:ob] (row stride ldc; r < nrows <= rb) (+)= sum over p < k of rows[r][q0 + p] *
// d[p*ldd + 0:ob]; d is 64-byte aligned and ldd a multiple of 16.
using GradWeightTileFn = void (*)(int64_t k, const float* const* rows, int64_t q0, const float* d, int64_t ldd, float* c,
                                  int64_t ldc, int64_t nrows, bool accumulate);

struct Tiles {
  int64_t mr, nq;  // forward tile: output channels x grid positions
  int64_t rb, ob;  // weight-gradient tile: (input channel, tap) rows x output channels
  ForwardTileFn forward;
  GradWeightTileFn grad_weight;
};

Tiles avx512_tiles();  // 8 x 48 and 6 x 64 (24 zmm accumulators each)
Tiles avx2_tiles();    // 6 x 16 and 6 x 16 (12 ymm accumulators each)

}  // namespace hone::kernels::cpu::conv_direct
