#pragma once
// The window arithmetic of the CUDA pooling kernels, in __host__ __device__ functions that
// tests/pool_indexing_test.cpp checks on the CPU against brute force on every machine. The
// backward kernels gather (one thread per input pixel sums the outputs whose windows reach
// it, in ascending output order, as the CPU kernels scatter) instead of scattering with
// atomics, so they are deterministic and match the CPU bit for bit.
#include <cstdint>

#include "kernels/cuda/host_device.h"

namespace hone::kernels::cuda {

struct Span {
  int64_t begin, end;  // [begin, end)
};

HONE_HOST_DEVICE inline int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// Max pool: the taps start, start+d, ... of output o's window that lie in [0, size): the
// first and one past the last reachable position (step d), as kernels::in_image_taps.
HONE_HOST_DEVICE inline Span max_window(int64_t o, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t size) {
  const int64_t start = o * s - pad;
  const int64_t begin = start < 0 ? start + (-start + d - 1) / d * d : start;
  const int64_t last = start + (k - 1) * d + 1;
  return {begin, last < size ? last : size};
}

// Average pool (undilated): output o's window inside the image, and its length inside the
// padded input (the count_include_pad divisor; ceil_mode windows may pass the padding).
struct AvgWindow {
  int64_t begin, end, padded_len;
};
HONE_HOST_DEVICE inline AvgWindow avg_window(int64_t o, int64_t k, int64_t s, int64_t pad_before, int64_t pad_after,
                                             int64_t size) {
  const int64_t start = o * s - pad_before;
  const int64_t stop = start + k < size + pad_after ? start + k : size + pad_after;
  return {start > 0 ? start : 0, stop < size ? stop : size, stop - start};
}

// The outputs [begin, end) of `out` along one dim whose window (k taps, stride s, dilation
// d, leading pad) can reach input position i: o*s - pad + j*d == i for some j in [0, k).
// Exact for d == 1; for d > 1 a superset (the caller checks the tap, e.g. max pool's index).
HONE_HOST_DEVICE inline Span covering_outputs(int64_t i, int64_t k, int64_t s, int64_t pad, int64_t d, int64_t out) {
  const int64_t lo = -floor_div(-(i + pad - (k - 1) * d), s);  // ceil
  const int64_t hi = floor_div(i + pad, s) + 1;
  return {lo > 0 ? lo : 0, hi < out ? hi : out};
}

// Adaptive average pool: output i of `out` covers [floor(i*in/out), ceil((i+1)*in/out)).
HONE_HOST_DEVICE inline Span adaptive_window(int64_t i, int64_t in, int64_t out) {
  return {i * in / out, ((i + 1) * in + out - 1) / out};
}

}  // namespace hone::kernels::cuda
