// conv2d on CUDA as three implicit GEMMs (forward, backward data, backward weight), first
// version: simple and obviously correct, not yet fast (issue 13). The tiled GEMM kernel of
// kernels/cuda/tiled_gemm.cuh reads its operands through small loader structs built on
// kernels/cuda/conv2d_indexing.h, the address
// map the CPU tests check against the reference convolution on every machine. No im2col
// buffer exists in global memory: the loaders gather straight from x, dY and W. Every output
// element is summed by one thread (one warp on the TF32 path) in a fixed K order, with no
// split-K and no atomics, so the weight gradient is deterministic by construction: no
// separate deterministic mode is needed (tiled_gemm.cuh). Exec::allow_tf32 picks the TF32
// tensor-core path for float32 in all three products.
// Compiled here; no GPU has run it yet (the op harness runs it where one is present).
#include <cuda_runtime.h>

#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/conv2d_indexing.h"
#include "kernels/cuda/tiled_gemm.cuh"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

template <typename T>
struct ForwardLoader {  // A = gathered input, B = W^T, C = output (+ bias)
  ConvIndexing ix;
  const T* x;
  const T* w;
  const T* bias;
  T* y;
  __device__ T a(int64_t g, int64_t m, int64_t k) const {
    const int64_t at = ix.forward_input(g, m, k);
    return at >= 0 ? x[at] : T(0);
  }
  __device__ T b(int64_t g, int64_t k, int64_t co) const { return w[ix.weight(g, co, k)]; }
  __device__ void store(int64_t g, int64_t m, int64_t co, T v) const {
    y[ix.output(g, m, co)] = bias ? v + bias[g * ix.cog() + co] : v;
  }
};

template <typename T>
struct GradInputLoader {  // A = gathered dY, B = W rearranged, C = dX
  ConvIndexing ix;
  const T* dy;
  const T* w;
  T* dx;
  __device__ T a(int64_t g, int64_t m, int64_t k) const {
    const int64_t at = ix.grad_input_source(g, m, k);
    return at >= 0 ? dy[at] : T(0);
  }
  __device__ T b(int64_t g, int64_t k, int64_t ci) const { return w[ix.grad_input_weight(g, k, ci)]; }
  __device__ void store(int64_t g, int64_t m, int64_t ci, T v) const { dx[ix.grad_input_output(g, m, ci)] = v; }
};

template <typename T>
struct GradWeightLoader {  // A = dY^T, B = gathered input, C = dW
  ConvIndexing ix;
  const T* x;
  const T* dy;
  T* dw;
  __device__ T a(int64_t g, int64_t co, int64_t q) const { return dy[ix.output(g, q, co)]; }
  __device__ T b(int64_t g, int64_t q, int64_t r) const {
    const int64_t at = ix.forward_input(g, q, r);
    return at >= 0 ? x[at] : T(0);
  }
  __device__ void store(int64_t g, int64_t co, int64_t r, T v) const { dw[ix.weight(g, co, r)] = v; }
};

// db[co] = sum over images and pixels of dY, one block per channel, a fixed-shape tree.
template <typename T>
__global__ void __launch_bounds__(kGemmThreads) grad_bias(int64_t n, int64_t c_out, int64_t pixels, const T* dy, T* db) {
  __shared__ T part[kGemmThreads];
  const int64_t co = blockIdx.x;
  T s = 0;
  for (int64_t i = threadIdx.x; i < n * pixels; i += kGemmThreads) s += dy[((i / pixels) * c_out + co) * pixels + i % pixels];
  part[threadIdx.x] = s;
  __syncthreads();
  for (int half = kGemmThreads / 2; half > 0; half /= 2) {
    if (int(threadIdx.x) < half) part[threadIdx.x] += part[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) db[co] = part[0];
}

}  // namespace

void conv2d_forward(const Conv2dForwardArgs& a, const Exec& exec) {
  const ConvIndexing ix = ConvIndexing::of(a.g);
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda conv2d", [&](auto tag) {
    using T = decltype(tag);
    launch_gemm<T>(ix.forward_m(), ix.cog(), ix.forward_k(), ix.groups,
              ForwardLoader<T>{ix, static_cast<const T*>(a.input), static_cast<const T*>(a.weight),
                               static_cast<const T*>(a.bias), static_cast<T*>(a.output)},
              stream, "cuda conv2d", exec.allow_tf32);
  });
}

void conv2d_backward(const Conv2dBackwardArgs& a, const Exec& exec) {
  const ConvIndexing ix = ConvIndexing::of(a.g);
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    if (a.grad_input)
      launch_gemm<T>(ix.grad_input_m(), ix.cig(), ix.grad_input_k(), ix.groups,
                GradInputLoader<T>{ix, static_cast<const T*>(a.grad_output), static_cast<const T*>(a.weight),
                                   static_cast<T*>(a.grad_input)},
                stream, "cuda conv2d backward (data)", exec.allow_tf32);
    if (a.grad_weight)
      launch_gemm<T>(ix.cog(), ix.forward_k(), ix.grad_weight_k(), ix.groups,
                GradWeightLoader<T>{ix, static_cast<const T*>(a.input), static_cast<const T*>(a.grad_output),
                                    static_cast<T*>(a.grad_weight)},
                stream, "cuda conv2d backward (weight)", exec.allow_tf32);
    if (a.grad_bias && a.g.c_out > 0) {
      grad_bias<T><<<unsigned(a.g.c_out), kGemmThreads, 0, stream>>>(a.g.n, a.g.c_out, ix.oh * ix.ow,
                                                                 static_cast<const T*>(a.grad_output),
                                                                 static_cast<T*>(a.grad_bias));
      HONE_CUDA_CHECK_LAUNCH("cuda conv2d backward (bias)");
    }
  });
}

}  // namespace hone::kernels::cuda
