// Differentiable copies (contiguous, clone, dtype and device moves) and the in-place
// methods. In-place ops are not differentiable here: they refuse tensors that need grad
// while grad mode is on, and bump the storage version so that any tensor saved for
// backward and modified afterwards is caught when backward unpacks it.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/kernel_call.h"

namespace hone {

namespace {
Tensor identity_node(const Tensor& in, const Tensor& out, const char* op) {
  autograd::record(op, {in}, {out}, {}, [](const auto& g, const auto&, const auto&) { return std::vector<Tensor>{g[0]}; });
  return out;
}

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

Tensor Tensor::contiguous(MemoryFormat format) const {
  if (is_contiguous(format)) return *this;
  return identity_node(*this, raw::contiguous(*this, format), "contiguous");
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), {.dtype = dtype(), .device = device()});
  raw::copy(out, *this);
  return identity_node(*this, out, "clone");
}

Tensor Tensor::to(DType t) const {
  if (t == dtype()) return *this;
  Tensor out = raw::to_dtype(*this, t);
  if (!is_floating(t)) return out;  // integer results carry no gradient
  autograd::record("to", {*this}, {out}, {}, [from = dtype()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].to(from)};
  });
  return out;
}

Tensor Tensor::to(Device d) const {
  if (d == device()) return *this;
  Tensor out = raw::to_device(*this, d);
  autograd::record("to", {*this}, {out}, {}, [from = device()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].to(from)};
  });
  return out;
}

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

Tensor& binary_inplace(Tensor& self, kernels::cpu::BinaryOp op, const Tensor& other, double alpha, const char* name) {
  check_inplace(name, self, &other);
  detail::require_same_device(name, {&self, &other});
  detail::require_cpu(name, {&self, &other});
  Shape b = broadcast_shapes(self.shape(), other.shape(), name);
  HONE_CHECK(b == self.shape(), name, ": operand of shape ", other.shape(), " does not broadcast to the tensor's ",
             self.shape(), " (an in-place result keeps the tensor's shape)");
  HONE_CHECK(is_floating(self.dtype()) || !is_floating(other.dtype()), name, ": cannot write a ",
             dtype_name(other.dtype()), " result into a ", dtype_name(self.dtype()), " tensor in place");
  Tensor o = detail::broadcast_to(raw::to_dtype(other, self.dtype()), self.shape());
  if (self.numel() > 0)
    kernels::cpu::binary({.op = op, .dtype = self.dtype(), .sizes = self.shape(), .out_strides = self.strides(),
                          .a_strides = self.strides(), .b_strides = o.strides(), .out = self.data_ptr(),
                          .a = self.data_ptr(), .b = o.data_ptr(), .alpha = alpha});
  self.storage()->bump_version();
  return self;
}
}  // namespace

Tensor& Tensor::fill_(double value) { return fill_inplace(*this, value, "fill_"); }
Tensor& Tensor::zero_() { return fill_inplace(*this, 0.0, "zero_"); }

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  return binary_inplace(*this, kernels::cpu::BinaryOp::Add, other, alpha, "add_");
}
Tensor& Tensor::add_(double value) { return add_(scalar_like(value, *this)); }
Tensor& Tensor::mul_(const Tensor& other) { return binary_inplace(*this, kernels::cpu::BinaryOp::Mul, other, 1.0, "mul_"); }
Tensor& Tensor::mul_(double value) { return mul_(scalar_like(value, *this)); }

}  // namespace hone
