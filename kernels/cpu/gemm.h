#pragma once
// Single-precision GEMM written here (no BLAS in libhone): C = alpha * A B + beta * C.
// BLIS-style: B is packed into KC x NR panels, A into MR x KC panels, and a register-
// blocked micro-kernel computes one MR x NR tile of C. The micro-kernel is chosen at run
// time from the CPU's features (AVX-512, AVX2+FMA, or portable C++); tests run every path.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "kernels/cpu/isa.h"
#include "kernels/exec.h"

namespace hone::kernels::cpu {

struct GemmArgs {
  int64_t m, n, k;
  const float* a;
  int64_t a_row_stride, a_col_stride;  // A(i,p) = a[i * a_row_stride + p * a_col_stride]
  const float* b;
  int64_t b_row_stride, b_col_stride;  // B(p,j)
  float* c;
  int64_t c_row_stride, c_col_stride;  // C(i,j)
  float alpha = 1.0f;
  float beta = 0.0f;  // 0: C is written without being read (it may hold garbage)
};

// Runs on exec's threads. Each element of C is computed by one thread in a fixed k order,
// so results do not depend on the thread count.
void sgemm(const GemmArgs& args, const Exec& exec, CpuIsa isa = CpuIsa::Auto);

// For callers that produce B themselves (conv's im2col writes its columns straight into
// it, saving a pass over memory): B [k, n] laid out as the driver packs it. K is cut into
// slices of `kc` rows; within a slice, columns come in panels of `nr` (the last one zero
// padded), each panel holding the slice's rows one after another.
struct PackedBLayout {
  int64_t k, n, kc, nr;
  int64_t padded_n() const { return (n + nr - 1) / nr * nr; }
  size_t size() const { return size_t(k * padded_n()); }  // floats
  int64_t offset(int64_t p, int64_t j) const {
    const int64_t slice = p / kc, depth = std::min(kc, k - slice * kc);
    return slice * kc * padded_n() + (j / nr) * depth * nr + (p - slice * kc) * nr + j % nr;
  }
};
PackedBLayout packed_b_layout(int64_t k, int64_t n, CpuIsa isa = CpuIsa::Auto);

// A 64-byte aligned float buffer (from cpu_alloc, so large ones are reused from call to
// call): packed panels are read with aligned vector loads. Contents start undefined.
class AlignedFloats {
 public:
  explicit AlignedFloats(size_t n);
  ~AlignedFloats();
  AlignedFloats(const AlignedFloats&) = delete;
  AlignedFloats& operator=(const AlignedFloats&) = delete;
  float* data() const { return data_; }
  size_t size() const { return n_; }  // floats (at least the n asked for)

 private:
  float* data_;
  size_t n_;
};

namespace gemm_detail {
// Internal (declared here for its test): a per-thread scratch buffer for packed panels,
// 64-byte aligned, grown on demand and kept for the next call. Contents start undefined.
struct AlignedBuffer {
  float* data = nullptr;
  size_t capacity = 0;  // floats
  float* get(size_t n);  // room for n floats; throws hone::Error when out of memory
  AlignedBuffer() = default;
  AlignedBuffer(const AlignedBuffer&) = delete;
  AlignedBuffer& operator=(const AlignedBuffer&) = delete;
  ~AlignedBuffer();
};
}  // namespace gemm_detail

// sgemm with B given in packed form (args.b and its strides are ignored), 64-byte
// aligned. `isa` must be the one the layout was made for.
void sgemm_packed_b(const GemmArgs& args, const float* packed_b, const Exec& exec, CpuIsa isa = CpuIsa::Auto);


}  // namespace hone::kernels::cpu
