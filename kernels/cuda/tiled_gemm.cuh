#pragma once
// One tiled GEMM kernel for every matrix product on CUDA (conv2d's implicit GEMMs, matmul,
// linear): C[M, N] = A[M, K] B[K, N] per group or batch entry (blockIdx.y), 64 x 64 tiles
// (tile_of, kernels/cuda/conv2d_indexing.h), 16-deep K steps staged in shared memory, 4 x 4
// outputs per thread, each output summed by one thread in a fixed K order (deterministic).
// The operands are read and the result written through a Loader with
//   T a(g, m, k), T b(g, k, n), void store(g, m, n, T value)
// so a product gathers straight from its tensors (no im2col or transposed copy in global
// memory). First version: correct before fast (no tensor cores, no double buffering yet).
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/conv2d_indexing.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16, kGemmThreads = 256;

// C[M, N] = A[M, K] B[K, N] for one group (blockIdx.y), tiles over blockIdx.x.
template <typename T, typename Loader>
__global__ void __launch_bounds__(kGemmThreads) implicit_gemm(int64_t M, int64_t N, int64_t K, Loader ld) {
  __shared__ T As[kTileK][kTileM + 1];
  __shared__ T Bs[kTileK][kTileN + 1];
  const int64_t g = blockIdx.y;
  const Tile t = tile_of(blockIdx.x, M, N, kTileM, kTileN);
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;  // this thread's 4 x 4 outputs
  T acc[4][4] = {};
  for (int64_t k0 = 0; k0 < K; k0 += kTileK) {
    // 64 x 16 elements of each operand, 4 per thread; zero outside the matrix.
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

// Launches C = A B for `groups` products of M x N x K on `stream`; `what` names the op in errors.
template <typename T, typename Loader>
void launch_gemm(int64_t M, int64_t N, int64_t K, int64_t groups, const Loader& ld, cudaStream_t stream, const char* what) {
  if (M == 0 || N == 0) return;
  const int64_t tiles = tiles_along(M, kTileM) * tiles_along(N, kTileN);
  HONE_CHECK(tiles < (int64_t(1) << 31) && groups < 65536, what, ": ", tiles, " tiles x ", groups,
             " groups is more than one launch holds");
  implicit_gemm<T><<<dim3(unsigned(tiles), unsigned(groups)), kGemmThreads, 0, stream>>>(M, N, K, ld);
  HONE_CUDA_CHECK_LAUNCH(what);
}

}  // namespace hone::kernels::cuda
