// The in-place methods (copy_, fill_, zero_, add_, mul_), which optimizers run. They are
// not differentiable: with grad mode on they refuse tensors that need grad, and each bumps
// the storage version so that a tensor saved for backward and modified afterwards is
// caught when backward unpacks it. add_/mul_ reach their kernel through the dispatch point
// (autograd/ops/dispatch.h), so they run on whatever device the tensor is on.
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"

namespace hone {

namespace {

void check_inplace(const char* op, const Tensor& self, const Tensor* other = nullptr) {
  raw::check_writable(self, op);
  if (!GradMode::is_enabled()) return;
  HONE_CHECK(!self.requires_grad(), op, ": in-place operation on a tensor that requires grad (shape ", self.shape(),
             "); in-place ops are not differentiable: run it under NoGradGuard (as optimizers do) or on a detach()ed "
             "tensor");
  HONE_CHECK(!other || !other->defined() || !other->requires_grad(), op,
             ": the source requires grad but in-place ops are not differentiable; use the out-of-place op, or "
             "detach() the source");
}

}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_", *this, &src);
  raw::copy(*this, src);
  storage()->bump_version();
  return *this;
}

namespace {

Tensor& fill_inplace(Tensor& self, double value, const char* name) {
  check_inplace(name, self);
  raw::fill(self, value);
  self.storage()->bump_version();
  return self;
}

Tensor& binary_inplace(Tensor& self, kernels::BinaryOp op, const Tensor& other, double alpha, const char* name) {
  check_inplace(name, self, &other);
  // Shape and device first, so that a mismatch is reported before any conversion is paid.
  HONE_CHECK(broadcast_shapes(self.shape(), other.shape(), name) == self.shape(), name, ": operand of shape ",
             other.shape(), " does not broadcast to the tensor's ", self.shape(),
             " (an in-place result keeps the tensor's shape)");
  detail::common_device(name, {&self, &other});
  HONE_CHECK(is_floating(self.dtype()) || !is_floating(other.dtype()), name, ": cannot write a ",
             dtype_name(other.dtype()), " result into a ", dtype_name(self.dtype()), " tensor in place");
  detail::binary_kernel_into(op, self, raw::to_dtype(other, self.dtype()), alpha, name);
  self.storage()->bump_version();
  return self;
}

}  // namespace

Tensor& Tensor::fill_(double value) { return fill_inplace(*this, value, "fill_"); }
Tensor& Tensor::zero_() { return fill_inplace(*this, 0.0, "zero_"); }

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return binary_inplace(*this, kernels::BinaryOp::Add, other, alpha, "add_");
}
Tensor& Tensor::add_(double value) { return add_(scalar_like(value, *this)); }
Tensor& Tensor::mul_(const Tensor& other) { return binary_inplace(*this, kernels::BinaryOp::Mul, other, 1.0, "mul_"); }
Tensor& Tensor::mul_(double value) { return mul_(scalar_like(value, *this)); }

}  // namespace hone
