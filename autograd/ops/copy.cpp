// Differentiable copies: contiguous, clone, dtype and device moves (the raw strided copies
// they wrap live in tensor/copy.cpp). The in-place methods are in autograd/ops/inplace.cpp.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/trace.h"

namespace hone {

namespace {
Tensor identity_node(const Tensor& in, const Tensor& out, const char* op) {
  autograd::record(op, {in}, {out}, {}, [](const auto& g, const auto&, const auto&) { return std::vector<Tensor>{g[0]}; });
  HONE_TRACE(op, {in}, {out});
  return out;
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
  HONE_TRACE("to", {*this}, {out}, {{"dtype", t}});
  if (!is_floating(t)) return out;  // integer results carry no gradient
  autograd::record("to", {*this}, {out}, {}, [from = dtype()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].to(from)};
  });
  return out;
}

Tensor Tensor::pin_memory() const {
  HONE_CHECK(device().is_cpu(), "pin_memory: only CPU tensors can be pinned; this one is on ", device().str());
  if (is_pinned()) return *this;
  Tensor out = empty(shape(), {.dtype = dtype(), .device = Device::cpu(), .pin_memory = true});
  raw::copy(out, *this);
  return identity_node(*this, out, "pin_memory");
}

Tensor Tensor::to(Device d, bool non_blocking) const {
  if (d == device()) return *this;
  Tensor out = raw::to_device(*this, d, non_blocking);
  autograd::record("to", {*this}, {out}, {}, [from = device()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].to(from)};
  });
  HONE_TRACE("to", {*this}, {out}, {{"device", d.str()}});
  return out;
}

}  // namespace hone
