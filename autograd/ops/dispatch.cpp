#include "autograd/ops/dispatch.h"

namespace hone::detail {

Device common_device(const char* op, std::initializer_list<const Tensor*> tensors) {
  const Tensor* first = nullptr;
  for (const Tensor* t : tensors) {
    if (!t->defined()) continue;
    if (!first) first = t;
    HONE_CHECK(t->device() == first->device(), op, ": tensors are on different devices (", first->device().str(),
               " and ", t->device().str(), "); move them with .to(device)");
  }
  HONE_CHECK(first, op, ": no tensor given");
  return first->device();
}

Tensor unary_kernel(kernels::UnaryOp op, const Tensor& x, const char* name, double scalar) {
  Tensor out = empty(x.shape(), {.dtype = x.dtype(), .device = x.device()});
  if (x.numel() == 0) return out;
  run_kernel(kernel_registry().unary, name, x.device(), x.dtype(),
             {.op = op, .dtype = x.dtype(), .sizes = x.shape(), .out_strides = out.strides(), .in_strides = x.strides(),
              .out = out.data_ptr(), .in = x.data_ptr(), .scalar = scalar});
  return out;
}

Tensor binary_kernel(kernels::BinaryOp op, const Tensor& a, const Tensor& b, double alpha, const char* name) {
  const Device device = common_device(name, {&a, &b});
  HONE_CHECK(a.dtype() == b.dtype(), name, ": dtypes differ (", dtype_name(a.dtype()), " and ",
             dtype_name(b.dtype()), ")");
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, {.dtype = a.dtype(), .device = device});
  if (out.numel() == 0) return out;
  const Tensor ab = raw::broadcast_view(a, shape), bb = raw::broadcast_view(b, shape);
  run_kernel(kernel_registry().binary, name, device, a.dtype(),
             {.op = op, .dtype = a.dtype(), .sizes = shape, .out_strides = out.strides(), .a_strides = ab.strides(),
              .b_strides = bb.strides(), .out = out.data_ptr(), .a = ab.data_ptr(), .b = bb.data_ptr(), .alpha = alpha});
  return out;
}

void binary_kernel_into(kernels::BinaryOp op, const Tensor& out, const Tensor& b, double alpha, const char* name) {
  if (out.numel() == 0) return;
  run_kernel(kernel_registry().binary, name, out.device(), out.dtype(),
             {.op = op, .dtype = out.dtype(), .sizes = out.shape(), .out_strides = out.strides(),
              .a_strides = out.strides(), .b_strides = raw::broadcast_strides(b, out.shape()), .out = out.data_ptr(),
              .a = out.data_ptr(), .b = b.data_ptr(), .alpha = alpha});
}

}  // namespace hone::detail
