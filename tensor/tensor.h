#pragma once
// Tensor: a strided view (shape, strides, offset, dtype) of a shared Storage, plus the
// autograd state of that view. Copying a Tensor copies a handle; views share Storage.
//
// Where things are defined: this file and tensor/*.cpp hold the structure, factories,
// element access and the raw (non-differentiable) data movement in namespace hone::raw.
// Members that take part in autograd (views, copies, in-place math, backward) are declared
// here for a natural API but defined in autograd/, which records the graph.
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "tensor/context.h"
#include "tensor/dtype.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace hone {

namespace autograd {
class Node;
}
class Tensor;
struct AutogradMeta;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Strides strides;
  int64_t offset = 0;  // in elements
  DType dtype = DType::Float32;
  std::shared_ptr<AutogradMeta> autograd;  // created on first use of any autograd state
};

struct TensorOptions {
  DType dtype = DType::Float32;
  std::optional<Device> device;  // unset: the current context's default device
  bool requires_grad = false;
  MemoryFormat memory_format = MemoryFormat::Contiguous;
  bool pin_memory = false;  // CPU only: page-locked memory (Storage::pinned), for copies to a GPU
};

class Tensor {
 public:
  Tensor() = default;  // an undefined tensor (no storage), e.g. a missing gradient
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  const Strides& strides() const { return impl().strides; }
  int64_t dim() const { return int64_t(impl().shape.size()); }
  int64_t size(int64_t d) const;    // negative d counts from the end
  int64_t stride(int64_t d) const;
  int64_t offset() const { return impl().offset; }
  int64_t numel() const;
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().storage->device(); }
  size_t element_size() const { return dtype_size(dtype()); }
  bool is_contiguous(MemoryFormat format = MemoryFormat::Contiguous) const;
  const std::shared_ptr<Storage>& storage() const { return impl().storage; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  bool is_pinned() const { return storage()->is_pinned(); }  // in page-locked host memory
  // True when this handle is the only one to its view and its storage: nothing else can
  // see or change the data (autograd adopts such gradients instead of copying them).
  bool is_unique() const { return impl_ && impl_.use_count() == 1 && impl_->storage.use_count() == 1; }
  TensorImpl* unsafe_impl() const { return impl_.get(); }

  // Address of element 0 of this view (storage data + offset).
  void* data_ptr() const;
  template <typename T> T* data() const {
    HONE_CHECK(dtype_of<T>() == dtype(), "Tensor::data<", dtype_name(dtype_of<T>()),
               ">: tensor has dtype ", dtype_name(dtype()));
    return static_cast<T*>(data_ptr());
  }

  // Version counter of the shared storage; in-place writes bump it.
  uint64_t version() const { return storage()->version(); }

  // Element access, converting to T. Works on any device (copies from the GPU).
  template <typename T> T item() const;                           // needs numel() == 1
  template <typename T> T at(std::initializer_list<int64_t> index) const;
  template <typename T> std::vector<T> to_vector() const;         // row-major order
  std::string str() const;                                         // readable printout

  // ---- autograd state (tensor/tensor.cpp) ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool required = true);  // only on leaves
  Tensor grad() const;                              // undefined until backward reaches it
  void set_grad(const Tensor& g);
  bool is_leaf() const;                             // no grad_fn
  std::shared_ptr<autograd::Node> grad_fn() const;
  uint32_t output_nr() const;
  // A new tensor sharing storage (and version counter) with no autograd history.
  Tensor detach() const;

  // ---- defined in autograd/ ----
  // backward(): this must be a scalar unless `gradient` (same shape) is given.
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor reshape(const Shape& shape) const;  // a view when strides allow, else a copy
  Tensor view(const Shape& shape) const;     // always a view; throws if impossible
  Tensor permute(const std::vector<int64_t>& dims) const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor t() const;                          // transpose of a 2-D tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor expand(const Shape& shape) const;   // -1 keeps a dim
  Tensor squeeze() const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor contiguous(MemoryFormat format = MemoryFormat::Contiguous) const;
  Tensor clone() const;
  Tensor to(DType dtype) const;
  // non_blocking: a contiguous pinned CPU tensor goes to the GPU on the context's stream
  // without waiting (what Tensor::pin_memory is for); every other copy waits, as always.
  Tensor to(Device device, bool non_blocking = false) const;
  // A copy in pinned host memory (this tensor if it is pinned already). A hone::Error for a
  // GPU tensor, and where hone was built without CUDA or no CUDA driver is present.
  Tensor pin_memory() const;
  Tensor sum() const;
  Tensor sum(const std::vector<int64_t>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int64_t>& dims, bool keepdim = false) const;
  // In-place, not differentiable: allowed on tensors that need no grad, or under NoGradGuard.
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(double value);
  Tensor& zero_();
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& add_(double value);
  Tensor& mul_(const Tensor& other);
  Tensor& mul_(double value);

  AutogradMeta& autograd_meta() const;  // creates it on first use

 private:
  TensorImpl& impl() const {
    HONE_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

// Autograd state of one tensor. grad_fn is the node that produced it (non-leaf); a leaf
// that requires grad accumulates into `grad` through its `grad_accumulator` node.
struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::Node> grad_accumulator;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// ---- factories (tensor/factory.cpp) ----
Tensor empty(const Shape& shape, TensorOptions opts = {});
Tensor zeros(const Shape& shape, TensorOptions opts = {});
Tensor ones(const Shape& shape, TensorOptions opts = {});
Tensor full(const Shape& shape, double value, TensorOptions opts = {});
Tensor arange(int64_t end, TensorOptions opts = {.dtype = DType::Int64});
Tensor arange(double start, double end, double step = 1.0, TensorOptions opts = {});
Tensor scalar_tensor(double value, TensorOptions opts = {});
template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts = {.dtype = dtype_of<T>()});
template <typename T>
Tensor from_vector(const std::vector<T>& values) { return from_vector(values, {int64_t(values.size())}); }
// Random tensors draw from the current context's generator unless one is given.
Tensor rand(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);   // U[0,1)
Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts = {}, Generator* gen = nullptr);
// Moves the generator past the draws uniform() of n elements would make, without making
// them: code that stops drawing an initialisation keeps every later draw of a seed as it was.
void skip_uniform(int64_t n, Generator* gen = nullptr);
Tensor randn(const Shape& shape, TensorOptions opts = {}, Generator* gen = nullptr);  // N(0,1)
Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts = {}, Generator* gen = nullptr);
Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts = {.dtype = DType::Int64},
               Generator* gen = nullptr);
Tensor empty_like(const Tensor& t);   // same shape, dtype, device; contiguous
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);

// ---- raw data movement: no autograd, no checks on grad requirements (tensor/copy.cpp) ----
namespace raw {
// A view of t's storage with the given geometry; checks it stays inside the storage.
Tensor view(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset);
// t seen with `shape` (which t broadcasts to) through stride-0 dims; no copy, no checks.
// broadcast_strides gives just the strides (no view is made: for copy loops).
Tensor broadcast_view(const Tensor& t, const Shape& shape);
Strides broadcast_strides(const Tensor& t, const Shape& shape);
// dst[...] = src[...] with dtype conversion; src broadcasts to dst's shape; any devices.
void copy(const Tensor& dst, const Tensor& src);
void fill(const Tensor& dst, double value);
// Throws, naming `op` and dst's shape and strides, unless each index of dst names its own
// element: writing through an expand()ed dim or overlapping raw::view strides would race
// across threads. copy, fill and the Tensor in-place methods call it; reads never need it.
void check_writable(const Tensor& dst, const char* op);
Tensor contiguous(const Tensor& t, MemoryFormat format = MemoryFormat::Contiguous);  // t itself if already
Tensor to_dtype(const Tensor& t, DType dtype);     // t itself if same dtype
Tensor to_device(const Tensor& t, Device device, bool non_blocking = false);  // t itself if same device
}  // namespace raw

}  // namespace hone
