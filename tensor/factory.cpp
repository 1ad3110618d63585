// Tensor factories: allocation, constants, ranges and seeded random values.
#include <array>
#include <cmath>

#include "tensor/cuda_kernels.h"
#include "tensor/cuda_runtime.h"
#include "tensor/parallel.h"
#include "tensor/tensor.h"

namespace hone {

namespace {
Device resolve(const TensorOptions& opts) { return opts.device.value_or(Context::current().default_device()); }

Tensor finish(Tensor t, const TensorOptions& opts) {
  if (opts.requires_grad) t.set_requires_grad(true);
  return t;
}

// A fresh tensor with element i = f(i) in row-major order. On the CPU the values are
// written straight into the target dtype, split over the context's threads: f depends
// only on i (the generators are counter-based), so the split never changes a value.
template <typename F>
Tensor generate(const Shape& shape, const TensorOptions& opts, F&& f) {
  const Device device = resolve(opts);
  if (device.is_cpu() && opts.memory_format == MemoryFormat::Contiguous) {
    Tensor out = empty(shape, {.dtype = opts.dtype, .device = device});
    const int64_t n = out.numel();
    HONE_DISPATCH_ALL(opts.dtype, "generate", [&](auto tag) {
      using T = decltype(tag);
      T* p = static_cast<T*>(out.data_ptr());
      parallel_for(n, int64_t(1) << 15, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) p[i] = cast_value<T>(f(i));
      });
    });
    return finish(out, opts);
  }
  Tensor host = generate(shape, {.dtype = DType::Float64, .device = Device::cpu()}, f);
  Tensor out = empty(shape, {.dtype = opts.dtype, .device = device, .memory_format = opts.memory_format});
  raw::copy(out, host);
  return finish(out, opts);
}

// Uniform doubles in [0,1) from the generator: element i uses 53 bits of word pair i.
struct UniformStream {
  uint64_t seed, first;
  double operator()(int64_t i) const {
    // Neighbouring elements share a Philox block: keep the last one per thread.
    thread_local uint64_t cached_seed = 0, cached_block = ~uint64_t(0);
    thread_local std::array<uint32_t, 4> w{};
    const uint64_t block = first + uint64_t(i) / 2;
    if (block != cached_block || seed != cached_seed) {
      w = Generator::philox(seed, block);
      cached_block = block;
      cached_seed = seed;
    }
    const int lane = int(i % 2) * 2;
    uint64_t bits = (uint64_t(w[lane]) << 21) ^ (uint64_t(w[lane + 1]) >> 11);
    return double(bits & ((1ULL << 53) - 1)) * (1.0 / 9007199254740992.0);
  }
};

// v as dtype t stores it (rounded to nearest), as a double.
double stored(double v, DType t) {
  switch (t) {
    case DType::Float32: return double(float(v));
    case DType::Float16: return double(float(Half(float(v))));
    case DType::BFloat16: return double(float(BFloat16(float(v))));
    default: return v;
  }
}

// The next value of dtype t below x (x representable in t).
double next_below(double x, DType t) {
  if (t == DType::Float64) return std::nextafter(x, -INFINITY);
  if (t == DType::Float32) return double(std::nextafter(float(x), -INFINITY));
  uint16_t bits = t == DType::Float16 ? Half(float(x)).bits : BFloat16(float(x)).bits;
  if ((bits & 0x7fff) == 0) bits = 0x8001;  // +-0: the negative value of least magnitude
  else if (bits & 0x8000) ++bits;             // negative: away from zero
  else --bits;
  if (t == DType::Float16) { Half h; h.bits = bits; return double(float(h)); }
  BFloat16 b; b.bits = bits; return double(float(b));
}

UniformStream uniform_stream(int64_t n, Generator* gen) {
  Generator& g = gen ? *gen : Context::current().generator();
  const Generator::Blocks b = g.reserve_blocks(uint64_t(n + 1) / 2 + 1);
  return {b.seed, b.first};
}

// A random tensor filled on its GPU by `fill(out, stream)` (tensor/random_cuda.cu), or an
// undefined tensor where the CPU path must make it (not CUDA, a dtype the kernels do not
// write, channels-last order).
template <typename F>
Tensor fill_on_device(const Shape& shape, const TensorOptions& opts, F&& fill) {
  const Device device = resolve(opts);
  if (!device.is_cuda() || (opts.dtype != DType::Float32 && opts.dtype != DType::Float64) ||
      opts.memory_format != MemoryFormat::Contiguous)
    return Tensor();
  Tensor out = empty(shape, {.dtype = opts.dtype, .device = device});
  CudaDeviceGuard on(device.index);
  fill(out, Context::current().cuda_stream());
  return finish(out, opts);
}
}  // namespace

Tensor empty(const Shape& shape, TensorOptions opts) {
  const int64_t n = numel(shape);  // validates dims
  auto impl = std::make_shared<TensorImpl>();
  HONE_CHECK(n <= int64_t(1) << 46, "empty: shape ", shape, " is too large (", n, " elements)");
  const size_t nbytes = size_t(n) * dtype_size(opts.dtype);
  if (opts.pin_memory)
    HONE_CHECK(resolve(opts).is_cpu(), "empty: pin_memory is for CPU tensors (the host side of a copy to a GPU), ",
               "asked for ", resolve(opts).str());
  impl->storage = opts.pin_memory ? Storage::pinned(nbytes) : std::make_shared<Storage>(nbytes, resolve(opts));
  impl->shape = shape;
  impl->strides = strides_for(shape, opts.memory_format);
  impl->dtype = opts.dtype;
  return finish(Tensor(impl), opts);
}

Tensor full(const Shape& shape, double value, TensorOptions opts) {
  bool rg = opts.requires_grad;
  opts.requires_grad = false;
  Tensor t = empty(shape, opts);
  raw::fill(t, value);
  opts.requires_grad = rg;
  return finish(t, opts);
}
Tensor zeros(const Shape& shape, TensorOptions opts) { return full(shape, 0.0, opts); }
Tensor ones(const Shape& shape, TensorOptions opts) { return full(shape, 1.0, opts); }
Tensor scalar_tensor(double value, TensorOptions opts) { return full({}, value, opts); }

Tensor arange(int64_t end, TensorOptions opts) { return arange(0.0, double(end), 1.0, opts); }

Tensor arange(double start, double end, double step, TensorOptions opts) {
  HONE_CHECK(step != 0 && std::isfinite(start) && std::isfinite(end) && std::isfinite(step),
             "arange: bad range start=", start, " end=", end, " step=", step);
  HONE_CHECK((end - start) / step >= 0, "arange: step ", step, " goes away from end (start=", start,
             ", end=", end, ")");
  const int64_t n = int64_t(std::ceil((end - start) / step));
  return generate({n}, opts, [&](int64_t i) { return start + double(i) * step; });
}

template <typename T>
Tensor from_vector(const std::vector<T>& values, const Shape& shape, TensorOptions opts) {
  HONE_CHECK(numel(shape) == int64_t(values.size()), "from_vector: ", values.size(), " values for shape ", shape,
             " (", numel(shape), " elements)");
  Tensor host = empty(shape, {.dtype = dtype_of<T>(), .device = Device::cpu()});
  if (!values.empty()) std::copy(values.begin(), values.end(), host.data<T>());
  Tensor out = raw::to_device(raw::to_dtype(host, opts.dtype), resolve(opts));
  return finish(out, opts);
}
template Tensor from_vector<float>(const std::vector<float>&, const Shape&, TensorOptions);
template Tensor from_vector<double>(const std::vector<double>&, const Shape&, TensorOptions);
template Tensor from_vector<int64_t>(const std::vector<int64_t>&, const Shape&, TensorOptions);
template Tensor from_vector<int32_t>(const std::vector<int32_t>&, const Shape&, TensorOptions);
template Tensor from_vector<uint8_t>(const std::vector<uint8_t>&, const Shape&, TensorOptions);

Tensor uniform(const Shape& shape, double low, double high, TensorOptions opts, Generator* gen) {
  HONE_CHECK(low <= high, "uniform: low ", low, " > high ", high);
  UniformStream u = uniform_stream(numel(shape), gen);
  if (Tensor t = fill_on_device(shape, opts, [&](const Tensor& out, void* stream) {
        detail::cuda_fill_uniform(out.data_ptr(), out.dtype(), out.numel(), u.seed, u.first, low, high, stream);
      }); t.defined())
    return t;
  // A draw in [low, high) can round up to `high` in a narrower dtype: step it below.
  return generate(shape, opts, [&](int64_t i) {
    double v = stored(low + (high - low) * u(i), opts.dtype);
    while (high > low && v >= high) v = next_below(v, opts.dtype);
    return v;
  });
}
void skip_uniform(int64_t n, Generator* gen) { uniform_stream(n, gen); }
Tensor rand(const Shape& shape, TensorOptions opts, Generator* gen) { return uniform(shape, 0.0, 1.0, opts, gen); }

Tensor normal(const Shape& shape, double mean, double std, TensorOptions opts, Generator* gen) {
  HONE_CHECK(std >= 0, "normal: std ", std, " is negative");
  // Box-Muller on uniform pairs (2k, 2k+1); element i takes the cos or sin branch.
  UniformStream u = uniform_stream(numel(shape) + 1, gen);
  if (Tensor t = fill_on_device(shape, opts, [&](const Tensor& out, void* stream) {
        detail::cuda_fill_normal(out.data_ptr(), out.dtype(), out.numel(), u.seed, u.first, mean, std, stream);
      }); t.defined())
    return t;
  return generate(shape, opts, [&](int64_t i) {
    // Elements 2k and 2k+1 are the cos and sin halves of one Box-Muller pair: compute the
    // pair once per thread and hand out both halves.
    // The cache key is the pair's absolute Philox counter (seed, first + k): unique across
    // calls, unlike anything tied to this call's stack frame.
    thread_local uint64_t cached_seed = 0, cached_block = ~uint64_t(0);
    thread_local double cached_r = 0, cached_th = 0;
    const int64_t k = i / 2;
    const uint64_t block = u.first + uint64_t(k);
    if (block != cached_block || u.seed != cached_seed) {
      const double u1 = 1.0 - u(2 * k), u2 = u(2 * k + 1);  // u1 in (0,1]
      cached_r = std::sqrt(-2.0 * std::log(u1));
      cached_th = 2.0 * M_PI * u2;
      cached_block = block;
      cached_seed = u.seed;
    }
    return mean + std * cached_r * (i % 2 ? std::sin(cached_th) : std::cos(cached_th));
  });
}
Tensor randn(const Shape& shape, TensorOptions opts, Generator* gen) { return normal(shape, 0.0, 1.0, opts, gen); }

Tensor randint(int64_t low, int64_t high, const Shape& shape, TensorOptions opts, Generator* gen) {
  HONE_CHECK(low < high, "randint: empty range [", low, ",", high, ")");
  UniformStream u = uniform_stream(numel(shape), gen);
  const double span = double(high - low);
  return generate(shape, opts, [&](int64_t i) {
    return double(std::min(high - 1, low + int64_t(std::floor(u(i) * span))));
  });
}

Tensor empty_like(const Tensor& t) { return empty(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor zeros_like(const Tensor& t) { return zeros(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }
Tensor ones_like(const Tensor& t) { return ones(t.shape(), {.dtype = t.dtype(), .device = t.device()}); }

}  // namespace hone
