// The op harness over every case of tests/op_cases.h: every registered kernel and every CPU
// lowering against the reference (float32 and float64, outputs starting as NaN), the same
// bits for 1, 2 and 3 threads, and a float64 gradcheck of the public op. The comparison
// rule is at the top of tests/op_harness.h.
#include <cctype>
#include <cstdlib>
#include <iostream>
#include <set>

#include "kernels/context_exec.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/registry.h"
#include "op_cases.h"
#include "test_util.h"

namespace hone {
namespace {

using harness::op_cases;
using harness::OpCase;

class OpHarness : public ::testing::TestWithParam<size_t> {
 protected:
  const OpCase& op() const { return op_cases()[GetParam()]; }
};

std::vector<harness::Problem::Output> run_once(harness::Prepared& p, const kernels::Exec& exec) {
  p.problem->reset();
  p.run(exec);
  return p.problem->outputs();
}

TEST_P(OpHarness, KernelsMatchReference) {
  const OpCase& c = op();
  int ran = 0;
  for (DType t : c.dtypes) {
    harness::Prepared ref = c.reference(t);
    const auto expected = run_once(ref, {});
    for (const harness::Variant& v : c.variants(t)) {
      if (!v.skip.empty()) {
        std::cout << "[ skipped  ] " << c.name << ": " << v.label << ": " << v.skip << "\n";
        continue;
      }
      harness::Prepared p = v.prepare();
      const auto got = run_once(p, kernels::ContextExec());
      const double tol = harness::tolerance_for(c, v);
      const harness::Comparison cmp = harness::compare_outputs(got, expected, tol);
      EXPECT_TRUE(cmp.failures.empty()) << c.name << ", " << v.label << ":\n" << cmp.failures;
      if (std::getenv("HONE_HARNESS_VERBOSE"))
        std::cout << "[ error    ] " << c.name << " | " << v.label << ": " << cmp.error << " (tolerance " << tol << ")\n";
      ++ran;
    }
  }
  EXPECT_GT(ran, 0) << c.name << ": no kernel registered in " << c.table << " for its dtypes";
}

TEST_P(OpHarness, BitIdenticalAcrossThreadCounts) {
  const OpCase& c = op();
  ThreadPool one(1), two(2), three(3);
  for (DType t : c.dtypes)
    for (const harness::Variant& v : c.variants(t)) {
      if (v.device != DeviceType::CPU) continue;  // threads are the CPU's; a GPU kernel has its own test
      harness::Prepared p = v.prepare();
      const auto base = run_once(p, {.pool = &one});
      for (ThreadPool* pool : {&two, &three}) {
        const std::string diff = harness::compare_bits(run_once(p, {.pool = pool}), base);
        EXPECT_TRUE(diff.empty()) << c.name << ", " << v.label << ": " << pool->size() << " threads vs 1: " << diff;
      }
    }
}

TEST_P(OpHarness, GradcheckFloat64) {
  const OpCase& c = op();
  if (!c.gradcheck) GTEST_SKIP() << c.name << " is not differentiable";
  const GradcheckResult r = c.gradcheck();
  EXPECT_TRUE(r.passed) << c.name << ":\n" << r.report;
}

std::string case_test_name(const ::testing::TestParamInfo<size_t>& info) {
  std::string out;
  for (char ch : op_cases()[info.param].name) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

INSTANTIATE_TEST_SUITE_P(Cases, OpHarness, ::testing::Range<size_t>(0, op_cases().size()), case_test_name);

// Every kernel table of the registry has at least one case, so a new family cannot join
// without one. The size check catches a table added to KernelRegistry but not listed here.
TEST(OpHarnessCoverage, EveryRegistryTableHasACase) {
  const kernels::KernelRegistry& r = kernels::kernel_registry();
  const std::vector<std::string> tables{
      r.unary.name(), r.binary.name(), r.matmul.name(), r.conv2d_forward.name(), r.conv2d_backward.name(),
      r.batch_norm_forward.name(), r.batch_norm_backward.name(), r.max_pool2d_forward.name(),
      r.max_pool2d_backward.name(), r.avg_pool2d_forward.name(), r.avg_pool2d_backward.name(),
      r.adaptive_avg_pool2d_forward.name(), r.adaptive_avg_pool2d_backward.name(), r.softmax_forward.name(),
      r.softmax_backward.name(), r.cross_entropy_forward.name(), r.cross_entropy_backward.name(), r.sum.name(),
      r.max_dim.name(), r.index_add_dim.name(), r.dropout_forward.name(), r.dropout_backward.name(),
      r.sgd_update.name(), r.adam_update.name(), r.sum_of_squares.name(), r.clip_scale.name()};
  EXPECT_EQ(sizeof(kernels::KernelRegistry), tables.size() * sizeof(kernels::KernelTable<kernels::UnaryArgs>))
      << "KernelRegistry has a table this list lacks: list it, and add its cases to tests/op_cases.h";
  for (const std::string& t : tables) {
    bool found = false;
    for (const OpCase& c : op_cases()) found = found || c.table == t;
    EXPECT_TRUE(found) << "kernel table '" << t << "' has no case in tests/op_cases.h";
  }
}

// Case names are test names: they must be unique.
TEST(OpHarnessCoverage, CaseNamesAreUnique) {
  std::set<std::string> names;
  for (const OpCase& c : op_cases()) EXPECT_TRUE(names.insert(c.name).second) << "two cases named " << c.name;
}

// The harness itself: kernels that are wrong in each way it looks for must fail it.
void skips_last(const kernels::UnaryArgs& a, const kernels::Exec& x) {  // leaves the last element unwritten
  kernels::UnaryArgs b = a;
  b.sizes.back() -= 1;
  kernels::cpu::unary(b, x);
}
void off_by_1e4(const kernels::UnaryArgs& a, const kernels::Exec& x) {
  kernels::cpu::unary(a, x);
  if (a.dtype == DType::Float32) static_cast<float*>(a.out)[0] += 1e-4f;
  else static_cast<double*>(a.out)[0] += 1e-4;
}
void thread_dependent(const kernels::UnaryArgs& a, const kernels::Exec& x) {
  kernels::cpu::unary(a, x);
  if (a.dtype == DType::Float32) static_cast<float*>(a.out)[0] += 1e-7f * float(x.threads());
  else static_cast<double*>(a.out)[0] += 1e-15 * x.threads();
}

TEST(OpHarnessSelfTest, FindsUnwrittenWrongAndThreadDependentOutputs) {
  static kernels::KernelTable<kernels::UnaryArgs> table("unary", "forward");
  if (table.entries().empty()) {
    table.add(DeviceType::CPU, {DType::Float32}, Backend::Native, "skips_last", skips_last);
    table.add(DeviceType::CPU, {DType::Float32}, Backend::Vendor, "off_by_1e4", off_by_1e4);
    table.add(DeviceType::CPU, {DType::Float64}, Backend::Native, "thread_dependent", thread_dependent);
  }
  harness::Spec<kernels::UnaryArgs> s;
  s.name = "self test";
  s.table = &table;
  s.build = [](harness::Problem& p) {
    kernels::UnaryArgs a{.op = kernels::UnaryOp::Exp, .dtype = p.dtype(), .sizes = {4, 5}, .out_strides = {5, 1},
                         .in_strides = {5, 1}, .out = nullptr, .in = p.random(20)};
    a.out = p.output("out", 20);
    return a;
  };
  s.reference = [](const kernels::UnaryArgs& a) {
    for (int i = 0; i < 20; ++i) static_cast<double*>(a.out)[i] = std::exp(static_cast<const double*>(a.in)[i]);
  };
  const OpCase bad = harness::make_case(std::move(s));
  for (DType t : {DType::Float32, DType::Float64}) {
    harness::Prepared ref = bad.reference(t);
    const auto expected = run_once(ref, {});
    for (const harness::Variant& v : bad.variants(t)) {
      harness::Prepared p = v.prepare();
      ThreadPool one(1), two(2);
      const auto got1 = run_once(p, {.pool = &one});
      const std::string diff = harness::compare_outputs(got1, expected, bad.tol(t)).failures;
      const std::string bits = harness::compare_bits(run_once(p, {.pool = &two}), got1);
      if (v.label.find("skips_last") != std::string::npos) EXPECT_NE(diff.find("NaN"), std::string::npos) << diff;
      if (v.label.find("off_by_1e4") != std::string::npos) EXPECT_NE(diff.find("tolerance"), std::string::npos) << diff;
      if (v.label.find("thread_dependent") != std::string::npos) EXPECT_FALSE(bits.empty());
      else EXPECT_TRUE(bits.empty()) << v.label;
    }
  }
}

}  // namespace
}  // namespace hone
