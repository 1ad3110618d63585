// The device switch for elementwise ops: CPU tensors go to kernels/cpu, CUDA tensors to
// kernels/cuda (when built with CUDA), with the same argument structs.
#include "autograd/ops/kernel_call.h"

#include "hone_config.h"
#if HONE_HAS_CUDA
#include "kernels/cuda/elementwise.h"
#endif

namespace hone::detail {

void require_cpu(const char* op, std::initializer_list<const Tensor*> tensors) {
  for (const Tensor* t : tensors)
    HONE_CHECK(!t->defined() || t->device().is_cpu(), op, ": got a tensor on ", t->device().str(),
               "; this op runs on the CPU only for now (its CUDA kernel has not landed yet)");
}

void require_same_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) first = t;
    HONE_CHECK(t->device() == first->device(), op, ": tensors are on different devices (", first->device().str(),
               " and ", t->device().str(), "); move them with .to(device)");
  }
}

Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  Strides st(shape.size(), 0);
  const size_t lead = shape.size() - size_t(x.dim());
  for (size_t d = 0; d < size_t(x.dim()); ++d) st[lead + d] = x.shape()[d] == 1 ? 0 : x.strides()[d];
  return raw::view(x, shape, st, x.offset());
}

Tensor unary_kernel(kernels::UnaryOp op, const Tensor& x, double scalar) {
  Tensor out = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (x.numel() == 0) return out;
  const kernels::UnaryArgs args{.op = op, .dtype = x.dtype(), .sizes = x.shape(), .out_strides = out.strides(),
                                .in_strides = x.strides(), .out = out.data_ptr(), .in = x.data_ptr(), .scalar = scalar,
                                .stream = Context::current().cuda_stream()};
  if (x.device().is_cuda()) {
#if HONE_HAS_CUDA
    kernels::cuda::unary(args);
    return out;
#endif
  }
  kernels::cpu::unary(args);
  return out;
}

Tensor binary_kernel(kernels::BinaryOp op, const Tensor& a, const Tensor& b, double alpha, const char* name) {
  require_same_device(name, {&a, &b});
  HONE_CHECK(a.dtype() == b.dtype(), name, ": dtypes differ (", dtype_name(a.dtype()), " and ",
             dtype_name(b.dtype()), ")");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, {.dtype = a.dtype(), .device = a.device()});
  if (out.numel() == 0) return out;
  Tensor ab = broadcast_to(a, shape), bb = broadcast_to(b, shape);
  const kernels::BinaryArgs args{.op = op, .dtype = a.dtype(), .sizes = shape, .out_strides = out.strides(),
                                 .a_strides = ab.strides(), .b_strides = bb.strides(), .out = out.data_ptr(),
                                 .a = ab.data_ptr(), .b = bb.data_ptr(), .alpha = alpha,
                                 .stream = Context::current().cuda_stream()};
  if (a.device().is_cuda()) {
#if HONE_HAS_CUDA
    kernels::cuda::binary(args);
    return out;
#endif
  }
  kernels::cpu::binary(args);
  return out;
}

}  // namespace hone::detail
