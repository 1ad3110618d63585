// The packed GEMM against a naive double-precision loop, for every micro-kernel this CPU
// can run: edge tiles, transposed/strided operands, alpha/beta, and thread counts.
#include "kernels/context_exec.h"
#include "kernels/cpu/gemm.h"
#include "test_util.h"

namespace hone {
namespace {

using kernels::cpu::GemmArgs;
using kernels::cpu::CpuIsa;

struct Case {
  int64_t m, n, k;
  bool trans_a, trans_b;
  float alpha, beta;
};

std::vector<float> random_vec(size_t n, uint64_t seed) {
  Generator g(seed);
  return uniform({int64_t(n)}, -1, 1, {}, &g).to_vector<float>();
}

// Runs sgemm on `c` (m x n, row-major with padding ldc = n + 3) and checks it against the
// naive loop. Returns the result for further comparisons.
std::vector<float> run_case(const Case& cs, CpuIsa isa, int threads) {
  const int64_t lda = cs.trans_a ? cs.m + 1 : cs.k + 2, ldb = cs.trans_b ? cs.k + 5 : cs.n + 1, ldc = cs.n + 3;
  std::vector<float> a = random_vec(size_t((cs.trans_a ? cs.k : cs.m) * lda), 1);
  std::vector<float> b = random_vec(size_t((cs.trans_b ? cs.n : cs.k) * ldb), 2);
  std::vector<float> c = random_vec(size_t(cs.m * ldc), 3);
  if (cs.beta == 0.0f) std::fill(c.begin(), c.end(), std::nanf(""));  // must not be read
  std::vector<float> c0 = c;
  GemmArgs g{.m = cs.m, .n = cs.n, .k = cs.k,
             .a = a.data(), .a_row_stride = cs.trans_a ? 1 : lda, .a_col_stride = cs.trans_a ? lda : 1,
             .b = b.data(), .b_row_stride = cs.trans_b ? 1 : ldb, .b_col_stride = cs.trans_b ? ldb : 1,
             .c = c.data(), .c_row_stride = ldc, .c_col_stride = 1, .alpha = cs.alpha, .beta = cs.beta};
  Context ctx;
  ctx.set_num_threads(threads);
  {
    ContextGuard guard(ctx);
    kernels::cpu::sgemm(g, kernels::ContextExec(), isa);
  }
  for (int64_t i = 0; i < cs.m; ++i)
    for (int64_t j = 0; j < cs.n; ++j) {
      double ref = 0;
      for (int64_t p = 0; p < cs.k; ++p)
        ref += double(a[size_t(i * g.a_row_stride + p * g.a_col_stride)]) * double(b[size_t(p * g.b_row_stride + j * g.b_col_stride)]);
      ref *= cs.alpha;
      if (cs.beta != 0.0f) ref += double(cs.beta) * double(c0[size_t(i * ldc + j)]);
      const float got = c[size_t(i * ldc + j)];
      EXPECT_NEAR(got, ref, 1e-5 * (1.0 + double(cs.k))) << "C(" << i << "," << j << ") m=" << cs.m << " n=" << cs.n
                                                          << " k=" << cs.k;
      if (::testing::Test::HasFailure()) return c;
    }
  for (int64_t i = 0; i < cs.m; ++i)  // padding columns untouched
    for (int64_t j = cs.n; j < ldc; ++j) {
      float before = c0[size_t(i * ldc + j)], after = c[size_t(i * ldc + j)];
      EXPECT_TRUE(before == after || (std::isnan(before) && std::isnan(after))) << "wrote outside C at " << i << "," << j;
    }
  return c;
}

std::vector<CpuIsa> isas() {
  std::vector<CpuIsa> out;
  for (CpuIsa i : {CpuIsa::Portable, CpuIsa::Avx2, CpuIsa::Avx512})
    if (kernels::cpu::cpu_isa_supported(i)) out.push_back(i);
  return out;
}

TEST(Gemm, EveryKernelMatchesNaiveLoopOnAwkwardShapes) {
  const std::vector<Case> cases = {
      {1, 1, 1, false, false, 1, 0},      {1, 1000, 512, false, true, 1, 0},  // linear head, batch 1
      {8, 1000, 512, false, true, 1, 0},  {13, 17, 19, false, false, 1, 0},   // nothing divides
      {64, 64, 300, true, false, 1, 0},   // K spans two KC slices
      {200, 70, 33, true, true, 0.5f, 2.0f}, {25, 2100, 9, false, false, 1, 1},  // N spans two NC blocks
      {197, 5, 260, false, false, -1, 0.25f}, {12, 32, 1, false, false, 1, 0},
  };
  for (CpuIsa isa : isas()) {
    SCOPED_TRACE(kernels::cpu::cpu_isa_name(isa));
    for (const Case& c : cases) {
      run_case(c, isa, 2);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(Gemm, ResultsIdenticalForAnyThreadCount) {
  for (CpuIsa isa : isas()) {
    for (Case c : {Case{150, 130, 270, false, false, 1, 0}, Case{7, 333, 129, false, true, 1, 0.5f}}) {
      std::vector<float> r1 = run_case(c, isa, 1), r2 = run_case(c, isa, 2), r3 = run_case(c, isa, 3);
      EXPECT_TRUE(std::equal(r1.begin(), r1.end(), r2.begin(), [](float x, float y) {
        return std::memcmp(&x, &y, 4) == 0;
      })) << kernels::cpu::cpu_isa_name(isa);
      EXPECT_TRUE(std::equal(r1.begin(), r1.end(), r3.begin(), [](float x, float y) {
        return std::memcmp(&x, &y, 4) == 0;
      })) << kernels::cpu::cpu_isa_name(isa);
    }
  }
}

TEST(Gemm, ZeroDepthScalesC) {
  std::vector<float> c = {1, 2, 3, 4};
  GemmArgs g{.m = 2, .n = 2, .k = 0, .a = nullptr, .a_row_stride = 0, .a_col_stride = 1, .b = nullptr,
             .b_row_stride = 0, .b_col_stride = 1, .c = c.data(), .c_row_stride = 2, .c_col_stride = 1,
             .alpha = 1, .beta = 0.5f};
  kernels::cpu::sgemm(g, kernels::ContextExec());
  EXPECT_EQ(c, (std::vector<float>{0.5f, 1, 1.5f, 2}));
}

TEST(Gemm, AutoPicksBestSupportedKernel) {
  CpuIsa best = kernels::cpu::best_cpu_isa();
  EXPECT_TRUE(kernels::cpu::cpu_isa_supported(best));
  if (kernels::cpu::cpu_isa_supported(CpuIsa::Avx512)) EXPECT_EQ(best, CpuIsa::Avx512);
  std::cout << "[ INFO     ] GEMM micro-kernel on this CPU: " << kernels::cpu::cpu_isa_name(best) << "\n";
}

// A failed allocation once left the buffer claiming the capacity it asked for: the next,
// smaller request returned a null pointer.
TEST(Gemm, PackingBufferRecoversFromAFailedAllocation) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "a sanitizer's allocator aborts on an impossible allocation instead of returning null";
#endif
  kernels::cpu::gemm_detail::AlignedBuffer buf;
  ASSERT_NE(buf.get(100), nullptr);
  test::expect_error([&] { buf.get(SIZE_MAX / 8); }, {"sgemm", "out of memory"});
  float* p = buf.get(1000);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 64, 0u);
  EXPECT_GE(buf.capacity, 1000u);
  for (int i = 0; i < 1000; ++i) p[i] = float(i);  // all of it is ours
  EXPECT_EQ(p[999], 999.0f);
  EXPECT_EQ(buf.get(10), p);  // smaller requests reuse it
}

}  // namespace
}  // namespace hone
