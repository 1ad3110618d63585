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

// One weight-gradient tile: CI input channels (lanes of one input block) x CB output
// blocks for one tap, summed over a run of output pixels (rows x cols of one image):
// acc[c][j] += x[pixel's input for this tap, lane c] * dy[pixel, block j]. x and dy point at
// the run's first pixel (x at the tap's input pixel and the first of the CI lanes, dy at
// the first block); the acc for (c, j) lives at dw + c * dw_lane + j * dw_block.
struct GradWeightTileArgs {
  const float* x;
  const float* dy;
  float* dw;
  int64_t rows, cols;
  int64_t x_step, x_row, dy_row;  // floats from one pixel to the next / one row to the next
  int64_t dy_block, dw_lane, dw_block;
  bool first;  // start from zero, else from dw
};
using GradWeightTileFn = void (*)(const GradWeightTileArgs& t);
constexpr int kMaxGradWeightBlocks = 3;
using MaxPoolPlaneFn = void (*)(const Pool2dGeometry& g, const float* x, const Layout& xl, float* y, const Layout& yl);

struct Kernels {
  int64_t lanes;       // floats per vector
  int cb, p;           // the full tile
  TileFn tile[kMaxBlocks][kMaxPixels];  // [cb - 1][p - 1] for every smaller tile too
  MaxPoolPlaneFn max_pool_plane;  // one (image, block) plane: x and y at its origin
  // Weight-gradient tiles [ci == 8][cb - 1] for CI = 4 and 8 input lanes, up to gw_cb[ci ==
  // 8] output blocks (0: no tile with that CI; the registers would not hold it).
  int gw_cb[2];
  GradWeightTileFn grad_weight_tile[2][kMaxGradWeightBlocks];
};

Kernels avx512_kernels();  // 16 lanes: 4 blocks x 6 pixels (24 zmm accumulators); gradient 3 x 8
Kernels avx2_kernels();    // 8 lanes: 2 blocks x 6 pixels (12 ymm accumulators); gradient 3 x 4

}  // namespace hone::kernels::cpu::nchwc
