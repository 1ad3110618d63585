// Reductions on CUDA over the contract of kernels/reduce.h, first version (issue 13): one
// thread per output, its inner block summed in the CPU kernels' row-major order (floats in
// double, integers in int64), so results match the CPU bit for bit. Up to 8 outer and 8
// inner dims. Compiled; no GPU has run them yet (the op harness runs them where one is).
#include <cuda_runtime.h>

#include <cmath>

#include "kernels/cuda/reduce.h"
#include "kernels/cuda/launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

constexpr int kThreads = 128;
constexpr int kMaxDims = 8;

// An index space of up to 8 dims with two sets of strides, passed to kernels by value.
struct Dims {
  int rank = 0;
  int64_t size[kMaxDims] = {}, a[kMaxDims] = {}, b[kMaxDims] = {};
  int64_t count() const {
    int64_t n = 1;
    for (int d = 0; d < rank; ++d) n *= size[d];
    return n;
  }
  // Offsets of row-major position `flat` through strides a and b.
  __device__ void offsets(int64_t flat, int64_t& oa, int64_t& ob) const {
    oa = ob = 0;
    for (int d = rank - 1; d >= 0; --d) {
      const int64_t i = flat % size[d];
      flat /= size[d];
      oa += i * a[d];
      ob += i * b[d];
    }
  }
};

Dims dims(const std::vector<int64_t>& size, const std::vector<int64_t>& a, const std::vector<int64_t>& b, const char* op) {
  HONE_CHECK(size.size() <= size_t(kMaxDims), op, ": the CUDA kernel takes at most ", kMaxDims, " dims, got ", size.size());
  Dims d;
  d.rank = int(size.size());
  for (size_t i = 0; i < size.size(); ++i) d.size[i] = size[i], d.a[i] = a[i], d.b[i] = b.empty() ? 0 : b[i];
  return d;
}

template <typename T, typename Acc>
__global__ void sum_kernel(Dims outer, Dims inner, int64_t n_out, int64_t n_in, double scale, const T* in, T* out) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t io, oo;
    outer.offsets(o, io, oo);
    Acc acc = 0;
    for (int64_t i = 0; i < n_in; ++i) {
      int64_t off, unused;
      inner.offsets(i, off, unused);
      acc += Acc(in[io + off]);
    }
    if constexpr (std::is_floating_point_v<T>) out[oo] = T(acc * scale);
    else out[oo] = T(scale == 1.0 ? acc : Acc(llround(double(acc) * scale)));
  }
}

template <typename T>
__global__ void max_kernel(Dims outer, int64_t n_out, int64_t dim_size, int64_t dim_stride, const T* in, T* values,
                           int64_t* indices) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t io, oo;
    outer.offsets(o, io, oo);
    T best = in[io];
    int64_t arg = 0;
    for (int64_t i = 1; i < dim_size; ++i) {  // as the CPU kernel: NaN counts as the maximum
      if (best != best) break;
      const T v = in[io + i * dim_stride];
      if (v > best || v != v) {
        best = v;
        arg = i;
      }
    }
    values[oo] = best;
    indices[oo] = arg;
  }
}

template <typename T>
__global__ void index_add_kernel(Dims outer, int64_t n_out, int64_t dim_size, int64_t dim_stride, const T* src,
                                 const int64_t* idx, T* dst) {
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < n_out; o += int64_t(gridDim.x) * blockDim.x) {
    int64_t so, dof;
    outer.offsets(o, so, dof);
    const int64_t k = idx[so];
    if (k >= 0 && k < dim_size) dst[dof + k * dim_stride] += src[so];  // each o owns its own dst slice
  }
}

}  // namespace

void sum(const ReduceArgs& a, const Exec& exec) {
  const Dims outer = dims(a.outer_sizes, a.outer_in_strides, a.outer_out_strides, "cuda sum");
  const Dims inner = dims(a.inner_sizes, a.inner_in_strides, {}, "cuda sum");
  const int64_t n_out = outer.count(), n_in = inner.count();
  if (n_out == 0) return;
  auto stream = static_cast<cudaStream_t>(exec.stream);
  auto run = [&](auto tag, auto acc) {
    using T = decltype(tag);
    sum_kernel<T, decltype(acc)><<<grid_for(n_out, kThreads), kThreads, 0, stream>>>(
        outer, inner, n_out, n_in, a.scale, static_cast<const T*>(a.in), static_cast<T*>(a.out));
  };
  switch (a.dtype) {
    case DType::Float32: run(float{}, double{}); break;
    case DType::Float64: run(double{}, double{}); break;
    case DType::Int64: run(int64_t{}, int64_t{}); break;
    case DType::Int32: run(int32_t{}, int64_t{}); break;
    default: fail("cuda sum: dtype ", dtype_name(a.dtype), " is not supported (float32, float64, int64, int32 are)");
  }
  HONE_CUDA_CHECK_LAUNCH("cuda sum");
}

void max_dim(const MaxDimArgs& a, const Exec& exec) {
  const Dims outer = dims(a.outer_sizes, a.outer_in_strides, a.outer_out_strides, "cuda max");
  const int64_t n_out = outer.count();
  if (n_out == 0 || a.dim_size == 0) return;
  HONE_DISPATCH_MATH(a.dtype, "cuda max", [&](auto tag) {
    using T = decltype(tag);
    max_kernel<T><<<grid_for(n_out, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        outer, n_out, a.dim_size, a.dim_stride, static_cast<const T*>(a.in), static_cast<T*>(a.values), a.indices);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda max");
}

void index_add_dim(const IndexAddDimArgs& a, const Exec& exec) {
  const Dims outer = dims(a.outer_sizes, a.outer_src_strides, a.outer_dst_strides, "cuda max backward");
  const int64_t n_out = outer.count();
  if (n_out == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda max backward", [&](auto tag) {
    using T = decltype(tag);
    index_add_kernel<T><<<grid_for(n_out, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        outer, n_out, a.dim_size, a.dim_stride, static_cast<const T*>(a.src), a.indices, static_cast<T*>(a.dst));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda max backward");
}

}  // namespace hone::kernels::cuda
