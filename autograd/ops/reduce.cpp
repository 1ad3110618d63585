// Reductions: sum, mean, max over a dim. Backward of sum/mean broadcasts the output
// gradient back over the reduced dims; max routes it to the index of the maximum.
#include <algorithm>
#include <cmath>

#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"
#include "kernels/reduce.h"

namespace hone {

namespace {

struct ReducePlan {
  std::vector<bool> reduced;  // per input dim
  Shape keep_shape;           // reduced dims set to 1
  Shape out_shape;            // keep_shape, or without the reduced dims
  int64_t count = 1;          // elements reduced into each output
};

ReducePlan plan(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  ReducePlan p;
  p.reduced.assign(size_t(x.dim()), dims.empty());
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, x.dim(), op);
    if (x.dim() == 0) continue;
    HONE_CHECK(!p.reduced[size_t(w)], op, ": dim ", d, " appears more than once in the dims list");
    p.reduced[size_t(w)] = true;
  }
  for (int64_t d = 0; d < x.dim(); ++d) {
    bool r = p.reduced[size_t(d)];
    p.keep_shape.push_back(r ? 1 : x.shape()[size_t(d)]);
    if (r) p.count *= x.shape()[size_t(d)];
    if (!r || keepdim) p.out_shape.push_back(r ? 1 : x.shape()[size_t(d)]);
  }
  return p;
}

// Runs the sum kernel; `scale` turns it into a mean.
Tensor sum_kernel(const Tensor& x, const ReducePlan& p, double scale, DType out_dtype) {
  Tensor in = raw::to_dtype(x, out_dtype);
  Tensor out = empty(p.keep_shape, {.dtype = out_dtype, .device = x.device()});
  kernels::ReduceArgs a{.dtype = out_dtype, .out = out.data_ptr(), .in = in.data_ptr(), .scale = scale};
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (p.reduced[size_t(d)]) {
      a.inner_sizes.push_back(in.shape()[size_t(d)]);
      a.inner_in_strides.push_back(in.strides()[size_t(d)]);
    } else {
      a.outer_sizes.push_back(in.shape()[size_t(d)]);
      a.outer_in_strides.push_back(in.strides()[size_t(d)]);
      a.outer_out_strides.push_back(out.strides()[size_t(d)]);
    }
  }
  if (out.numel() > 0) detail::run_kernel(detail::kernel_registry().sum, "sum", x.device(), out_dtype, a);
  return raw::view(out, p.out_shape, contiguous_strides(p.out_shape), 0);
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = plan(x, dims, keepdim, "sum");
  DType t = is_floating(x.dtype()) ? x.dtype() : DType::Int64;  // integer sums widen, as PyTorch
  Tensor out = sum_kernel(x, p, 1.0, t);
  autograd::record("sum", {x}, {out}, {}, [keep = p.keep_shape, in = x.shape()](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{g[0].reshape(keep).expand(in)};
  });
  HONE_TRACE("sum", {x}, {out}, {{"dims", dims}, {"keepdim", keepdim}});
  return out;
}

Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  HONE_CHECK(is_floating(x.dtype()), "mean: needs a floating-point tensor, got ", dtype_name(x.dtype()));
  ReducePlan p = plan(x, dims, keepdim, "mean");
  const double n = double(p.count);
  // The mean of nothing is NaN, as in NumPy and PyTorch.
  Tensor out = sum_kernel(x, p, n > 0 ? 1.0 / n : std::nan(""), x.dtype());
  autograd::record("mean", {x}, {out}, {}, [keep = p.keep_shape, in = x.shape(), n](const auto& g, const auto&, const auto&) {
    return std::vector<Tensor>{(g[0] / n).reshape(keep).expand(in)};
  });
  HONE_TRACE("mean", {x}, {out}, {{"dims", dims}, {"keepdim", keepdim}});
  return out;
}

MaxResult max(const Tensor& x, int64_t dim, bool keepdim) {
  HONE_CHECK(x.dim() > 0, "max: needs at least 1-D input for a dim reduction, got a scalar");
  const int64_t d = wrap_dim(dim, x.dim(), "max");
  ReducePlan p = plan(x, {d}, keepdim, "max");
  HONE_CHECK(x.shape()[size_t(d)] > 0, "max: cannot reduce dim ", dim, " of size 0 (shape ", x.shape(), ")");
  Tensor values = empty(p.keep_shape, {.dtype = x.dtype(), .device = x.device()});
  Tensor indices = empty(p.keep_shape, {.dtype = DType::Int64, .device = x.device()});
  kernels::MaxDimArgs a{.dtype = x.dtype(), .dim_size = x.shape()[size_t(d)], .dim_stride = x.strides()[size_t(d)],
                             .values = values.data_ptr(), .indices = indices.data<int64_t>(), .in = x.data_ptr()};
  for (int64_t k = 0; k < x.dim(); ++k) {
    if (k == d) continue;
    a.outer_sizes.push_back(x.shape()[size_t(k)]);
    a.outer_in_strides.push_back(x.strides()[size_t(k)]);
    a.outer_out_strides.push_back(values.strides()[size_t(k)]);
  }
  if (values.numel() > 0) detail::run_kernel(detail::kernel_registry().max_dim, "max", x.device(), x.dtype(), a);
  MaxResult r{raw::view(values, p.out_shape, contiguous_strides(p.out_shape), 0),
              raw::view(indices, p.out_shape, contiguous_strides(p.out_shape), 0)};
  autograd::record("max", {x}, {r.values}, {indices},
                   [keep = p.keep_shape, in = x.shape(), d](const auto& g, const auto& s, const auto&) {
    Tensor grad = zeros(in, {.dtype = g[0].dtype(), .device = g[0].device()});
    Tensor go = raw::contiguous(g[0]).reshape(keep);
    const Tensor& idx = s[0];
    kernels::IndexAddDimArgs b{.dtype = grad.dtype(), .dim_size = in[size_t(d)], .dim_stride = grad.strides()[size_t(d)],
                                    .dst = grad.data_ptr(), .src = go.data_ptr(), .indices = idx.data<int64_t>()};
    for (int64_t k = 0; k < int64_t(in.size()); ++k) {
      if (k == d) continue;
      b.outer_sizes.push_back(keep[size_t(k)]);
      b.outer_src_strides.push_back(go.strides()[size_t(k)]);
      b.outer_dst_strides.push_back(grad.strides()[size_t(k)]);
    }
    if (go.numel() > 0) detail::run_kernel(detail::kernel_registry().index_add_dim, "max backward", grad.device(), grad.dtype(), b);
    return std::vector<Tensor>{grad};
  });
  HONE_TRACE("max", {x}, {r.values, r.indices}, {{"dim", d}, {"keepdim", keepdim}});
  return r;
}

Tensor max(const Tensor& x) {
  HONE_CHECK(x.numel() > 0, "max: tensor of shape ", x.shape(), " is empty");
  return max(x.reshape({-1}), 0, false).values;
}

Tensor Tensor::sum() const { return hone::sum(*this); }
Tensor Tensor::sum(const std::vector<int64_t>& dims, bool keepdim) const { return hone::sum(*this, dims, keepdim); }
Tensor Tensor::mean() const { return hone::mean(*this); }
Tensor Tensor::mean(const std::vector<int64_t>& dims, bool keepdim) const { return hone::mean(*this, dims, keepdim); }

}  // namespace hone
