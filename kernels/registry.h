#pragma once
// The kernel registry: for every op family, which kernels exist, keyed by (device, dtype,
// backend). The op layer reaches every kernel through it (autograd/ops/dispatch.h), so the
// choice of kernel is made in one place: the tensors' device and dtype, and the backend the
// context asks for that op (tensor/context.h). A kernel joins by one line in its device's
// registration function (kernels/cpu/register.cpp, kernels/cuda/register.cu); the op
// harness (tests/op_harness_test.cpp) runs every registered kernel against the reference.
// The family names are the ones Context::set_backend accepts (kOpFamilies in
// tensor/context.cpp; a test keeps the two lists equal).
#include <initializer_list>
#include <string>
#include <vector>

#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/exec.h"
#include "kernels/matmul.h"
#include "kernels/optim.h"
#include "kernels/pooling.h"
#include "kernels/reduce.h"
#include "kernels/softmax.h"
#include "tensor/device.h"
#include "tensor/dtype.h"

namespace hone::kernels {

// The kernels of one op family in one direction ("conv2d" forward), e.g.
// KernelTable<Conv2dForwardArgs>. Every kernel has the signature fn(args, exec).
template <typename Args>
class KernelTable {
 public:
  using Fn = void (*)(const Args&, const Exec&);
  struct Entry {
    DeviceType device;
    DType dtype;
    Backend backend;   // Native or Vendor
    const char* impl;  // what it is, for messages and the harness: "cpu", "cuda", "cudnn"
    Fn fn;
  };

  // `family` is the name the context's per-op backend uses ("conv2d"); `direction` tells
  // the tables of one family apart in messages ("forward", "backward").
  KernelTable(const char* family, const char* direction) : family_(family), direction_(direction) {}

  void add(DeviceType device, std::initializer_list<DType> dtypes, Backend backend, const char* impl, Fn fn) {
    HONE_CHECK(backend != Backend::Auto, name(), ": a kernel is Native or Vendor, not Auto");
    for (DType t : dtypes) {
      HONE_CHECK(!find(device, t, backend), name(), ": a ", backend_name(backend), " kernel for ",
                 device_type_name(device), " ", dtype_name(t), " is already registered");
      entries_.push_back({device, t, backend, impl, fn});
    }
  }

  // The kernel for exactly this key, or nullptr.
  const Entry* find(DeviceType device, DType dtype, Backend backend) const {
    for (const Entry& e : entries_)
      if (e.device == device && e.dtype == dtype && e.backend == backend) return &e;
    return nullptr;
  }

  // The kernel to run: for Auto ours where it exists, else the vendor's. Throws naming `op`
  // (the user's op: "add_", "linear"), the table, the key and what is registered when there
  // is none: never a silent fallback.
  const Entry& resolve(DeviceType device, DType dtype, Backend requested, const char* op) const {
    const Entry* e = requested == Backend::Auto ? find(device, dtype, Backend::Native) : find(device, dtype, requested);
    if (!e && requested == Backend::Auto) e = find(device, dtype, Backend::Vendor);
    if (e) return *e;
    fail(op, ": no ", requested == Backend::Auto ? "" : backend_name(requested), requested == Backend::Auto ? "" : " ",
         "kernel for ", device_type_name(device), " ", dtype_name(dtype), " (", name(), " kernels: ", registered(), ")",
         requested == Backend::Auto ? "" : "; the context's backend for this op can be set back to Auto",
         requested == Backend::Vendor && !has_backend(Backend::Vendor) ? kVendorHint : "");
  }

  bool has_backend(Backend b) const {
    for (const Entry& e : entries_)
      if (e.backend == b) return true;
    return false;
  }

  // Why a table may have no vendor kernel at all: they live outside libhone, and some
  // families have none (kernels/vendor/vendor.h lists them).
  static constexpr const char* kVendorHint =
      "; the vendor kernels (cuDNN, cuBLAS) are in the library hone_vendor: link it and call "
      "hone::vendor::register_kernels() once at start-up (kernels/vendor/vendor.h lists the op families it covers)";

  // What is registered, one group per (backend, device): "native cpu float32, float64".
  std::string registered() const {
    std::string out;
    for (size_t i = 0; i < entries_.size(); ++i) {
      const Entry& e = entries_[i];
      const bool same_group = i > 0 && entries_[i - 1].backend == e.backend && entries_[i - 1].device == e.device;
      out += same_group ? ", " : std::string(i ? "; " : "") + backend_name(e.backend) + " " + device_type_name(e.device) + " ";
      out += dtype_name(e.dtype);
    }
    return out.empty() ? "none" : out;
  }

  const char* family() const { return family_; }
  std::string name() const { return std::string(family_) + " " + direction_; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  const char* family_;
  const char* direction_;
  std::vector<Entry> entries_;
};

// Every op family's tables. The family names are what Context::set_backend takes.
struct KernelRegistry {
  KernelTable<UnaryArgs> unary{"unary", "forward"};
  KernelTable<BinaryArgs> binary{"binary", "forward"};
  KernelTable<MatmulArgs> matmul{"matmul", "forward"};
  KernelTable<Conv2dForwardArgs> conv2d_forward{"conv2d", "forward"};
  KernelTable<Conv2dBackwardArgs> conv2d_backward{"conv2d", "backward"};
  KernelTable<BatchNormForwardArgs> batch_norm_forward{"batch_norm", "forward"};
  KernelTable<BatchNormBackwardArgs> batch_norm_backward{"batch_norm", "backward"};
  KernelTable<MaxPool2dForwardArgs> max_pool2d_forward{"max_pool2d", "forward"};
  KernelTable<MaxPool2dBackwardArgs> max_pool2d_backward{"max_pool2d", "backward"};
  KernelTable<AvgPool2dForwardArgs> avg_pool2d_forward{"avg_pool2d", "forward"};
  KernelTable<AvgPool2dBackwardArgs> avg_pool2d_backward{"avg_pool2d", "backward"};
  KernelTable<AdaptiveAvgPool2dForwardArgs> adaptive_avg_pool2d_forward{"adaptive_avg_pool2d", "forward"};
  KernelTable<AdaptiveAvgPool2dBackwardArgs> adaptive_avg_pool2d_backward{"adaptive_avg_pool2d", "backward"};
  KernelTable<SoftmaxForwardArgs> softmax_forward{"softmax", "forward"};
  KernelTable<SoftmaxBackwardArgs> softmax_backward{"softmax", "backward"};
  KernelTable<CrossEntropyArgs> cross_entropy_forward{"cross_entropy", "forward"};
  KernelTable<CrossEntropyBackwardArgs> cross_entropy_backward{"cross_entropy", "backward"};
  KernelTable<ReduceArgs> sum{"sum", "forward"};
  KernelTable<MaxDimArgs> max_dim{"max", "forward"};
  KernelTable<IndexAddDimArgs> index_add_dim{"max", "backward"};
  KernelTable<DropoutForwardArgs> dropout_forward{"dropout", "forward"};
  KernelTable<DropoutBackwardArgs> dropout_backward{"dropout", "backward"};
  KernelTable<SgdUpdateArgs> sgd_update{"optimizer", "sgd"};
  KernelTable<AdamUpdateArgs> adam_update{"optimizer", "adam"};
  KernelTable<SumOfSquaresArgs> sum_of_squares{"clip_grad_norm", "sum_of_squares"};
  KernelTable<ClipScaleArgs> clip_scale{"clip_grad_norm", "scale"};
};

// The process's registry: the CPU kernels, and the CUDA ones in a CUDA build, registered
// on first use; afterwards only extend_kernel_registry adds to it (lookups take no lock).
const KernelRegistry& kernel_registry();

// Adds the kernels `add` registers to the process's registry, once per `add` (a second call
// with the same function does nothing). For libraries outside libhone (hone_vendor's
// hone::vendor::register_kernels): an explicit call, since a static initialiser in a static
// library is dropped by the linker. Call it at start-up, before threads run ops: lookups
// take no lock.
void extend_kernel_registry(void (*add)(KernelRegistry&));

namespace cpu {
void register_kernels(KernelRegistry& registry);  // kernels/cpu/register.cpp
}
namespace cuda {
void register_kernels(KernelRegistry& registry);  // kernels/cuda/register.cu
}

}  // namespace hone::kernels
