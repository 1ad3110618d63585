// Pooling on CUDA over the contract of kernels/pooling.h, first version (issue 13): one
// thread per output in the forward passes, one thread per input pixel in the backward passes
// (a gather over the outputs whose windows reach it, in ascending order, so results match
// the CPU kernels bit for bit with no atomics). The window arithmetic is
// kernels/cuda/pool_indexing.h, checked on the CPU on every machine. Compiled; no GPU has
// run it yet (the op harness runs it where one is present).
#include <cuda_runtime.h>

#include "kernels/cuda/pool_indexing.h"
#include "kernels/cuda/pooling.h"
#include "kernels/cuda/launch.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::cuda {

namespace {

constexpr int kThreads = 256;

template <typename T>
__global__ void max_forward(Pool2dGeometry g, int64_t oh, int64_t ow, const T* x, T* y, int64_t* idx) {
  const int64_t total = g.n * g.c * oh * ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = o / (oh * ow), oy = (o / ow) % oh, ox = o % ow;
    const TapRange ry = in_image_taps(oy * g.stride_h - g.pad_top, g.kh, g.dilation_h, g.h);
    const TapRange rx = in_image_taps(ox * g.stride_w - g.pad_left, g.kw, g.dilation_w, g.w);
    const T* plane = x + p * g.h * g.w;
    // As the CPU kernel (and PyTorch): from -inf at the first in-image tap, a larger value or
    // any NaN takes over; ties keep the first maximum in row-major order.
    T best = -T(INFINITY);
    int64_t best_i = ry.begin * g.w + rx.begin;
    for (int64_t iy = ry.begin; iy < ry.end; iy += g.dilation_h)
      for (int64_t ix = rx.begin; ix < rx.end; ix += g.dilation_w) {
        const T v = plane[iy * g.w + ix];
        if (v > best || v != v) {
          best = v;
          best_i = iy * g.w + ix;
        }
      }
    y[o] = best;
    idx[o] = best_i;
  }
}

template <typename T>
__global__ void max_backward(Pool2dGeometry g, int64_t oh, int64_t ow, const T* dy, const int64_t* idx, T* dx) {
  const int64_t total = g.n * g.c * g.h * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i / (g.h * g.w), iy = (i / g.w) % g.h, ix = i % g.w, here = iy * g.w + ix;
    const Span oys = covering_outputs(iy, g.kh, g.stride_h, g.pad_top, g.dilation_h, oh);
    const Span oxs = covering_outputs(ix, g.kw, g.stride_w, g.pad_left, g.dilation_w, ow);
    T acc = 0;
    for (int64_t oy = oys.begin; oy < oys.end; ++oy)
      for (int64_t ox = oxs.begin; ox < oxs.end; ++ox) {
        const int64_t o = (p * oh + oy) * ow + ox;
        if (idx[o] == here) acc += dy[o];
      }
    dx[i] = acc;
  }
}

template <typename T>
__global__ void avg_forward(Pool2dGeometry g, bool include_pad, int64_t oh, int64_t ow, const T* x, T* y) {
  const int64_t total = g.n * g.c * oh * ow;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = o / (oh * ow), oy = (o / ow) % oh, ox = o % ow;
    const AvgWindow wy = avg_window(oy, g.kh, g.stride_h, g.pad_top, g.pad_bottom, g.h);
    const AvgWindow wx = avg_window(ox, g.kw, g.stride_w, g.pad_left, g.pad_right, g.w);
    if (wy.begin >= wy.end || wx.begin >= wx.end) {  // no pixel in the window: 0, as PyTorch
      y[o] = T(0);
      continue;
    }
    double acc = 0;
    for (int64_t iy = wy.begin; iy < wy.end; ++iy)
      for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc += double(x[(p * g.h + iy) * g.w + ix]);
    const int64_t div = include_pad ? wy.padded_len * wx.padded_len : (wy.end - wy.begin) * (wx.end - wx.begin);
    y[o] = T(acc / double(div));
  }
}

template <typename T>
__global__ void avg_backward(Pool2dGeometry g, bool include_pad, int64_t oh, int64_t ow, const T* dy, T* dx) {
  const int64_t total = g.n * g.c * g.h * g.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i / (g.h * g.w), iy = (i / g.w) % g.h, ix = i % g.w;
    const Span oys = covering_outputs(iy, g.kh, g.stride_h, g.pad_top, 1, oh);
    const Span oxs = covering_outputs(ix, g.kw, g.stride_w, g.pad_left, 1, ow);
    T acc = 0;
    for (int64_t oy = oys.begin; oy < oys.end; ++oy) {
      const AvgWindow wy = avg_window(oy, g.kh, g.stride_h, g.pad_top, g.pad_bottom, g.h);
      if (iy < wy.begin || iy >= wy.end) continue;
      for (int64_t ox = oxs.begin; ox < oxs.end; ++ox) {
        const AvgWindow wx = avg_window(ox, g.kw, g.stride_w, g.pad_left, g.pad_right, g.w);
        if (ix < wx.begin || ix >= wx.end) continue;
        const int64_t div = include_pad ? wy.padded_len * wx.padded_len : (wy.end - wy.begin) * (wx.end - wx.begin);
        acc += T(double(dy[(p * oh + oy) * ow + ox]) / double(div));  // the CPU kernel's share, in its order
      }
    }
    dx[i] = acc;
  }
}

template <typename T>
__global__ void adaptive_forward(AdaptiveAvgPool2dForwardArgs a, const T* x, T* y) {
  const int64_t total = a.n * a.c * a.out_h * a.out_w;
  for (int64_t o = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; o < total; o += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = o / (a.out_h * a.out_w), oy = (o / a.out_w) % a.out_h, ox = o % a.out_w;
    const Span wy = adaptive_window(oy, a.h, a.out_h), wx = adaptive_window(ox, a.w, a.out_w);
    double acc = 0;
    for (int64_t iy = wy.begin; iy < wy.end; ++iy)
      for (int64_t ix = wx.begin; ix < wx.end; ++ix) acc += double(x[(p * a.h + iy) * a.w + ix]);
    y[o] = T(acc / double((wy.end - wy.begin) * (wx.end - wx.begin)));
  }
}

template <typename T>
__global__ void adaptive_backward(AdaptiveAvgPool2dBackwardArgs a, const T* dy, T* dx) {
  const int64_t total = a.n * a.c * a.h * a.w;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t p = i / (a.h * a.w), iy = (i / a.w) % a.h, ix = i % a.w;
    double acc = 0;
    for (int64_t oy = 0; oy < a.out_h; ++oy) {
      const Span wy = adaptive_window(oy, a.h, a.out_h);
      if (iy < wy.begin || iy >= wy.end) continue;
      for (int64_t ox = 0; ox < a.out_w; ++ox) {
        const Span wx = adaptive_window(ox, a.w, a.out_w);
        if (ix < wx.begin || ix >= wx.end) continue;
        acc += double(dy[(p * a.out_h + oy) * a.out_w + ox]) / double((wy.end - wy.begin) * (wx.end - wx.begin));
      }
    }
    dx[i] = T(acc);
  }
}

}  // namespace

void max_pool2d_forward(const MaxPool2dForwardArgs& a, const Exec& exec) {
  const int64_t oh = a.g.out_h(), ow = a.g.out_w(), n = a.g.n * a.g.c * oh * ow;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda max_pool2d", [&](auto tag) {
    using T = decltype(tag);
    max_forward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a.g, oh, ow, static_cast<const T*>(a.input), static_cast<T*>(a.output), a.indices);
  });
  HONE_CUDA_CHECK_LAUNCH("cuda max_pool2d");
}

void max_pool2d_backward(const MaxPool2dBackwardArgs& a, const Exec& exec) {
  const int64_t n = a.g.n * a.g.c * a.g.h * a.g.w;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda max_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    max_backward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a.g, a.g.out_h(), a.g.out_w(), static_cast<const T*>(a.grad_output), a.indices, static_cast<T*>(a.grad_input));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda max_pool2d backward");
}

void avg_pool2d_forward(const AvgPool2dForwardArgs& a, const Exec& exec) {
  const int64_t oh = a.g.out_h(), ow = a.g.out_w(), n = a.g.n * a.g.c * oh * ow;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    avg_forward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a.g, a.count_include_pad, oh, ow, static_cast<const T*>(a.input), static_cast<T*>(a.output));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda avg_pool2d");
}

void avg_pool2d_backward(const AvgPool2dBackwardArgs& a, const Exec& exec) {
  const int64_t n = a.g.n * a.g.c * a.g.h * a.g.w;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda avg_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    avg_backward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a.g, a.count_include_pad, a.g.out_h(), a.g.out_w(), static_cast<const T*>(a.grad_output),
        static_cast<T*>(a.grad_input));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda avg_pool2d backward");
}

void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& a, const Exec& exec) {
  const int64_t n = a.n * a.c * a.out_h * a.out_w;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda adaptive_avg_pool2d", [&](auto tag) {
    using T = decltype(tag);
    adaptive_forward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a, static_cast<const T*>(a.input), static_cast<T*>(a.output));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda adaptive_avg_pool2d");
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& a, const Exec& exec) {
  const int64_t n = a.n * a.c * a.h * a.w;
  if (n == 0) return;
  HONE_DISPATCH_FLOAT(a.dtype, "cuda adaptive_avg_pool2d backward", [&](auto tag) {
    using T = decltype(tag);
    adaptive_backward<T><<<grid_for(n, kThreads), kThreads, 0, static_cast<cudaStream_t>(exec.stream)>>>(
        a, static_cast<const T*>(a.grad_output), static_cast<T*>(a.grad_input));
  });
  HONE_CUDA_CHECK_LAUNCH("cuda adaptive_avg_pool2d backward");
}

}  // namespace hone::kernels::cuda
