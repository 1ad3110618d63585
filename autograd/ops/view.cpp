// View ops: new shape/strides/offset over the same storage, no data copied (reshape
// copies only when the strides cannot express the new shape). Backward maps the gradient
// back to the input's geometry.
#include <numeric>
#include <optional>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/trace.h"

namespace hone {

namespace {

// Strides that let `shape` view memory laid out as (old_shape, old_strides), if any
// (the chunk-matching rule: each run of merged old dims must map onto whole new dims).
std::optional<Strides> view_strides(const Shape& old_shape, const Strides& old_strides, const Shape& shape) {
  if (old_shape.empty() || numel(old_shape) == 0) return contiguous_strides(shape);
  Strides out(shape.size());
  int64_t view_d = int64_t(shape.size()) - 1;
  int64_t chunk_base = old_strides.back(), tensor_numel = 1, view_numel = 1;
  for (int64_t d = int64_t(old_shape.size()) - 1; d >= 0; --d) {
    tensor_numel *= old_shape[size_t(d)];
    if (d == 0 || (old_shape[size_t(d - 1)] != 1 && old_strides[size_t(d - 1)] != tensor_numel * chunk_base)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[size_t(view_d)] == 1)) {
        out[size_t(view_d)] = view_numel * chunk_base;
        view_numel *= shape[size_t(view_d)];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (d > 0) {
        chunk_base = old_strides[size_t(d - 1)];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return out;
}

// Resolves a single -1 and checks the element count.
Shape infer_shape(const Shape& shape, int64_t n, const char* op, const Shape& from) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      HONE_CHECK(infer < 0, op, ": only one dim can be -1, got ", shape);
      infer = int64_t(i);
    } else {
      HONE_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    HONE_CHECK(known != 0 && n % known == 0, op, ": cannot reshape ", from, " (", n, " elements) to ", shape);
    out[size_t(infer)] = n / known;
  }
  HONE_CHECK(numel(out) == n, op, ": cannot reshape ", from, " (", n, " elements) to ", shape, " (", numel(out),
             " elements)");
  return out;
}

// A view op's output, with backward reshaping the gradient to the input shape.
Tensor reshaped_view(const Tensor& x, const Shape& shape, const Strides& strides, const char* op) {
  Tensor out = raw::view(x, shape, strides, x.offset());
  autograd::record(op, {x}, {out}, {}, [in = x.shape()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].reshape(in)};
  });
  HONE_TRACE(op, {x}, {out}, {{"shape", shape}});
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "view", this->shape());
  auto st = view_strides(this->shape(), strides(), s);
  HONE_CHECK(st.has_value(), "view: shape ", s, " is not compatible with the strides ", strides(), " of a tensor of shape ",
             this->shape(), "; use reshape() (which copies) or contiguous() first");
  return reshaped_view(*this, s, *st, "view");
}

Tensor Tensor::reshape(const Shape& shape) const {
  Shape s = infer_shape(shape, numel(), "reshape", this->shape());
  if (auto st = view_strides(this->shape(), strides(), s)) return reshaped_view(*this, s, *st, "reshape");
  Tensor c = contiguous();
  return reshaped_view(c, s, contiguous_strides(s), "reshape");
}

Tensor Tensor::permute(const std::vector<int64_t>& dims) const {
  HONE_CHECK(int64_t(dims.size()) == dim(), "permute: ", dims.size(), " dims given for a ", dim(), "-D tensor of shape ",
             shape());
  std::vector<int64_t> perm(dims.size()), inverse(dims.size());
  std::vector<bool> seen(dims.size(), false);
  Shape s(dims.size());
  Strides st(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = wrap_dim(dims[i], dim(), "permute");
    HONE_CHECK(!seen[size_t(d)], "permute: dim ", dims[i], " repeated in ", dims);
    seen[size_t(d)] = true;
    perm[i] = d;
    inverse[size_t(d)] = int64_t(i);
    s[i] = shape()[size_t(d)];
    st[i] = strides()[size_t(d)];
  }
  Tensor out = raw::view(*this, s, st, offset());
  autograd::record("permute", {*this}, {out}, {}, [inverse](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].permute(inverse)};
  });
  HONE_TRACE("permute", {*this}, {out}, {{"dims", perm}});
  return out;
}

Tensor Tensor::transpose(int64_t d0, int64_t d1) const {
  if (dim() == 0) {  // only dims 0 and -1 name the single (absent) dim of a scalar
    wrap_dim(d0, 0, "transpose");
    wrap_dim(d1, 0, "transpose");
    return *this;
  }
  std::vector<int64_t> perm(static_cast<size_t>(dim()));
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[size_t(wrap_dim(d0, dim(), "transpose"))], perm[size_t(wrap_dim(d1, dim(), "transpose"))]);
  return permute(perm);
}

Tensor Tensor::t() const {
  HONE_CHECK(dim() <= 2, "t: expects a tensor with <= 2 dims, got shape ", shape(), " (use transpose)");
  return dim() < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  HONE_CHECK(dim() > 0, "slice: cannot slice a 0-d tensor");
  d = wrap_dim(d, dim(), "slice");
  HONE_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = shape()[size_t(d)];
  // Python rules: negative positions count from the end; out-of-range positions clamp.
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  Shape s = shape();
  Strides st = strides();
  s[size_t(d)] = (end - start + step - 1) / step;
  st[size_t(d)] *= step;
  Tensor out = raw::view(*this, s, st, offset() + start * strides()[size_t(d)]);
  autograd::record("slice", {*this}, {out}, {}, [in = shape(), d, start, end, step](const auto& g, const auto&, const auto&) {
    Tensor grad = zeros(in, {.dtype = g[0].dtype(), .device = g[0].device()});
    raw::copy(grad.slice(d, start, end, step), g[0]);
    return std::vector<Tensor>{grad};
  });
  HONE_TRACE("slice", {*this}, {out}, {{"dim", d}, {"start", start}, {"end", end}, {"step", step}});
  return out;
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  HONE_CHECK(dim() > 0, "narrow: cannot narrow a 0-d tensor");
  const int64_t n = size(d);
  if (start < 0) start += n;
  HONE_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: range [", start, ", ", start + length,
             ") out of bounds for dim ", d, " of size ", n, " (shape ", shape(), ")");
  return slice(d, start, start + length);
}

Tensor Tensor::expand(const Shape& shape) const {
  HONE_CHECK(shape.size() >= size_t(dim()), "expand: target ", shape, " has fewer dims than the tensor's ", this->shape());
  const size_t lead = shape.size() - size_t(dim());
  Shape s(shape.size());
  Strides st(shape.size(), 0);
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < lead) {
      HONE_CHECK(shape[i] >= 0, "expand: new leading dim ", i, " cannot be ", shape[i], " (target ", shape, ")");
      s[i] = shape[i];
      continue;
    }
    int64_t have = this->shape()[i - lead];
    int64_t want = shape[i] == -1 ? have : shape[i];
    HONE_CHECK(have == want || have == 1, "expand: cannot expand ", this->shape(), " to ", shape, " (dim ", i, ": ",
               have, " to ", want, "; only size-1 dims expand)");
    s[i] = want;
    st[i] = have == want ? strides()[i - lead] : 0;
  }
  Tensor out = raw::view(*this, s, st, offset());
  autograd::record("expand", {*this}, {out}, {}, [in = this->shape()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{sum_to(g[0], in)};
  });
  HONE_TRACE("expand", {*this}, {out}, {{"shape", s}});
  return out;
}

Tensor Tensor::squeeze() const {
  Shape s;
  Strides st;
  for (int64_t d = 0; d < dim(); ++d)
    if (shape()[size_t(d)] != 1) { s.push_back(shape()[size_t(d)]); st.push_back(strides()[size_t(d)]); }
  return reshaped_view(*this, s, st, "squeeze");
}

Tensor Tensor::squeeze(int64_t d) const {
  if (dim() == 0) {
    wrap_dim(d, 0, "squeeze");
    return reshaped_view(*this, {}, {}, "squeeze");
  }
  d = wrap_dim(d, dim(), "squeeze");
  if (shape()[size_t(d)] != 1) return reshaped_view(*this, shape(), strides(), "squeeze");
  Shape s = shape();
  Strides st = strides();
  s.erase(s.begin() + d);
  st.erase(st.begin() + d);
  return reshaped_view(*this, s, st, "squeeze");
}

Tensor Tensor::unsqueeze(int64_t d) const {
  d = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape();
  Strides st = strides();
  int64_t stride = d < dim() ? strides()[size_t(d)] * shape()[size_t(d)] : 1;
  s.insert(s.begin() + d, 1);
  st.insert(st.begin() + d, stride);
  return reshaped_view(*this, s, st, "unsqueeze");
}

Tensor Tensor::flatten(int64_t start_dim, int64_t end_dim) const {
  if (dim() == 0) return reshape({1});
  start_dim = wrap_dim(start_dim, dim(), "flatten");
  end_dim = wrap_dim(end_dim, dim(), "flatten");
  HONE_CHECK(start_dim <= end_dim, "flatten: start_dim ", start_dim, " is after end_dim ", end_dim);
  Shape s(shape().begin(), shape().begin() + start_dim);
  int64_t merged = 1;
  for (int64_t d = start_dim; d <= end_dim; ++d) merged *= shape()[size_t(d)];
  s.push_back(merged);
  s.insert(s.end(), shape().begin() + end_dim + 1, shape().end());
  return reshape(s);
}

}  // namespace hone
