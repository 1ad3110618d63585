#pragma once
// Internal to autograd/ops: the one place where an op reaches a kernel. An op validates its
// arguments, allocates its outputs on its inputs' device (common_device), fills the
// family's argument struct and calls run_kernel with the family's table from the kernel
// registry. run_kernel picks the kernel by (device, dtype, the context's backend for that
// op family) and hands it the context's threads (CPU) or stream (CUDA). Nothing here
// records autograd history.
#include <initializer_list>
#include <memory>

#include "kernels/registry.h"
#include "tensor/context.h"
#include "tensor/cuda_runtime.h"
#include "tensor/tensor.h"

namespace hone::detail {

inline const kernels::KernelRegistry& kernel_registry() { return kernels::kernel_registry(); }

// The device every defined tensor is on; a hone::Error naming `op` and both devices when
// they differ (move them with .to(device)). At least one tensor must be defined.
Device common_device(const char* op, std::initializer_list<const Tensor*> tensors);

// Runs the kernel for (device, dtype, the context's backend for the table's family); `op`
// is the user's op, for the error when there is none ("add_", "linear").
template <typename Args>
void run_kernel(const kernels::KernelTable<Args>& table, const char* op, Device device, DType dtype, const Args& args) {
  Context& ctx = Context::current();
  const auto& kernel = table.resolve(device.type, dtype, ctx.backend(table.family()), op);
  kernels::Exec exec;
  exec.allow_tf32 = ctx.allow_tf32();  // CPU kernels ignore it
  std::shared_ptr<ThreadPool> pool;  // held for the call: set_num_threads may retire it meanwhile
  if (device.is_cpu()) {
    pool = ctx.thread_pool();
    exec.pool = pool.get();
    kernel.fn(args, exec);
  } else {
    exec.stream = ctx.cuda_stream();
    CudaDeviceGuard on(device.index);  // kernels launch on the current device: the tensors'
    kernel.fn(args, exec);
  }
}

// Elementwise ops through the registry's unary/binary tables; the output is a new tensor on
// the input's device. binary_kernel: a and b share a dtype and broadcast to a common shape.
Tensor unary_kernel(kernels::UnaryOp op, const Tensor& x, const char* name, double scalar = 0);
Tensor binary_kernel(kernels::BinaryOp op, const Tensor& a, const Tensor& b, double alpha, const char* name);
// out = op(out, b) in place. The caller has checked what the in-place ops and linear's bias
// check anyway: one device, one dtype, and b broadcasts to out's shape.
void binary_kernel_into(kernels::BinaryOp op, const Tensor& out, const Tensor& b, double alpha, const char* name);

// c[i] = a[i] x b[i] for c [B, m, n], a [B, m, k], b [B, k, n]: views with any strides on one
// device and dtype (matmul and linear both land here; autograd/ops/matmul.cpp).
void matmul_into(const char* op, const Tensor& c, const Tensor& a, const Tensor& b);

}  // namespace hone::detail
