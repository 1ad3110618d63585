#pragma once
// The harness cases of the reductions: sum (and mean, as a scale), max over a dim, and
// max's backward index_add_dim, on strided inputs, against the kernels' references.
#include <algorithm>
#include <string>
#include <vector>

#include "kernels/cpu/reduce.h"
#include "op_harness_util.h"

namespace hone::harness {

// ---- reductions ----

// Splits a strided input into the kept (outer) dims and the reduced ones.
struct Split {
  Sizes outer_sizes, outer_in_strides, inner_sizes, inner_in_strides;
};
inline Split split_dims(const Sizes& sizes, const Sizes& strides, const std::vector<int64_t>& reduced) {
  Split s;
  for (size_t d = 0; d < sizes.size(); ++d) {
    const bool r = std::find(reduced.begin(), reduced.end(), int64_t(d)) != reduced.end();
    (r ? s.inner_sizes : s.outer_sizes).push_back(sizes[d]);
    (r ? s.inner_in_strides : s.outer_in_strides).push_back(strides[d]);
  }
  return s;
}
inline std::string dims_name(const std::vector<int64_t>& dims) {
  std::string o = "[";
  for (size_t i = 0; i < dims.size(); ++i) o += (i ? "," : "") + std::to_string(dims[i]);
  return o + "]";
}
inline Shape small_shape(const Sizes& sizes, int64_t most) {
  Shape sh(sizes.begin(), sizes.end());
  for (int64_t& d : sh) d = small(d, most);
  return sh;
}

// sum of `sizes` (laid out as `layout`) over `dims`, times `scale` (mean: 1/count).
inline OpCase sum_case(Sizes sizes, std::vector<int64_t> dims, Layout layout = Layout::Contiguous, double scale = 1,
                       std::vector<DType> dtypes = {DType::Float32, DType::Float64}) {
  Spec<k::ReduceArgs> s;
  s.name = "sum " + sizes_name(sizes) + " over " + dims_name(dims) + layout_name(layout) + (scale != 1 ? " mean" : "") +
           (dtypes.size() > 2 ? " ints" : "");
  s.table = &k::kernel_registry().sum;
  s.dtypes = dtypes;
  s.integer_values = true;
  s.build = [=](Problem& p) {
    const Sizes st = layout_strides(sizes, layout);
    Split sp = split_dims(sizes, st, dims);
    k::ReduceArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes, .outer_in_strides = sp.outer_in_strides,
                    .outer_out_strides = contiguous_strides(sp.outer_sizes), .inner_sizes = sp.inner_sizes,
                    .inner_in_strides = sp.inner_in_strides, .out = nullptr, .in = nullptr, .scale = scale};
    a.in = p.random(extent(sizes, st), -3, 3);
    a.out = p.output("out", numel_of(sp.outer_sizes));  // integers accumulate in int64, stored in the input's dtype
    return a;
  };
  s.reference = [](const k::ReduceArgs& a) { kc::sum_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-14};
  s.elements = double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return scale != 1 ? mean(in[0], dims) : sum(in[0], dims); },
                     {leaf(small_shape(sizes, 4), 91)});
  };
  return make_case(std::move(s));
}

inline OpCase max_dim_case(Sizes sizes, int64_t dim, Layout layout = Layout::Contiguous,
                           std::vector<DType> dtypes = {DType::Float32, DType::Float64}) {
  Spec<k::MaxDimArgs> s;
  s.name = "max " + sizes_name(sizes) + " over " + std::to_string(dim) + layout_name(layout) + (dtypes.size() > 2 ? " ints" : "");
  s.table = &k::kernel_registry().max_dim;
  s.dtypes = dtypes;
  s.integer_values = true;
  s.build = [=](Problem& p) {
    const Sizes st = layout_strides(sizes, layout);
    Split sp = split_dims(sizes, st, {dim});
    const int64_t outer = numel_of(sp.outer_sizes);
    k::MaxDimArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes, .outer_in_strides = sp.outer_in_strides,
                    .outer_out_strides = contiguous_strides(sp.outer_sizes), .dim_size = sizes[size_t(dim)],
                    .dim_stride = st[size_t(dim)], .values = nullptr, .indices = nullptr, .in = nullptr};
    a.in = p.random(extent(sizes, st), -50, 50);
    a.values = p.output("values", outer);
    a.indices = static_cast<int64_t*>(p.output_as("indices", DType::Int64, outer));
    return a;
  };
  s.reference = [](const k::MaxDimArgs& a) { kc::max_dim_reference(a); };
  s.tol = {0, 0};
  s.elements = double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], dim).values; }, {leaf(small_shape(sizes, 4), 92)});
  };
  return make_case(std::move(s));
}

// max's backward: dst (sizes, random) += src scattered along `dim` at random indices.
inline OpCase index_add_dim_case(Sizes sizes, int64_t dim) {
  Spec<k::IndexAddDimArgs> s;
  s.name = "index_add " + sizes_name(sizes) + " along " + std::to_string(dim);
  s.table = &k::kernel_registry().index_add_dim;
  s.build = [=](Problem& p) {
    const Sizes st = contiguous_strides(sizes);
    Split sp = split_dims(sizes, st, {dim});
    const int64_t outer = numel_of(sp.outer_sizes);
    k::IndexAddDimArgs a{.dtype = p.dtype(), .outer_sizes = sp.outer_sizes,
                         .outer_src_strides = contiguous_strides(sp.outer_sizes), .outer_dst_strides = sp.outer_in_strides,
                         .dim_size = sizes[size_t(dim)], .dim_stride = st[size_t(dim)]};
    a.dst = p.inout("dst", p.draw(numel_of(sizes)));
    a.src = p.random(outer);
    a.indices = static_cast<const int64_t*>(p.input_as(DType::Int64, p.draw_ints(outer, 0, sizes[size_t(dim)] - 1)));
    return a;
  };
  s.reference = [](const k::IndexAddDimArgs& a) { kc::index_add_dim_reference(a); };
  s.tol = {.f32 = 3e-7, .f64 = 1e-15};
  s.elements = 2.0 * double(numel_of(sizes));
  s.gradcheck = [=] {
    return gradcheck([=](const std::vector<Tensor>& in) { return max(in[0], dim).values; }, {leaf(small_shape(sizes, 4), 93)});
  };
  return make_case(std::move(s));
}

}  // namespace hone::harness
