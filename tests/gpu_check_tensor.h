#pragma once
// gpu_check's checks of the tensor layer's own CUDA paths (no GoogleTest; run where a GPU
// is lent): the random fills (tensor/random_cuda.cu) against the CPU factories, bitwise for
// uniform; the strided copy kernel (tensor/copy_cuda.cu) behind contiguous(), .to(dtype),
// expand copies and fills; dropout through the public op, mask and gradient bitwise; and a
// non-blocking copy out of pinned memory. Each prints PASS or FAIL; returns the failures.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hone.h"

namespace hone::gpu_check {

inline bool same_bits(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * x.element_size()) == 0;
}

inline int report(bool ok, const std::string& what) {
  std::printf("%s tensor: %s\n", ok ? "PASS" : "FAIL", what.c_str());
  return ok ? 0 : 1;
}

inline int check_random() {
  int failed = 0;
  for (DType t : {DType::Float32, DType::Float64})
    for (int64_t n : {int64_t(1), int64_t(1001), (int64_t(1) << 20) + 3}) {
      const std::string tag = std::string(dtype_name(t)) + " n=" + std::to_string(n);
      for (auto [lo, hi] : {std::pair{0.0, 1.0}, {-3.0, 2.5}, {1.0, 1.0 + 1e-7}}) {
        Generator gc(7), gg(7);
        gc.set_offset(3), gg.set_offset(3);
        const Tensor c = uniform({n}, lo, hi, {.dtype = t, .device = Device::cpu()}, &gc);
        const Tensor g = uniform({n}, lo, hi, {.dtype = t, .device = Device::cuda()}, &gg);
        failed += report(same_bits(c, g) && gc.offset() == gg.offset(),
                         "uniform [" + std::to_string(lo) + "," + std::to_string(hi) + ") " + tag + " bitwise");
      }
      Generator gc(8), gg(8);
      const Tensor c = normal({n}, 0.5, 2, {.dtype = t, .device = Device::cpu()}, &gc).to(DType::Float64);
      const Tensor g = normal({n}, 0.5, 2, {.dtype = t, .device = Device::cuda()}, &gg).to(Device::cpu()).to(DType::Float64);
      const std::vector<double> a = c.to_vector<double>(), b = g.to_vector<double>();
      double worst = 0;
      int64_t differ = 0;
      for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i])), differ += a[i] != b[i];
      std::printf("      normal %s: %lld of %lld elements differ from the CPU's bits, largest difference %.3g\n",
                  tag.c_str(), (long long)differ, (long long)n, worst);
      failed += report(worst <= (t == DType::Float32 ? 1e-5 : 1e-12) && gc.offset() == gg.offset(), "normal " + tag);
    }
  return failed;
}

inline int check_copy() {
  int failed = 0;
  Generator g(9);
  const Tensor host = uniform({37, 53, 3}, -100, 100, {.dtype = DType::Float32, .device = Device::cpu()}, &g);
  const Tensor dev = host.to(Device::cuda());
  auto both = [&](const std::string& what, auto&& f) { failed += report(same_bits(f(host), f(dev)), what); };
  both("permute().contiguous()", [](const Tensor& x) { return x.permute({2, 0, 1}).contiguous(); });
  both("slice(step 3).t-like contiguous()", [](const Tensor& x) { return x.slice(1, 2, 50, 3).transpose(0, 2).contiguous(); });
  both("expand copy", [](const Tensor& x) { return x.narrow(2, 1, 1).expand({37, 53, 9}).contiguous(); });
  both("channels-last", [](const Tensor& x) { return x.reshape({1, 37, 53, 3}).contiguous(MemoryFormat::ChannelsLast); });
  for (DType t : {DType::Float64, DType::Int64, DType::Int32, DType::UInt8, DType::Bool})
    both(std::string("to(") + dtype_name(t) + ") of a transposed view",
         [t](const Tensor& x) { return (t == DType::UInt8 ? abs(x) : x).transpose(0, 1).to(t); });
  both("int64 -> float32 -> float64 round trip", [](const Tensor& x) { return x.to(DType::Int64).to(DType::Float64); });
  both("float16 same-dtype strided copy (raw bits)",
       [](const Tensor& x) { return raw::to_dtype(x.to(Device::cpu()), DType::Float16).to(x.device()).transpose(0, 1).contiguous(); });
  both("fill", [](const Tensor& x) { return full({1001, 3}, -2.75, {.device = x.device()}); });
  return failed;
}

inline int check_dropout() {
  Generator init(10);
  const Tensor x = uniform({4, 4097}, -2, 2, {.device = Device::cpu()}, &init);
  const Tensor xc = x.detach().set_requires_grad(), xg = x.to(Device::cuda()).detach().set_requires_grad();
  Generator g1(11), g2(11);
  const Tensor yc = dropout(xc, 0.3, true, &g1), yg = dropout(xg, 0.3, true, &g2);
  const Tensor w = uniform({4, 4097}, -1, 1, {.device = Device::cpu()}, &init);
  (yc * w).sum().backward();
  (yg * w.to(Device::cuda())).sum().backward();
  return report(same_bits(yc, yg), "dropout op: the CPU's mask and values, bitwise") +
         report(same_bits(xc.grad(), xg.grad()), "dropout op: gradient bitwise");
}

inline int check_pinned() {
  Generator g(12);
  const Tensor x = uniform({1 << 20}, -1, 1, {.device = Device::cpu()}, &g);
  const Tensor p = x.pin_memory();
  Tensor y = p.to(Device::cuda(), /*non_blocking=*/true);
  cuda_synchronize();
  return report(p.is_pinned() && !x.is_pinned() && same_bits(x, p), "pin_memory copies into pinned memory") +
         report(same_bits(x, y), "non_blocking host-to-device copy from pinned memory");
}

inline int check_tensor_kernels() { return check_random() + check_copy() + check_dropout() + check_pinned(); }

}  // namespace hone::gpu_check
