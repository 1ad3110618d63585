// Elementwise CUDA kernels: one thread per output element (grid-stride loop); each thread
// turns its linear index into per-operand offsets through the (coalesced) sizes/strides.
#include <cuda_runtime.h>

#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"
#include "tensor/strided_index.h"
#include "tensor/strided_loop.h"

namespace hone::kernels::cuda {

namespace {

// The operands' offsets per linear index: tensor/strided_index.h, shared with the strided
// copy and checked on the CPU against the CPU loop.
template <int N>
StridedIndex<N> index_of(const std::vector<int64_t>& sizes, const std::array<std::vector<int64_t>, N>& strides) {
  const StridedLayout<N> layout(sizes, strides);  // merge dims first: fewer divisions per element
  StridedIndex<N> g;
  HONE_CHECK(make_strided_index<N>(layout, g), "cuda elementwise: more than ", kMaxStridedDims,
             " non-mergeable dims (", layout.sizes.size(), ")");
  return g;
}

template <typename T>
__device__ T unary_op(UnaryOp op, T x, double s) {
  switch (op) {
    case UnaryOp::Neg: return -x;
    case UnaryOp::Exp: return exp(x);
    case UnaryOp::Log: return log(x);
    case UnaryOp::Sqrt: return sqrt(x);
    case UnaryOp::Abs: return fabs(x);
    case UnaryOp::Relu: return x > T(0) ? x : T(0);
    case UnaryOp::Sigmoid: return T(1) / (T(1) + exp(-x));
    case UnaryOp::Tanh: return tanh(x);
    case UnaryOp::Sign: return T((x > T(0)) - (x < T(0)));
    case UnaryOp::PowScalar: return pow(x, T(s));
  }
  return T(0);
}

template <typename T>
__device__ T binary_op(BinaryOp op, T a, T b, T alpha) {
  switch (op) {
    case BinaryOp::Add: return a + alpha * b;
    case BinaryOp::Sub: return a - alpha * b;
    case BinaryOp::Mul: return a * b;
    case BinaryOp::Div: return a / b;
    case BinaryOp::Pow: return pow(a, b);
    case BinaryOp::ReluBackward: return b > T(0) ? a : T(0);
    case BinaryOp::SigmoidBackward: return a * b * (T(1) - b);
    case BinaryOp::TanhBackward: return a * (T(1) - b * b);
    case BinaryOp::Eq: return T(a == b);
    case BinaryOp::Ne: return T(a != b);
    case BinaryOp::Lt: return T(a < b);
    case BinaryOp::Le: return T(a <= b);
    case BinaryOp::Gt: return T(a > b);
    case BinaryOp::Ge: return T(a >= b);
    case BinaryOp::AddRelu: {
      const T s = a + alpha * b;
      return s > T(0) ? s : T(0);
    }
  }
  return T(0);
}

template <typename T>
__global__ void unary_kernel(StridedIndex<2> g, UnaryOp op, T* out, const T* in, double s) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    g.offsets(i, off);
    out[off[0]] = unary_op<T>(op, in[off[1]], s);
  }
}

template <typename T>
__global__ void binary_kernel(StridedIndex<3> g, BinaryOp op, T* out, const T* a, const T* b, T alpha) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < g.numel; i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    g.offsets(i, off);
    out[off[0]] = binary_op<T>(op, a[off[1]], b[off[2]], alpha);
  }
}
}  // namespace

void unary(const UnaryArgs& a, const Exec& exec) {
  auto g = index_of<2>(a.sizes, {a.out_strides, a.in_strides});
  if (g.numel == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda unary", [&](auto tag) {
    using T = decltype(tag);
    unary_kernel<T><<<grid_for(g.numel, 256), 256, 0, stream>>>(g, a.op, static_cast<T*>(a.out),
                                                             static_cast<const T*>(a.in), a.scalar);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda unary");
}

void binary(const BinaryArgs& a, const Exec& exec) {
  auto g = index_of<3>(a.sizes, {a.out_strides, a.a_strides, a.b_strides});
  if (g.numel == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  HONE_DISPATCH_FLOAT(a.dtype, "cuda binary", [&](auto tag) {
    using T = decltype(tag);
    binary_kernel<T><<<grid_for(g.numel, 256), 256, 0, stream>>>(g, a.op, static_cast<T*>(a.out),
                                                              static_cast<const T*>(a.a), static_cast<const T*>(a.b),
                                                              T(a.alpha));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda binary");
}

}  // namespace hone::kernels::cuda
