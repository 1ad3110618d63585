// CUDA elementwise kernels against the CPU kernels on the same random inputs (strided and
// broadcast operands included). Skips, printing why, where no GPU is usable.
#include "test_util.h"

namespace hone {
namespace {


TEST(CudaElementwise, ReportsWhyItSkipsOrRuns) {
  HONE_REQUIRE_CUDA();
  EXPECT_GE(cuda_device_count(), 1);
}

TEST(CudaElementwise, UnaryOpsMatchCpu) {
  HONE_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator g(7);
    Tensor x = uniform({37, 19}, 0.1, 3.0, {.dtype = dt}, &g);
    Tensor xt = x.t();  // strided input
    for (auto [name, fn] : std::vector<std::pair<const char*, Tensor (*)(const Tensor&)>>{
             {"neg", neg}, {"exp", exp}, {"log", log}, {"sqrt", sqrt}, {"abs", abs},
             {"relu", relu}, {"sigmoid", sigmoid}, {"tanh", tanh}}) {
      SCOPED_TRACE(std::string(name) + " " + dtype_name(dt));
      Tensor cpu = fn(xt);
      Tensor gpu = fn(xt.to(Device::cuda()));
      ASSERT_TRUE(gpu.device().is_cuda());
      test::expect_close(gpu.to(Device::cpu()), cpu, 1e-6, 1e-5);
    }
  }
}

TEST(CudaElementwise, BinaryOpsWithBroadcastMatchCpu) {
  HONE_REQUIRE_CUDA();
  Generator g(11);
  Tensor a = uniform({4, 1, 33}, 0.5, 2.0, {}, &g);
  Tensor b = uniform({5, 33}, 0.5, 2.0, {}, &g);
  Tensor ac = a.to(Device::cuda()), bc = b.to(Device::cuda());
  test::expect_close((ac + bc).to(Device::cpu()), a + b);
  test::expect_close((ac - bc).to(Device::cpu()), a - b);
  test::expect_close((ac * bc).to(Device::cpu()), a * b);
  test::expect_close((ac / bc).to(Device::cpu()), a / b);
  test::expect_close(pow(ac, bc).to(Device::cpu()), pow(a, b), 1e-5, 1e-5);
  test::expect_close(gt(ac, bc).to(Device::cpu()), gt(a, b), 0, 0);
}

TEST(CudaElementwise, ReluBackwardRunsOnDevice) {
  HONE_REQUIRE_CUDA();
  Generator g(3);
  Tensor x = uniform({1000}, -1, 1, {}, &g);
  Tensor xc = x.to(Device::cuda()).detach().set_requires_grad();
  Tensor xh = x.detach().set_requires_grad();
  relu(xc).backward(ones({1000}, {.device = Device::cuda()}));
  relu(xh).backward(ones({1000}));
  test::expect_close(xc.grad().to(Device::cpu()), xh.grad(), 0, 0);
}

}  // namespace
}  // namespace hone
