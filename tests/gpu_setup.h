#pragma once
// How gpu_check runs a network or a layer: our kernels or the vendor's (kernels/vendor,
// where registered), exact float32 or TF32. A Setup is applied to the current context for
// a scope and undone after.
#include <string>
#include <vector>

#include "autograd/ops/dispatch.h"
#include "tensor/context.h"

namespace hone::gpu_check {

struct Setup {
  bool vendor = false;  // the vendor backend for every family it has CUDA float32 kernels for
  bool tf32 = false;
  std::string name() const { return std::string(vendor ? "vendor" : "ours") + (tf32 ? " tf32" : " exact fp32"); }
};

// The families a layer or training step uses whose every kernel table has a CUDA float32
// vendor kernel (max pooling has none: its backward contract takes argmax indices).
inline std::vector<std::string> vendor_families() {
  const kernels::KernelRegistry& r = detail::kernel_registry();
  auto has = [](const auto& table) { return table.find(DeviceType::CUDA, DType::Float32, Backend::Vendor) != nullptr; };
  std::vector<std::string> out;
  if (has(r.conv2d_forward) && has(r.conv2d_backward)) out.push_back("conv2d");
  if (has(r.batch_norm_forward) && has(r.batch_norm_backward)) out.push_back("batch_norm");
  if (has(r.avg_pool2d_forward) && has(r.avg_pool2d_backward)) out.push_back("avg_pool2d");
  if (has(r.adaptive_avg_pool2d_forward) && has(r.adaptive_avg_pool2d_backward)) out.push_back("adaptive_avg_pool2d");
  if (has(r.max_pool2d_forward) && has(r.max_pool2d_backward)) out.push_back("max_pool2d");
  if (has(r.matmul)) out.push_back("matmul");
  return out;
}

class SetupGuard {
 public:
  explicit SetupGuard(const Setup& s) : ctx_(Context::current()), tf32_(ctx_.allow_tf32()) {
    ctx_.set_allow_tf32(s.tf32);
    if (s.vendor)
      for (const std::string& f : vendor_families()) {
        saved_.emplace_back(f, ctx_.backend(f));
        ctx_.set_backend(f, Backend::Vendor);
      }
  }
  ~SetupGuard() {
    ctx_.set_allow_tf32(tf32_);
    for (const auto& [f, b] : saved_) ctx_.set_backend(f, b);
  }
  SetupGuard(const SetupGuard&) = delete;
  SetupGuard& operator=(const SetupGuard&) = delete;

 private:
  Context& ctx_;
  bool tf32_;
  std::vector<std::pair<std::string, Backend>> saved_;
};

}  // namespace hone::gpu_check
