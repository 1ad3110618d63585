// Raw data movement: strided copies with dtype conversion and broadcasting, fills, and
// moves between devices. No autograd here; autograd/ wraps these into differentiable ops.
//
// CUDA tensors: contiguous same-dtype copies go straight through cudaMemcpy; strided,
// broadcast or converting copies within one GPU run the CUDA copy kernel (tensor/
// copy_cuda.cu, compiled but not yet run on a GPU) on the context's stream. Host<->device
// copies that are strided or convert, copies between GPUs and 16-bit float conversions are
// staged through a host image of the storage (correct, but slow).
#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "tensor/cuda_kernels.h"
#include "tensor/cuda_runtime.h"
#include "tensor/parallel.h"
#include "tensor/strided_loop.h"
#include "tensor/tensor.h"

namespace hone {

namespace {

void cpu_copy(const Tensor& dst, const Tensor& src) {
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
    std::memmove(dst.data_ptr(), src.data_ptr(), size_t(n) * dst.element_size());
    return;
  }
  StridedLayout<2> layout(dst.shape(), {dst.strides(), raw::broadcast_strides(src, dst.shape())});
  char* dbase = static_cast<char*>(dst.data_ptr());
  const char* sbase = static_cast<const char*>(src.data_ptr());
  HONE_DISPATCH_ALL(dst.dtype(), "copy", [&](auto dtag) {
    using D = decltype(dtag);
    HONE_DISPATCH_ALL(src.dtype(), "copy", [&](auto stag) {
      using S = decltype(stag);
      D* d = reinterpret_cast<D*>(dbase);
      const S* s = reinterpret_cast<const S*>(sbase);
      auto rows = [&](int64_t r0, int64_t r1) {
        layout.for_each_row(r0, r1, [&](const auto& off, int64_t len, const auto& inner) {
          D* dp = d + off[0];
          const S* sp = s + off[1];
          for (int64_t i = 0; i < len; ++i) dp[i * inner[0]] = cast_value<D>(sp[i * inner[1]]);
        });
      };
      const int64_t nrows = layout.num_rows();
      // Small copies stay on this thread; big ones split over rows.
      parallel_for(nrows, std::max<int64_t>(1, (int64_t(1) << 18) / std::max<int64_t>(layout.inner_size(), 1)), rows);
    });
  });
}

// True when no two indices of the layout reach one element. Quick sufficient test: sorted
// by |stride|, each dim steps past everything the smaller dims reach (contiguous, permuted,
// sliced and flipped views all pass). Strides that interleave (only raw::view makes them)
// fall back to comparing every offset.
bool distinct_elements(const Shape& shape, const Strides& strides) {
  std::vector<std::pair<int64_t, int64_t>> dims;  // (|stride|, size) of the dims that vary
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 0) return true;  // nothing to write
    if (shape[d] > 1) dims.emplace_back(std::abs(strides[d]), shape[d]);
  }
  std::sort(dims.begin(), dims.end());
  int64_t reach = 0;  // the largest offset the smaller dims reach
  bool quick = true;
  for (const auto& [stride, size] : dims) {
    if (stride <= reach) { quick = false; break; }
    reach += (size - 1) * stride;
  }
  if (quick) return true;
  if (dims.front().first == 0) return false;  // an expanded dim
  std::vector<int64_t> offsets{0};
  for (const auto& [stride, size] : dims) {
    const size_t n = offsets.size();
    for (int64_t i = 1; i < size; ++i)
      for (size_t k = 0; k < n; ++k) offsets.push_back(offsets[k] + i * stride);
  }
  std::sort(offsets.begin(), offsets.end());
  return std::adjacent_find(offsets.begin(), offsets.end()) == offsets.end();
}

// A CPU tensor with t's geometry over a host copy of t's whole storage (t if on the CPU).
Tensor host_image(const Tensor& t) {
  if (t.device().is_cpu()) return t;
  auto storage = std::make_shared<Storage>(t.storage()->nbytes(), Device::cpu());
  cuda_memcpy(storage->data(), t.storage()->data(), storage->nbytes(), CopyKind::DeviceToHost);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = storage;
  impl->shape = t.shape();
  impl->strides = t.strides();
  impl->offset = t.offset();
  impl->dtype = t.dtype();
  return Tensor(impl);
}

// A copy within one GPU on the copy kernel; false when it must take the host path.
bool copy_on_device(const Tensor& dst, const Tensor& src) {
  if (!dst.device().is_cuda() || dst.device() != src.device()) return false;
  const bool same = dst.dtype() == src.dtype();  // copied as raw bits, whatever the dtype
  if (!same && !(detail::cuda_copy_converts(dst.dtype()) && detail::cuda_copy_converts(src.dtype()))) return false;
  StridedIndex<2> index;
  if (!make_strided_index(StridedLayout<2>(dst.shape(), {dst.strides(), raw::broadcast_strides(src, dst.shape())}), index))
    return false;
  CudaDeviceGuard on(dst.device().index);
  detail::cuda_strided_copy(dst.data_ptr(), dst.dtype(), src.data_ptr(), src.dtype(), index,
                            Context::current().cuda_stream());
  return true;
}

void upload_storage(const Tensor& cuda_dst, const Tensor& host) {
  cuda_memcpy(cuda_dst.storage()->data(), host.storage()->data(), host.storage()->nbytes(), CopyKind::HostToDevice);
}

}  // namespace

namespace raw {

Strides broadcast_strides(const Tensor& t, const Shape& shape) {
  Strides st(shape.size(), 0);
  const size_t lead = shape.size() - size_t(t.dim());
  for (size_t d = 0; d < size_t(t.dim()); ++d) st[lead + d] = t.shape()[d] == 1 ? 0 : t.strides()[d];
  return st;
}

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  return view(t, shape, broadcast_strides(t, shape), t.offset());
}

Tensor view(const Tensor& t, const Shape& shape, const Strides& strides, int64_t offset) {
  HONE_CHECK(shape.size() == strides.size(), "view: ", shape.size(), " sizes but ", strides.size(), " strides");
  const int64_t n = numel(shape);
  if (n > 0) {  // the view's extreme elements must lie inside the storage
    int64_t lo = offset, hi = offset;
    for (size_t d = 0; d < shape.size(); ++d) {
      int64_t span = 0;
      bool overflow = __builtin_mul_overflow(shape[d] - 1, strides[d], &span);
      overflow = overflow || __builtin_add_overflow(span < 0 ? lo : hi, span, span < 0 ? &lo : &hi);
      HONE_CHECK(!overflow, "view: shape ", shape, " with strides ", strides, " overflows int64 offsets");
    }
    const int64_t cap = int64_t(t.storage()->nbytes() / t.element_size());
    HONE_CHECK(lo >= 0 && hi < cap, "view: shape ", shape, " strides ", strides, " offset ", offset,
               " reaches elements [", lo, ",", hi, "] outside a storage of ", cap, " elements");
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = t.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = t.dtype();
  return Tensor(impl);
}

void check_writable(const Tensor& dst, const char* op) {
  if (dst.is_contiguous() || distinct_elements(dst.shape(), dst.strides())) return;
  fail(op, ": cannot write into a tensor whose elements overlap (shape ", shape_str(dst.shape()), ", strides ",
       shape_str(dst.strides()), "): several indices name one element, as in an expand()ed view, so the result "
       "would depend on the order of the writes; write into a contiguous() copy instead");
}

void copy(const Tensor& dst, const Tensor& src) {
  check_writable(dst, "copy");
  Shape b = broadcast_shapes(src.shape(), dst.shape(), "copy");
  HONE_CHECK(b == dst.shape(), "copy: source of shape ", src.shape(), " cannot broadcast to destination ",
             dst.shape());
  if (dst.device().is_cpu() && src.device().is_cpu()) return cpu_copy(dst, src);
  // Fast path: contiguous, same dtype and shape: one cudaMemcpy.
  if (dst.dtype() == src.dtype() && dst.shape() == src.shape() && dst.is_contiguous() && src.is_contiguous()) {
    if (dst.numel() == 0) return;
    CopyKind kind = src.device().is_cpu() ? CopyKind::HostToDevice
                    : dst.device().is_cpu() ? CopyKind::DeviceToHost
                                            : CopyKind::DeviceToDevice;
    cuda_memcpy(dst.data_ptr(), src.data_ptr(), size_t(dst.numel()) * dst.element_size(), kind);
    return;
  }
  if (dst.numel() == 0 || copy_on_device(dst, src)) return;
  Tensor s = host_image(src);
  Tensor d = host_image(dst);
  cpu_copy(d, s);
  if (!dst.device().is_cpu()) upload_storage(dst, d);
}

void fill(const Tensor& dst, double value) {
  check_writable(dst, "fill");
  if (dst.numel() == 0) return;
  if (dst.device().is_cuda()) {  // one value up, then broadcast on the device (stride 0)
    Tensor one = empty({}, {.dtype = dst.dtype(), .device = Device::cpu()});
    fill(one, value);
    if (copy_on_device(dst, to_device(one, dst.device()))) return;
  }
  Tensor d = host_image(dst);
  HONE_DISPATCH_ALL(d.dtype(), "fill", [&](auto tag) {
    using T = decltype(tag);
    const T v = cast_value<T>(value);
    StridedLayout<1> layout(d.shape(), {d.strides()});
    T* p = static_cast<T*>(d.data_ptr());
    if (d.numel() == 0) return;
    layout.for_each_row(0, layout.num_rows(), [&](const auto& off, int64_t len, const auto& inner) {
      for (int64_t i = 0; i < len; ++i) p[off[0] + i * inner[0]] = v;
    });
  });
  if (!dst.device().is_cpu()) upload_storage(dst, d);
}

Tensor contiguous(const Tensor& t, MemoryFormat format) {
  if (t.is_contiguous(format)) return t;
  Tensor out = empty(t.shape(), {.dtype = t.dtype(), .device = t.device(), .memory_format = format});
  copy(out, t);
  return out;
}

Tensor to_dtype(const Tensor& t, DType dtype) {
  if (t.dtype() == dtype) return t;
  Tensor out = empty(t.shape(), {.dtype = dtype, .device = t.device()});
  copy(out, t);
  return out;
}

Tensor to_device(const Tensor& t, Device device, bool non_blocking) {
  if (t.device() == device) return t;
  Tensor out = empty(t.shape(), {.dtype = t.dtype(), .device = device});
  if (non_blocking && t.is_pinned() && device.is_cuda() && t.is_contiguous() && t.numel() > 0) {
    CudaDeviceGuard on(device.index);
    t.storage()->record_async_read(
        cuda_memcpy_async(out.data_ptr(), t.data_ptr(), size_t(t.numel()) * t.element_size(), CopyKind::HostToDevice));
    return out;
  }
  copy(out, t);
  return out;
}

}  // namespace raw
}  // namespace hone
