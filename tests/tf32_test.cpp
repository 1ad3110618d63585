// TF32 on CUDA (issue 13): the rounding the tensor-core GEMM path applies to its operands
// (kernels/cuda/tf32.h), the context switch that reaches the kernels, and the evidence for
// the TF32 tolerance of the op harness: the reference on TF32-rounded operands stays within
// it on every matrix-product case, and needs it (float32's tolerance would fail).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>

#include "autograd/ops/dispatch.h"
#include "kernels/cuda/tf32.h"
#include "op_cases.h"
#include "test_util.h"

namespace hone {
namespace {

using kernels::cuda::round_to_tf32;

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

TEST(Tf32, RoundsToNearestTiesAwayFromZeroKeepingTenMantissaBits) {
  const float ulp = std::ldexp(1.0f, -10);  // of TF32 at 1
  EXPECT_EQ(round_to_tf32(1.0f), 1.0f);
  EXPECT_EQ(round_to_tf32(1.0f + ulp), 1.0f + ulp);
  EXPECT_EQ(round_to_tf32(1.0f + ulp / 4), 1.0f);             // below half: down
  EXPECT_EQ(round_to_tf32(1.0f + ulp / 2), 1.0f + ulp);       // a tie: away from zero
  EXPECT_EQ(round_to_tf32(-1.0f - ulp / 2), -1.0f - ulp);
  EXPECT_EQ(round_to_tf32(1.0f + 3 * ulp / 4), 1.0f + ulp);   // above half: up
  EXPECT_EQ(round_to_tf32(2.0f - ulp / 2), 2.0f);             // the carry moves into the exponent
  EXPECT_EQ(round_to_tf32(0.0f), 0.0f);
  EXPECT_TRUE(std::isinf(round_to_tf32(INFINITY)));
  EXPECT_TRUE(std::isnan(round_to_tf32(NAN)));
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1e3f, 1e3f);
  for (int i = 0; i < 10000; ++i) {
    const float x = u(rng), r = round_to_tf32(x);
    EXPECT_EQ(bits(r) & 0x1fffu, 0u) << x;                          // the 13 dropped bits are zero
    EXPECT_LE(std::abs(r - x), std::ldexp(std::abs(x), -11)) << x;  // within half a TF32 unit
    EXPECT_EQ(round_to_tf32(r), r) << x;
  }
}

TEST(Tf32, TheContextSwitchReachesTheKernelsExec) {
  static bool seen = true;
  kernels::KernelTable<int> table("example", "forward");
  table.add(DeviceType::CPU, {DType::Float32}, Backend::Native, "cpu",
            [](const int&, const kernels::Exec& x) { seen = x.allow_tf32; });
  Context ctx;
  ContextGuard on(ctx);
  EXPECT_FALSE(ctx.allow_tf32());  // exact float32 unless asked
  detail::run_kernel(table, "example", Device::cpu(), DType::Float32, 0);
  EXPECT_FALSE(seen);
  ctx.set_allow_tf32(true);
  detail::run_kernel(table, "example", Device::cpu(), DType::Float32, 0);
  EXPECT_TRUE(seen);
}

// Every matrix-product case has a TF32 twin for each CUDA float32 kernel and a CPU emulation;
// the emulation passes the TF32 tolerance (tests/op_harness_test.cpp checks that for every
// case) but not float32's: the rounding happened, and the looser bound is needed.
TEST(Tf32, EmulatedProductsNeedAndMeetTheTf32Tolerance) {
  int products = 0;
  for (const harness::OpCase& c : harness::op_cases()) {
    if (c.table != "matmul forward" && c.table.rfind("conv2d", 0) != 0) continue;
    ++products;
    harness::Prepared ref = c.reference(DType::Float32);
    ref.problem->reset();
    ref.run({});
    const auto expected = ref.problem->outputs();
    int emulated = 0, tf32_cuda = 0;
    for (const harness::Variant& v : c.variants(DType::Float32)) {
      tf32_cuda += v.device == DeviceType::CUDA && v.label.find("tf32") != std::string::npos;
      if (v.label != "tf32-emulated float32") continue;
      ++emulated;
      harness::Prepared p = v.prepare();
      p.problem->reset();
      p.run({});
      const harness::Comparison cmp = harness::compare_outputs(p.problem->outputs(), expected, v.tol);
      EXPECT_TRUE(cmp.failures.empty()) << c.name << ":\n" << cmp.failures;
      EXPECT_GT(cmp.error, c.tol(DType::Float32)) << c.name << ": no worse than float32, so nothing was rounded";
      EXPECT_LT(cmp.error, v.tol / 2) << c.name << ": closer to the bound than every case measured so far";
    }
    EXPECT_EQ(emulated, 1) << c.name;
    if (cuda_built()) EXPECT_EQ(tf32_cuda, 1) << c.name;
  }
  EXPECT_GT(products, 0);
}

}  // namespace
}  // namespace hone
