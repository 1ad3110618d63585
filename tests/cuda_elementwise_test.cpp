// CUDA elementwise kernels against the CPU kernels on the same random inputs (strided and
// broadcast operands included). Skips, printing why, where no GPU is usable.
#include <cstdio>

#include "test_util.h"

namespace hone {
namespace {


// Runs on every machine. Without a usable GPU, asking for one is a clear hone::Error (never a
// crash) whose message says why; with one, a tensor makes the round trip bit for bit.
TEST(CudaElementwise, NoDeviceIsAClearErrorAndADeviceRoundTrips) {
  Generator g(5);
  const Tensor x = uniform({3, 129}, -1, 1, {}, &g);
  if (!cuda_built() || cuda_device_count() == 0) {
    const std::string why = !cuda_built() ? "built without CUDA" : "no CUDA device";
    std::printf("no usable GPU (%s): checking that CUDA requests fail cleanly\n", why.c_str());
    try {
      (void)x.to(Device::cuda());
      FAIL() << "copying to cuda:0 without a device succeeded";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_TRUE(msg.find("CUDA") != std::string::npos || msg.find("cuda") != std::string::npos) << msg;
      EXPECT_TRUE(msg.find(!cuda_built() ? "without CUDA" : "no CUDA device") != std::string::npos) << msg;
    }
    return;
  }
  std::printf("%d CUDA device(s)\n", cuda_device_count());
  const Tensor back = x.to(Device::cuda()).to(Device::cpu());
  test::expect_close(back, x, 0, 0);
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
