#pragma once
// The window arithmetic the CUDA pooling backward passes add to the contract's
// (kernels/pooling.h: in_image_taps, avg_window, floor_div), in __host__ __device__
// functions that tests/pool_indexing_test.cpp checks on the CPU against brute force on every
// machine. The backward kernels gather (one thread per input pixel sums the outputs whose
// windows reach it, in ascending output order, as the CPU kernels scatter) instead of
// scattering with atomics, so they are deterministic and match the CPU bit for bit.
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/pooling.h"

namespace hone::kernels::cuda {

struct Span {
  int64_t begin, end;  // [begin, end)
};

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
