#pragma once
// One tiled GEMM kernel for every matrix product on CUDA (conv2d's implicit GEMMs, matmul,
// linear): C[M, N] = A[M, K] B[K, N] per group or batch entry (blockIdx.y), 64 x 64 tiles
// (tile_of, kernels/cuda/conv2d_indexing.h), 16-deep K steps staged in shared memory
// (stage_tiles, zero outside the matrix). The operands are read and the result written
// through a Loader with
//   T a(g, m, k), T b(g, k, n), void store(g, m, n, T value)
// so a product gathers straight from its tensors (no im2col or transposed copy in global
// memory). Two paths over the same staging and Loader, chosen at launch:
//   exact (implicit_gemm): 4 x 4 outputs per thread in float32/float64 FMAs.
//   TF32 (implicit_gemm_tf32, float32 when Exec::allow_tf32): each warp computes two 16 x 16
//     blocks of the tile with WMMA m16n16k8 tensor-core products, operands rounded to TF32
//     (round_to_tf32, kernels/cuda/tf32.h), accumulated in float32.
// Deterministic in both: every output is summed by one thread (exact) or one warp's
// fragments (TF32) over K in a fixed order; no split-K, no atomics. So the conv2d weight
// gradient, the one product whose K (n * out_h * out_w) is long, is reproducible bit for bit
// run to run without a separate deterministic mode.
// First version: correct before fast (no double buffering yet). Compiled; no GPU has run it.
#include <cuda_runtime.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "kernels/cuda/conv2d_indexing.h"
#include "kernels/cuda/tf32.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

// Stages A[m0.., k0..k0+16) into As[k][m] and B[k0.., n0..] into Bs[k][n]; zero outside the
// matrix, so a partial tile at an edge computes the same sums as a full one. LD is the
// shared arrays' row length (65 for the exact path: no bank conflicts on As[k][m] column
// reads; 68 for WMMA, whose leading dimension must be a multiple of 4 floats).
template <typename T, int LD, typename Loader>
__device__ __forceinline__ void stage_tiles(T (*As)[LD], T (*Bs)[LD], const Loader& ld, int64_t g, const Tile& t,
                                            int64_t k0, int64_t K) {
  for (int i = threadIdx.x; i < kTileM * kTileK; i += kGemmThreads) {
    const int r = i / kTileK, c = i % kTileK;
    const int64_t m = t.m0 + r, k = k0 + c;
    As[c][r] = m < t.m1 && k < K ? ld.a(g, m, k) : T(0);
  }
  for (int i = threadIdx.x; i < kTileK * kTileN; i += kGemmThreads) {
    const int r = i / kTileN, c = i % kTileN;
    const int64_t k = k0 + r, n = t.n0 + c;
    Bs[r][c] = k < K && n < t.n1 ? ld.b(g, k, n) : T(0);
  }
}

// C[M, N] = A[M, K] B[K, N] for one group (blockIdx.y), tiles over blockIdx.x; exact.
template <typename T, typename Loader>
__global__ void __launch_bounds__(kGemmThreads) implicit_gemm(int64_t M, int64_t N, int64_t K, Loader ld) {
  constexpr int LD = kTileM + 1;
  static_assert(kTileM == kTileN, "stage_tiles shares one row length between As and Bs");
  __shared__ T As[kTileK][LD];
  __shared__ T Bs[kTileK][LD];
  const int64_t g = blockIdx.y;
  const Tile t = tile_of(blockIdx.x, M, N, kTileM, kTileN);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;  // this thread's 4 x 4 outputs
  T acc[4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
    stage_tiles<T, LD>(As, Bs, ld, g, t, k0, K);
    __syncthreads();
    for (int kk = 0; kk < kTileK; ++kk)
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += As[kk][ty * 4 + i] * Bs[kk][tx * 4 + j];
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 4; ++j) {
      const int64_t m = t.m0 + ty * 4 + i, n = t.n0 + tx * 4 + j;
      if (m < t.m1 && n < t.n1) ld.store(g, m, n, acc[i][j]);
    }
}

// The TF32 tensor-core path, float32 only. The 64 x 64 tile is 4 x 4 WMMA blocks of 16 x 16;
// warp w (of 8) owns row block w % 4 and column blocks 2 * (w / 4) and 2 * (w / 4) + 1.
// As[k][m] is A's tile column-major (leading dimension 68), Bs[k][n] B's tile row-major.
// The accumulators go through shared memory (their register layout is opaque) so that every
// output is stored by ld.store, with the same edge test as the exact path.
namespace wmma = nvcuda::wmma;
constexpr int kWmmaM = 16, kWmmaN = 16, kWmmaK = 8, kWmmaLd = kTileM + 4;
static_assert(kTileM % kWmmaM == 0 && kTileN % (2 * kWmmaN) == 0 && kTileK % kWmmaK == 0, "tiles hold whole WMMA blocks");
static_assert((kTileM / kWmmaM) * (kTileN / kWmmaN) == 2 * (kGemmThreads / 32), "two WMMA blocks per warp");

template <typename Loader>
__global__ void __launch_bounds__(kGemmThreads) implicit_gemm_tf32(int64_t M, int64_t N, int64_t K, Loader ld) {
  __shared__ __align__(32) float As[kTileK][kWmmaLd];
  __shared__ __align__(32) float Bs[kTileK][kWmmaLd];
  __shared__ __align__(32) float Cs[kTileM][kWmmaLd];
  const int64_t g = blockIdx.y;
  const Tile t = tile_of(blockIdx.x, M, N, kTileM, kTileN);
  const int warp = threadIdx.x / 32, row = (warp % 4) * kWmmaM, col = (warp / 4) * 2 * kWmmaN;
  wmma::fragment<wmma::accumulator, kWmmaM, kWmmaN, kWmmaK, float> acc[2];
  wmma::fill_fragment(acc[0], 0.0f);
  wmma::fill_fragment(acc[1], 0.0f);
  for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
    stage_tiles<float, kWmmaLd>(As, Bs, ld, g, t, k0, K);
    __syncthreads();
    for (int kk = 0; kk < kTileK; kk += kWmmaK) {
      wmma::fragment<wmma::matrix_a, kWmmaM, kWmmaN, kWmmaK, wmma::precision::tf32, wmma::col_major> a;
      wmma::load_matrix_sync(a, &As[kk][row], kWmmaLd);
      for (int e = 0; e < a.num_elements; ++e) a.x[e] = round_to_tf32(a.x[e]);
      for (int j = 0; j < 2; ++j) {
        wmma::fragment<wmma::matrix_b, kWmmaM, kWmmaN, kWmmaK, wmma::precision::tf32, wmma::row_major> b;
        wmma::load_matrix_sync(b, &Bs[kk][col + j * kWmmaN], kWmmaLd);
        for (int e = 0; e < b.num_elements; ++e) b.x[e] = round_to_tf32(b.x[e]);
        wmma::mma_sync(acc[j], a, b, acc[j]);
      }
    }
    __syncthreads();
  }
  for (int j = 0; j < 2; ++j) wmma::store_matrix_sync(&Cs[row][col + j * kWmmaN], acc[j], kWmmaLd, wmma::mem_row_major);
  __syncthreads();
  for (int i = threadIdx.x; i < kTileM * kTileN; i += kGemmThreads) {
    const int r = i / kTileN, c = i % kTileN;
    const int64_t m = t.m0 + r, n = t.n0 + c;
    if (m < t.m1 && n < t.n1) ld.store(g, m, n, Cs[r][c]);
  }
}

// Launches C = A B for `groups` products of M x N x K on `stream`; `what` names the op in
// errors. `allow_tf32` (Exec::allow_tf32) picks the tensor-core path for float32.
template <typename T, typename Loader>
void launch_gemm(int64_t M, int64_t N, int64_t K, int64_t groups, const Loader& ld, cudaStream_t stream, const char* what,
                 bool allow_tf32 = false) {
  if (M == 0 || N == 0) return;
  const int64_t tiles = tiles_along(M, kTileM) * tiles_along(N, kTileN);
  HONE_CHECK(tiles < (int64_t(1) << 31) && groups < 65536, what, ": ", tiles, " tiles x ", groups,
             " groups is more than one launch holds");
  const dim3 grid{unsigned(tiles), unsigned(groups)};
  if constexpr (std::is_same_v<T, float>) {
    if (allow_tf32) {
      implicit_gemm_tf32<<<grid, kGemmThreads, 0, stream>>>(M, N, K, ld);
      HONE_CUDA_CHECK_LAUNCH(what);
      return;
    }
  }
  implicit_gemm<T><<<grid, kGemmThreads, 0, stream>>>(M, N, K, ld);
  HONE_CUDA_CHECK_LAUNCH(what);
}

}  // namespace hone::kernels::cuda
