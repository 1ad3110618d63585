// hone::vendor::register_kernels: the vendor kernels join hone's registry under
// Backend::Vendor (kernels/vendor/vendor.h says what each maps to and what it refuses).
#include "kernels/registry.h"
#include "kernels/vendor/kernels.h"
#include "kernels/vendor/vendor.h"

namespace hone::vendor {

namespace {

void add_vendor_kernels(kernels::KernelRegistry& r) {
  using namespace hone::kernels::vendor;
  constexpr DeviceType kCuda = DeviceType::CUDA;
  const auto floats = {DType::Float32, DType::Float64};
  r.conv2d_forward.add(kCuda, floats, Backend::Vendor, "cudnn", conv2d_forward);
  r.conv2d_backward.add(kCuda, floats, Backend::Vendor, "cudnn", conv2d_backward);
  r.batch_norm_forward.add(kCuda, floats, Backend::Vendor, "cudnn", batchnorm_forward);
  r.batch_norm_backward.add(kCuda, floats, Backend::Vendor, "cudnn", batchnorm_backward);
  r.avg_pool2d_forward.add(kCuda, floats, Backend::Vendor, "cudnn", avg_pool2d_forward);
  r.avg_pool2d_backward.add(kCuda, floats, Backend::Vendor, "cudnn", avg_pool2d_backward);
  r.adaptive_avg_pool2d_forward.add(kCuda, floats, Backend::Vendor, "cudnn", adaptive_avg_pool2d_forward);
  r.adaptive_avg_pool2d_backward.add(kCuda, floats, Backend::Vendor, "cudnn", adaptive_avg_pool2d_backward);
  r.matmul.add(kCuda, floats, Backend::Vendor, "cublas", matmul);
}

}  // namespace

void register_kernels() { kernels::extend_kernel_registry(&add_vendor_kernels); }

}  // namespace hone::vendor
