#pragma once
// Internal to the blocked kernels (nchwc.h): the per-ISA pieces, built once for AVX-512
// (nchwc_avx512.cpp) and once for AVX2 (nchwc_avx2.cpp), each with its own compile flags,
// from the templates in nchwc_tiles_impl.h. nchwc.cpp (default flags) picks one at run time.
#include <cstdint>
#include <utility>

#include "kernels/cpu/nchwc.h"

namespace hone::kernels::cpu::nchwc {

constexpr int kMaxBlocks = 4, kMaxPixels = 12;

// One conv tile: CB output blocks x P output pixels, over one chunk of input blocks.
// x[p]: pixel p's input at (the chunk's first block, tap (0, 0), lane 0); tap k of the
// chunk (input block b, ky, kx in that order) reads lane l at x[p] + offsets[k] + l. y[p]:
// pixel p's output at the group's first block; block j at + j*y_block. w: the group's first
// block's packed weights at the chunk's first input block; output block j at + j*w_block.
struct TileArgs {
  const float* x[kMaxPixels];
  float* y[kMaxPixels];
  const float* r[kMaxPixels];  // residual, same offsets as y; used when has_residual and last
  const float* w;
  const float* bias;  // the group's first block (lanes floats per block)
  const int64_t* offsets;
  int64_t taps, lanes, w_block, y_block;
  bool first, last, has_residual, relu;  // first: start from the bias, else from y
};
using TileFn = void (*)(const TileArgs& t);
using MaxPoolPlaneFn = void (*)(const Pool2dGeometry& g, const float* x, const Layout& xl, float* y, const Layout& yl);

struct Kernels {
  int64_t lanes;       // floats per vector
  int cb, p;           // the full tile
  TileFn tile[kMaxBlocks][kMaxPixels];  // [cb - 1][p - 1] for every smaller tile too
  MaxPoolPlaneFn max_pool_plane;  // one (image, block) plane: x and y at its origin
};

Kernels avx512_kernels();  // 16 lanes: 4 blocks x 6 pixels (24 zmm accumulators)
Kernels avx2_kernels();    // 8 lanes: 2 blocks x 6 pixels (12 ymm accumulators)

}  // namespace hone::kernels::cpu::nchwc
