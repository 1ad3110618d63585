// The GEMM driver (BLIS loop order): for each NC-wide column block of B and KC-deep slice
// of K, pack B into NR-wide panels; for each MC-tall row block of A, pack A into MR-tall
// panels; then run the micro-kernel over every MR x NR tile. Packing makes the kernel's
// loads contiguous and aligned whatever A's and B's strides are (transposes cost nothing).
//
// Threads: C is cut into one block per thread (by rows when M >= N, else by columns), and
// each thread runs the whole loop nest on its block with its own packing buffers. No
// synchronisation, and every C element sees the same k order for any thread count.
#include "kernels/cpu/gemm.h"

#include <cmath>
#include <cstdlib>
#include <memory>
#include <vector>

#include "kernels/cpu/gemm_microkernel.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace gemm_detail {
namespace {
constexpr int kPortableMR = 4, kPortableNR = 16;

void portable(int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, float alpha, float beta) {
  float acc[kPortableMR][kPortableNR] = {};
  for (int64_t p = 0; p < kc; ++p, ap += kPortableMR, bp += kPortableNR)
    for (int i = 0; i < kPortableMR; ++i)
      for (int j = 0; j < kPortableNR; ++j) acc[i][j] += ap[i] * bp[j];
  for (int i = 0; i < kPortableMR; ++i)
    for (int j = 0; j < kPortableNR; ++j)
      c[i * ldc + j] = beta == 0.0f ? alpha * acc[i][j] : std::fma(alpha, acc[i][j], beta * c[i * ldc + j]);
}
}  // namespace

MicroKernel portable_kernel() { return {kPortableMR, kPortableNR, portable}; }

void portable_dot(int64_t m, int64_t j0, int64_t j1, int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb,
                  float* c, int64_t crs, int64_t ccs, float alpha, float beta) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = j0; j < j1; ++j) {
      float lanes[8] = {};  // eight partial sums, so the compiler may vectorise without reassociating
      const float* x = a + i * lda;
      const float* w = b + j * ldb;
      int64_t p = 0;
      for (; p + 8 <= k; p += 8)
        for (int l = 0; l < 8; ++l) lanes[l] += x[p + l] * w[p + l];
      for (int l = 0; p < k; ++p, ++l) lanes[l] += x[p] * w[p];
      float dot = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
      float& out = c[i * crs + j * ccs];
      out = beta == 0.0f ? alpha * dot : std::fma(alpha, dot, beta * out);
    }
}

float* AlignedBuffer::get(size_t n) {
  if (n <= capacity) return data;
  // Free first (these buffers can be large) and record the capacity only once the new
  // allocation succeeded, so that a failure leaves an empty buffer, not a dangling one.
  std::free(data);
  data = nullptr;
  capacity = 0;
  const size_t rounded = n > SIZE_MAX / sizeof(float) - 16 ? 0 : (n + 15) / 16 * 16;
  float* fresh = rounded ? static_cast<float*>(std::aligned_alloc(64, rounded * sizeof(float))) : nullptr;
  HONE_CHECK(fresh != nullptr, "sgemm: out of memory for packing buffers (", n, " floats)");
  data = fresh;
  capacity = rounded;
  return data;
}
AlignedBuffer::~AlignedBuffer() { std::free(data); }
}  // namespace gemm_detail

namespace {

using gemm_detail::AlignedBuffer;
using gemm_detail::MicroKernel;

constexpr int64_t KC = 256;   // depth of a packed slice: a KC x NR panel of B stays in L1
constexpr int64_t MC = 96;    // rows of packed A per block (multiple of every MR): fits L2
constexpr int64_t NC = 2048;  // columns of packed B per slice (multiple of every NR); lives in L3

// B(p0:p0+kc, j0:j0+nc) into panels of NR columns; each k step holds NR values (zero padded).
void pack_b(const GemmArgs& g, int64_t p0, int64_t kc, int64_t j0, int64_t nc, int nr, float* out) {
  for (int64_t jr = 0; jr < nc; jr += nr) {
    const int64_t w = std::min<int64_t>(nr, nc - jr);
    for (int64_t p = 0; p < kc; ++p) {
      const float* src = g.b + (p0 + p) * g.b_row_stride + (j0 + jr) * g.b_col_stride;
      float* dst = out + jr * kc + p * nr;
      if (g.b_col_stride == 1) {
        for (int64_t j = 0; j < w; ++j) dst[j] = src[j];
      } else {
        for (int64_t j = 0; j < w; ++j) dst[j] = src[j * g.b_col_stride];
      }
      for (int64_t j = w; j < nr; ++j) dst[j] = 0.0f;
    }
  }
}

// A(i0:i0+mc, p0:p0+kc) into panels of MR rows; each k step holds MR values (zero padded).
void pack_a(const GemmArgs& g, int64_t i0, int64_t mc, int64_t p0, int64_t kc, int mr, float* out) {
  for (int64_t ir = 0; ir < mc; ir += mr) {
    const int64_t h = std::min<int64_t>(mr, mc - ir);
    float* panel = out + ir * kc;
    if (g.a_row_stride == 1 && h == mr) {  // A's columns contiguous: copy MR-long runs
      for (int64_t p = 0; p < kc; ++p) {
        const float* src = g.a + (i0 + ir) + (p0 + p) * g.a_col_stride;
        for (int64_t i = 0; i < mr; ++i) panel[p * mr + i] = src[i];
      }
      continue;
    }
    for (int64_t i = 0; i < h; ++i) {
      const float* src = g.a + (i0 + ir + i) * g.a_row_stride + p0 * g.a_col_stride;
      if (g.a_col_stride == 1) {
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + i] = src[p];
      } else {
        for (int64_t p = 0; p < kc; ++p) panel[p * mr + i] = src[p * g.a_col_stride];
      }
    }
    for (int64_t i = h; i < mr; ++i)
      for (int64_t p = 0; p < kc; ++p) panel[p * mr + i] = 0.0f;
  }
}

// C = beta * C over a block (k == 0 or alpha == 0: no product to add).
void scale_c(const GemmArgs& g) {
  for (int64_t i = 0; i < g.m; ++i)
    for (int64_t j = 0; j < g.n; ++j) {
      float& c = g.c[i * g.c_row_stride + j * g.c_col_stride];
      c = g.beta == 0.0f ? 0.0f : g.beta * c;
    }
}

// One MR x NR tile: straight into C when whole, else through `tile` with the same
// alpha/beta arithmetic (one fused multiply-add) as the vector store path, so an element's
// value never depends on whether it fell in an edge tile.
inline void run_tile(const GemmArgs& g, const MicroKernel& uk, int64_t kc, const float* ap, const float* bp, float* c,
                     int64_t h, int64_t w, float beta) {
  if (h == uk.mr && w == uk.nr && g.c_col_stride == 1) {
    uk.fn(kc, ap, bp, c, g.c_row_stride, g.alpha, beta);
    return;
  }
  alignas(64) float tile[16 * 64];
  uk.fn(kc, ap, bp, tile, uk.nr, 1.0f, 0.0f);
  for (int64_t i = 0; i < h; ++i)
    for (int64_t j = 0; j < w; ++j) {
      float& out = c[i * g.c_row_stride + j * g.c_col_stride];
      out = beta == 0.0f ? g.alpha * tile[i * uk.nr + j] : std::fma(g.alpha, tile[i * uk.nr + j], beta * out);
    }
}

// Calls fn(t) for t in [0, n): on the pool, or on the caller when there is none.
template <typename F>
void run_tasks(ThreadPool* pool, int64_t n, F&& fn) {
  if (!pool || n <= 1) {
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
  pool->run(n, fn);
}

// The loop nest. For each (NC, KC) slice the threads first pack B together (each a share of
// its NR panels), then each computes its own rows of C (or, when C has too few rows to go
// round, its own NR panels) packing its own A blocks. Every C element is computed by one
// thread, in the same k order whatever the thread count.
void gemm_threaded(const GemmArgs& g, const MicroKernel& uk, ThreadPool* pool, int64_t threads,
                   const float* prepacked_b = nullptr) {
  static thread_local AlignedBuffer b_buf;
  const int mr = uk.mr, nr = uk.nr;
  const int64_t mc_max = MC / mr * mr;
  float* bp = prepacked_b ? nullptr : b_buf.get(size_t(KC * ((NC + nr - 1) / nr * nr)));
  const int64_t row_units = (g.m + mr - 1) / mr;
  const bool split_rows = row_units >= threads;
  for (int64_t jc = 0; jc < g.n; jc += NC) {
    const int64_t nc = std::min(NC, g.n - jc);
    const int64_t panels = (nc + nr - 1) / nr;
    for (int64_t pc = 0; pc < g.k; pc += KC) {
      const int64_t kc = std::min(KC, g.k - pc);
      const float beta = pc == 0 ? g.beta : 1.0f;
      const float* b_slice = bp;
      if (prepacked_b) {  // the caller's layout: slice pc / KC, panels from jc / nr on
        const int64_t padded_n = (g.n + nr - 1) / nr * nr;
        b_slice = prepacked_b + pc * padded_n + (jc / nr) * kc * nr;
      } else {
        const int64_t pack_tasks = std::min(threads, panels);
        run_tasks(pool, pack_tasks, [&](int64_t t) {
          const int64_t p0 = panels * t / pack_tasks, p1 = panels * (t + 1) / pack_tasks;
          pack_b(g, pc, kc, jc + p0 * nr, std::min(nc, p1 * nr) - p0 * nr, nr, bp + p0 * nr * kc);
        });
      }
      const int64_t tasks = std::min(threads, split_rows ? row_units : panels);
      run_tasks(pool, tasks, [&](int64_t t) {
        static thread_local AlignedBuffer a_buf;
        float* ap = a_buf.get(size_t(KC * mc_max));
        int64_t i_begin = 0, i_end = g.m, q0 = 0, q1 = panels;
        if (split_rows) {
          i_begin = std::min(g.m, row_units * t / tasks * mr);
          i_end = std::min(g.m, row_units * (t + 1) / tasks * mr);
        } else {
          q0 = panels * t / tasks;
          q1 = panels * (t + 1) / tasks;
        }
        for (int64_t ic = i_begin; ic < i_end; ic += mc_max) {
          const int64_t mc = std::min(mc_max, i_end - ic);
          pack_a(g, ic, mc, pc, kc, mr, ap);
          for (int64_t q = q0; q < q1; ++q) {
            const int64_t jr = q * nr, w = std::min<int64_t>(nr, nc - jr);
            for (int64_t ir = 0; ir < mc; ir += mr)
              run_tile(g, uk, kc, ap + ir * kc, b_slice + jr * kc, g.c + (ic + ir) * g.c_row_stride + (jc + jr) * g.c_col_stride,
                       std::min<int64_t>(mr, mc - ir), w, beta);
          }
        }
      });
    }
  }
}

MicroKernel kernel_for(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Avx512: return gemm_detail::avx512_kernel();
    case CpuIsa::Avx2: return gemm_detail::avx2_kernel();
    default: return gemm_detail::portable_kernel();
  }
}

}  // namespace

AlignedFloats::AlignedFloats(size_t n)
    : data_(static_cast<float*>(cpu_alloc(std::max<size_t>(n, 16) * sizeof(float)))), n_(std::max<size_t>(n, 16)) {}
AlignedFloats::~AlignedFloats() { cpu_free(data_, n_ * sizeof(float)); }

PackedBLayout packed_b_layout(int64_t k, int64_t n, CpuIsa isa) {
  if (isa == CpuIsa::Auto) isa = best_cpu_isa();
  return {k, n, KC, kernel_for(isa).nr};
}

// The checks and trivial cases every entry point shares. Returns false when there is no
// product to compute (C is already done); otherwise resolves `isa` to a runnable one.
static bool prepare(const GemmArgs& g, CpuIsa& isa) {
  HONE_CHECK(g.m >= 0 && g.n >= 0 && g.k >= 0, "sgemm: negative size m=", g.m, " n=", g.n, " k=", g.k);
  if (g.m == 0 || g.n == 0) return false;
  if (g.k == 0 || g.alpha == 0.0f) {
    scale_c(g);
    return false;
  }
  if (isa == CpuIsa::Auto) isa = best_cpu_isa();
  HONE_CHECK(cpu_isa_supported(isa), "sgemm: this CPU cannot run the ", cpu_isa_name(isa), " micro-kernel");
  return true;
}

// The packed loop nest on the context's threads (one thread for tiny products).
static void run_threaded(const GemmArgs& g, const Exec& exec, CpuIsa isa, const float* packed_b) {
  const double flops = 2.0 * double(g.m) * double(g.n) * double(g.k);
  gemm_threaded(g, kernel_for(isa), exec.pool, flops < 2e6 ? 1 : exec.threads(), packed_b);
}

void sgemm_packed_b(const GemmArgs& g, const float* packed_b, const Exec& exec, CpuIsa isa) {
  HONE_CHECK(reinterpret_cast<uintptr_t>(packed_b) % 64 == 0, "sgemm_packed_b: packed B must be 64-byte aligned");
  if (prepare(g, isa)) run_threaded(g, exec, isa, packed_b);
}

// Few rows of A and B's columns contiguous (x W^T in a linear layer with a small batch):
// packing W would cost as much as the product, and most of each MR-row tile would be
// padding, so take dot products straight from W's rows instead, split over columns.
constexpr int64_t kSkinnyRows = 16;

static void sgemm_skinny(const GemmArgs& g, const Exec& exec, CpuIsa isa) {
  std::vector<float> a_rows;
  const float* a = g.a;
  int64_t lda = g.a_row_stride;
  if (g.a_col_stride != 1) {  // few rows: copy them contiguous
    a_rows.resize(size_t(g.m * g.k));
    for (int64_t i = 0; i < g.m; ++i)
      for (int64_t p = 0; p < g.k; ++p) a_rows[size_t(i * g.k + p)] = g.a[i * g.a_row_stride + p * g.a_col_stride];
    a = a_rows.data();
    lda = g.k;
  }
  const gemm_detail::DotFn dot = isa == CpuIsa::Avx512 ? gemm_detail::avx512_dot : gemm_detail::portable_dot;
  parallel_for(exec, g.n, std::max<int64_t>(2, 65536 / std::max<int64_t>(1, g.k * g.m)) / 2 * 2, [&](int64_t j0, int64_t j1) {
    dot(g.m, j0, j1, g.k, a, lda, g.b, g.b_col_stride, g.c, g.c_row_stride, g.c_col_stride, g.alpha, g.beta);
  });
}

// Few rows of A and B's rows contiguous (dY W in a linear backward at small batch).
static void sgemm_skinny_rows(const GemmArgs& g, const Exec& exec, CpuIsa isa) {
  const gemm_detail::RowsFn rows = isa == CpuIsa::Avx512 ? gemm_detail::avx512_rows : gemm_detail::rows_times_matrix<>;
  parallel_for(exec, (g.n + 511) / 512, 1, [&](int64_t q0, int64_t q1) {
    rows(g.m, q0 * 512, std::min(g.n, q1 * 512), g.k, g.a, g.a_row_stride, g.a_col_stride, g.b, g.b_row_stride, g.c,
         g.c_row_stride, g.c_col_stride, g.alpha, g.beta);
  });
}

void sgemm(const GemmArgs& g, const Exec& exec, CpuIsa isa) {
  if (!prepare(g, isa)) return;
  if (g.m <= kSkinnyRows && g.b_row_stride == 1 && g.k >= 64) return sgemm_skinny(g, exec, isa);
  if (g.m <= kSkinnyRows && g.b_col_stride == 1 && g.n >= 64 && g.k >= 64) return sgemm_skinny_rows(g, exec, isa);
  run_threaded(g, exec, isa, nullptr);
}

}  // namespace hone::kernels::cpu
