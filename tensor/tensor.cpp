#include "tensor/tensor.h"

#include <cstring>

#include "tensor/cuda_runtime.h"

namespace hone {

int64_t Tensor::size(int64_t d) const {
  HONE_CHECK(dim() > 0, "Tensor::size: dim ", d, " asked of a 0-d tensor (it has no dims)");
  return shape()[size_t(wrap_dim(d, dim(), "Tensor::size"))];
}
int64_t Tensor::stride(int64_t d) const {
  HONE_CHECK(dim() > 0, "Tensor::stride: dim ", d, " asked of a 0-d tensor (it has no dims)");
  return strides()[size_t(wrap_dim(d, dim(), "Tensor::stride"))];
}
int64_t Tensor::numel() const { return hone::numel(shape()); }

bool Tensor::is_contiguous(MemoryFormat format) const {
  if (format == MemoryFormat::ChannelsLast && dim() != 4) return false;
  Strides want = strides_for(shape(), format);
  for (int64_t d = 0; d < dim(); ++d)
    if (shape()[d] != 1 && strides()[d] != want[d]) return false;
  return true;
}

void* Tensor::data_ptr() const {
  auto* base = static_cast<char*>(storage()->data());
  return base ? base + offset() * int64_t(element_size()) : nullptr;
}

namespace {
// A contiguous CPU copy of t (t itself when already so), for element access and printing.
Tensor host_contiguous(const Tensor& t) { return raw::contiguous(raw::to_device(t, Device::cpu())); }

}  // namespace

template <typename T>
std::vector<T> Tensor::to_vector() const {
  Tensor h = host_contiguous(*this);
  std::vector<T> out(size_t(h.numel()));
  HONE_DISPATCH_ALL(h.dtype(), "to_vector", [&](auto tag) {
    using S = decltype(tag);
    const S* p = static_cast<const S*>(h.data_ptr());
    for (size_t i = 0; i < out.size(); ++i) out[i] = cast_value<T>(p[i]);
  });
  return out;
}

template <typename T>
T Tensor::item() const {
  HONE_CHECK(numel() == 1, "item: tensor of shape ", shape(), " has ", numel(), " elements, not 1");
  return to_vector<T>()[0];
}

template <typename T>
T Tensor::at(std::initializer_list<int64_t> index) const {
  HONE_CHECK(int64_t(index.size()) == dim(), "at: ", index.size(), " indices for a ", dim(),
             "-D tensor of shape ", shape());
  int64_t off = offset(), d = 0;
  for (int64_t i : index) {
    HONE_CHECK(i >= 0 && i < shape()[d], "at: index ", i, " out of range for dim ", d, " of size ", shape()[d]);
    off += i * strides()[d++];
  }
  return raw::view(*this, {}, {}, off).item<T>();
}

#define HONE_INSTANTIATE_ACCESS(T)                                  \
  template std::vector<T> Tensor::to_vector<T>() const;             \
  template T Tensor::item<T>() const;                               \
  template T Tensor::at<T>(std::initializer_list<int64_t>) const;
HONE_INSTANTIATE_ACCESS(float)
HONE_INSTANTIATE_ACCESS(double)
HONE_INSTANTIATE_ACCESS(int64_t)
HONE_INSTANTIATE_ACCESS(int32_t)
HONE_INSTANTIATE_ACCESS(uint8_t)
HONE_INSTANTIATE_ACCESS(bool)
#undef HONE_INSTANTIATE_ACCESS

// ---- autograd state ----
AutogradMeta& Tensor::autograd_meta() const {
  auto& impl = this->impl();
  if (!impl.autograd) impl.autograd = std::make_shared<AutogradMeta>();
  return *impl.autograd;
}

bool Tensor::requires_grad() const { return defined() && impl().autograd && impl().autograd->requires_grad; }

Tensor& Tensor::set_requires_grad(bool required) {
  HONE_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad; "
                        "use detach() to make a leaf from a computed tensor");
  HONE_CHECK(!required || is_floating(dtype()), "set_requires_grad: only floating-point tensors can require grad, "
                                                "got ", dtype_name(dtype()));
  autograd_meta().requires_grad = required;
  return *this;
}

Tensor Tensor::grad() const { return impl().autograd ? impl().autograd->grad : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  HONE_CHECK(!g.defined() || g.shape() == shape(), "set_grad: gradient shape ", g.defined() ? g.shape() : Shape{},
             " differs from the tensor's ", shape());
  autograd_meta().grad = g;
}

bool Tensor::is_leaf() const { return !impl().autograd || !impl().autograd->grad_fn; }
std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  return impl().autograd ? impl().autograd->grad_fn : nullptr;
}
uint32_t Tensor::output_nr() const { return impl().autograd ? impl().autograd->output_nr : 0; }

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>(this->impl());
  impl->autograd.reset();
  return Tensor(impl);
}

// ---- printing ----
std::string Tensor::str() const {
  std::ostringstream os;
  os << *this;
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "tensor(undefined)";
  Tensor h = host_contiguous(t);
  const bool floating = is_floating(t.dtype());
  // Integers print from int64 (a double would round values beyond 2^53).
  std::vector<double> v = floating ? h.to_vector<double>() : std::vector<double>();
  std::vector<int64_t> iv = floating ? std::vector<int64_t>() : h.to_vector<int64_t>();
  const bool boolean = t.dtype() == DType::Bool;
  const Shape& shape = t.shape();
  constexpr int64_t kEdge = 3;  // long dims print their first and last 3 entries
  std::vector<int64_t> stride = contiguous_strides(shape);
  auto put = [&](size_t i) {
    char buf[64];
    if (boolean) std::snprintf(buf, sizeof buf, "%s", iv[i] != 0 ? "true" : "false");
    else if (floating) std::snprintf(buf, sizeof buf, "%.4f", v[i]);
    else std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(iv[i]));
    os << buf;
  };
  std::function<void(size_t, int64_t)> rec = [&](size_t d, int64_t base) {
    if (d == shape.size()) { put(size_t(base)); return; }
    os << '[';
    for (int64_t i = 0; i < shape[d]; ++i) {
      if (shape[d] > 2 * kEdge && i == kEdge) {
        os << "..., ";
        i = shape[d] - kEdge;
      }
      rec(d + 1, base + i * stride[d]);
      if (i + 1 < shape[d]) os << (d + 1 == shape.size() ? ", " : ",\n" + std::string(d + 8, ' '));
    }
    os << ']';
  };
  os << "tensor(";
  rec(0, 0);
  os << ", shape=" << shape_str(shape) << ", dtype=" << dtype_name(t.dtype());
  if (!t.device().is_cpu()) os << ", device=" << t.device().str();
  if (t.requires_grad()) os << ", requires_grad=true";
  return os << ')';
}

}  // namespace hone
