#include "kernels/cpu/reduce.h"

#include <cmath>

#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {
// Offsets (in elements) of every position of an N-d index space with the given strides,
// in row-major order. Used for the inner block of a reduction.
std::vector<int64_t> offsets(const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides) {
  std::vector<int64_t> out{0};
  for (size_t d = 0; d < sizes.size(); ++d) {
    std::vector<int64_t> next;
    next.reserve(out.size() * size_t(sizes[d]));
    for (int64_t base : out)
      for (int64_t i = 0; i < sizes[d]; ++i) next.push_back(base + i * strides[d]);
    out.swap(next);
  }
  return out;
}

// Calls fn(o, in_offset, out_offset) for each outer position o in [begin, end).
template <typename F>
void for_outer(const std::vector<int64_t>& sizes, const std::vector<int64_t>& in_strides,
               const std::vector<int64_t>& out_strides, int64_t begin, int64_t end, F&& fn) {
  for (int64_t o = begin; o < end; ++o) {
    int64_t rem = o, in_off = 0, out_off = 0;
    for (size_t d = sizes.size(); d-- > 0;) {
      int64_t i = rem % sizes[d];
      rem /= sizes[d];
      in_off += i * in_strides[d];
      out_off += i * out_strides[d];
    }
    fn(o, in_off, out_off);
  }
}

int64_t product(const std::vector<int64_t>& v) {
  int64_t p = 1;
  for (int64_t x : v) p *= x;
  return p;
}

// Position `flat` of a row-major index space with these sizes, as one index per dim.
std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& sizes) {
  std::vector<int64_t> idx(sizes.size());
  for (size_t d = sizes.size(); d-- > 0;) {
    idx[d] = flat % sizes[d];
    flat /= sizes[d];
  }
  return idx;
}

int64_t offset_of(const std::vector<int64_t>& idx, const std::vector<int64_t>& strides) {
  int64_t off = 0;
  for (size_t d = 0; d < idx.size(); ++d) off += idx[d] * strides[d];
  return off;
}

// out[o] = scale * sum over every inner index i of in[o, i].
template <typename T, typename Acc>
void sum_reference_typed(const ReduceArgs& a) {
  const T* in = static_cast<const T*>(a.in);
  T* out = static_cast<T*>(a.out);
  for (int64_t o = 0; o < product(a.outer_sizes); ++o) {
    const std::vector<int64_t> oi = unravel(o, a.outer_sizes);
    Acc acc = 0;
    for (int64_t i = 0; i < product(a.inner_sizes); ++i)
      acc += Acc(in[offset_of(oi, a.outer_in_strides) + offset_of(unravel(i, a.inner_sizes), a.inner_in_strides)]);
    T& r = out[offset_of(oi, a.outer_out_strides)];
    if constexpr (std::is_floating_point_v<T>) r = T(acc * a.scale);
    else r = T(a.scale == 1.0 ? acc : Acc(std::llround(double(acc) * a.scale)));
  }
}

template <typename T>
bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return std::isnan(v);
  else return false;
}
}  // namespace

void sum(const ReduceArgs& a, const Exec& exec) {
  const int64_t outer = product(a.outer_sizes);
  const std::vector<int64_t> inner = offsets(a.inner_sizes, a.inner_in_strides);
  auto run = [&](auto tag, auto acc_tag) {
    using T = decltype(tag);
    using Acc = decltype(acc_tag);
    T* out = static_cast<T*>(a.out);
    const T* in = static_cast<const T*>(a.in);
    parallel_for(exec, outer, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, int64_t(inner.size()))), [&](int64_t b, int64_t e) {
      for_outer(a.outer_sizes, a.outer_in_strides, a.outer_out_strides, b, e, [&](int64_t, int64_t io, int64_t oo) {
        Acc acc = 0;
        for (int64_t off : inner) acc += Acc(in[io + off]);
        if constexpr (std::is_floating_point_v<T>) out[oo] = T(acc * a.scale);
        else out[oo] = T(a.scale == 1.0 ? acc : Acc(std::llround(double(acc) * a.scale)));
      });
    });
  };
  switch (a.dtype) {
    case DType::Float32: return run(float{}, double{});
    case DType::Float64: return run(double{}, double{});
    case DType::Int64: return run(int64_t{}, int64_t{});
    case DType::Int32: return run(int32_t{}, int64_t{});
    default: fail("sum: dtype ", dtype_name(a.dtype), " is not supported (float32, float64, int64, int32 are)");
  }
}

void max_dim(const MaxDimArgs& a, const Exec& exec) {
  HONE_CHECK(a.dim_size > 0, "max: cannot reduce a dimension of size 0");
  const int64_t outer = product(a.outer_sizes);
  HONE_DISPATCH_MATH(a.dtype, "max", [&](auto tag) {
    using T = decltype(tag);
    T* values = static_cast<T*>(a.values);
    const T* in = static_cast<const T*>(a.in);
    parallel_for(exec, outer, 1024, [&](int64_t b, int64_t e) {
      for_outer(a.outer_sizes, a.outer_in_strides, a.outer_out_strides, b, e, [&](int64_t, int64_t io, int64_t oo) {
        T best = in[io];
        int64_t arg = 0;
        for (int64_t i = 1; i < a.dim_size; ++i) {
          T v = in[io + i * a.dim_stride];
          bool nan_best = false;
          if constexpr (std::is_floating_point_v<T>) nan_best = std::isnan(best);
          if (nan_best) break;
          bool take = v > best;
          if constexpr (std::is_floating_point_v<T>) take = take || std::isnan(v);
          if (take) { best = v; arg = i; }
        }
        values[oo] = best;
        a.indices[oo] = arg;
      });
    });
  });
}

void index_add_dim(const IndexAddDimArgs& a, const Exec& exec) {
  const int64_t outer = product(a.outer_sizes);
  HONE_DISPATCH_FLOAT(a.dtype, "max backward", [&](auto tag) {
    using T = decltype(tag);
    T* dst = static_cast<T*>(a.dst);
    const T* src = static_cast<const T*>(a.src);
    // Each outer position writes only its own slice of dst: safe to split over threads.
    parallel_for(exec, outer, 1024, [&](int64_t b, int64_t e) {
      for_outer(a.outer_sizes, a.outer_src_strides, a.outer_dst_strides, b, e, [&](int64_t, int64_t so, int64_t dofs) {
        int64_t idx = a.indices[so];
        HONE_CHECK(idx >= 0 && idx < a.dim_size, "index_add_dim: index ", idx, " out of range [0,", a.dim_size, ")");
        dst[dofs + idx * a.dim_stride] += src[so];
      });
    });
  });
}

void sum_reference(const ReduceArgs& a) {
  switch (a.dtype) {
    case DType::Float32: return sum_reference_typed<float, double>(a);
    case DType::Float64: return sum_reference_typed<double, double>(a);
    case DType::Int64: return sum_reference_typed<int64_t, int64_t>(a);
    case DType::Int32: return sum_reference_typed<int32_t, int64_t>(a);
    default: fail("sum: dtype ", dtype_name(a.dtype), " is not supported (float32, float64, int64, int32 are)");
  }
}

// The first NaN along the dim if there is one, else the first of the largest values.
void max_dim_reference(const MaxDimArgs& a) {
  HONE_CHECK(a.dim_size > 0, "max: cannot reduce a dimension of size 0");
  HONE_DISPATCH_MATH(a.dtype, "max", [&](auto tag) {
    using T = decltype(tag);
    const T* in = static_cast<const T*>(a.in);
    for (int64_t o = 0; o < product(a.outer_sizes); ++o) {
      const std::vector<int64_t> oi = unravel(o, a.outer_sizes);
      auto value = [&](int64_t i) { return in[offset_of(oi, a.outer_in_strides) + i * a.dim_stride]; };
      int64_t arg = 0;
      for (int64_t i = 0; i < a.dim_size; ++i) {
        if (is_nan(value(i))) {
          arg = i;
          break;
        }
        if (value(i) > value(arg)) arg = i;
      }
      static_cast<T*>(a.values)[offset_of(oi, a.outer_out_strides)] = value(arg);
      a.indices[offset_of(oi, a.outer_out_strides)] = arg;
    }
  });
}

void index_add_dim_reference(const IndexAddDimArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "max backward", [&](auto tag) {
    using T = decltype(tag);
    for (int64_t o = 0; o < product(a.outer_sizes); ++o) {
      const std::vector<int64_t> oi = unravel(o, a.outer_sizes);
      const int64_t s = offset_of(oi, a.outer_src_strides), idx = a.indices[s];
      HONE_CHECK(idx >= 0 && idx < a.dim_size, "index_add_dim: index ", idx, " out of range [0,", a.dim_size, ")");
      static_cast<T*>(a.dst)[offset_of(oi, a.outer_dst_strides) + idx * a.dim_stride] += static_cast<const T*>(a.src)[s];
    }
  });
}

}  // namespace hone::kernels::cpu
