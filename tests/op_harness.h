#pragma once
// The op harness: one table of op cases (tests/op_cases.h), each naming a kernel table of
// the registry (kernels/registry.h), a geometry, how to build the kernel's argument struct
// from seeded random inputs, the reference and the tolerance. For every case
// tests/op_harness_test.cpp runs every registered kernel (every device present, every
// backend) and every CPU lowering against the reference, checks results are bit-identical
// for 1, 2 and 3 threads, and gradchecks the public op in float64; the benchmark
// bench/op_harness_bench.cpp times each (case, kernel) from the same table.
//
// Comparison: inputs are float32-representable (whole numbers for integer kernels) and the
// reference always runs in float64 on them, so one reference serves every dtype. A float
// output passes when max|out - ref| / max(1, max|ref|) <= the case's tolerance for the
// kernel's dtype (norm-wise relative error); an integer output (indices, integer kernels)
// must match exactly; a NaN where the reference has none (e.g. an output left unwritten:
// outputs start as NaN) fails.
//
// TF32 (matrix products: Spec::tf32_tol > 0): each CUDA float32 kernel of the table also runs
// with Exec::allow_tf32 ("cuda float32 tf32"), held to the case's TF32 tolerance; and a CPU
// variant "tf32-emulated float32" runs the reference on operands rounded to TF32 exactly as
// the kernel rounds them (kernels/cuda/tf32.h), held to the same tolerance. That variant is
// the evidence for the tolerance on every machine: it has the TF32 path's input rounding, and
// only its float32 sums run in another order.
//
// Header-only, without GoogleTest, so the benchmark shares it.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "autograd/gradcheck.h"
#include "hone.h"
#include "kernels/cuda/tf32.h"
#include "kernels/registry.h"

namespace hone::harness {

// The buffers of one kernel call, on one device. Each keeps its initial contents, so runs
// can restart from the same state (outputs NaN again, in-place buffers as drawn).
class Problem {
 public:
  // `dtype` is what the buffers hold; `integer_values` draws whole numbers (for integer
  // kernels, and for their float64 reference). Draws depend only on the seed and order.
  Problem(Device device, DType dtype, bool integer_values, uint64_t seed)
      : device_(device), dtype_(dtype), integer_(integer_values), rng_(seed) {}
  Problem(const Problem&) = delete;
  Problem& operator=(const Problem&) = delete;

  Device device() const { return device_; }
  DType dtype() const { return dtype_; }

  // n values uniform in [lo, hi], rounded to float32 (or to whole numbers).
  std::vector<double> draw(int64_t n, double lo = -1, double hi = 1) {
    std::vector<double> v(size_t(std::max<int64_t>(n, 0)));
    for (double& e : v) {
      const double u = std::uniform_real_distribution<double>(lo, hi)(rng_);
      e = integer_ ? std::round(u) : double(float(u));
    }
    return v;
  }
  // Whole numbers in [lo, hi] (targets, indices), whatever the kind of values.
  std::vector<double> draw_ints(int64_t n, int64_t lo, int64_t hi) {
    std::vector<double> v(size_t(std::max<int64_t>(n, 0)));
    for (double& e : v) e = double(std::uniform_int_distribution<int64_t>(lo, hi)(rng_));
    return v;
  }

  const void* input(const std::vector<double>& v) { return add("", v, dtype_, false); }
  const void* input_as(DType t, const std::vector<double>& v) { return add("", v, t, false); }
  const void* random(int64_t n, double lo = -1, double hi = 1) { return input(draw(n, lo, hi)); }
  // An output the kernel must overwrite: starts as NaN (integers: the lowest value).
  void* output(const std::string& name, int64_t n) { return output_as(name, dtype_, n); }
  void* output_as(const std::string& name, DType t, int64_t n) {
    const double unwritten = is_floating(t) ? std::numeric_limits<double>::quiet_NaN() : -1e18;
    return add(name, std::vector<double>(size_t(n), unwritten), t, true);
  }
  // A buffer the kernel reads and updates in place (running statistics, accumulators).
  void* inout(const std::string& name, const std::vector<double>& v) { return add(name, v, dtype_, true); }
  void* inout_as(const std::string& name, DType t, const std::vector<double>& v) { return add(name, v, t, true); }

  void reset() {
    for (Buf& b : bufs_) raw::copy(b.live, b.init);
  }
  // Rounds every float32 input (not the outputs) to TF32 in place, as the tensor-core path
  // does when it loads its operands; reset() brings the exact values back.
  void round_inputs_to_tf32() {
    for (Buf& b : bufs_) {
      if (b.compared || b.live.dtype() != DType::Float32 || !b.live.device().is_cpu()) continue;
      float* p = static_cast<float*>(b.live.data_ptr());
      for (int64_t i = 0; i < b.live.numel(); ++i) p[i] = kernels::cuda::round_to_tf32(p[i]);
    }
  }

  struct Output {
    std::string name;
    DType dtype;
    std::vector<double> values;
    std::vector<unsigned char> bytes;  // as stored, for the thread-count check
  };
  std::vector<Output> outputs() const {
    std::vector<Output> out;
    for (const Buf& b : bufs_) {
      if (!b.compared) continue;
      Tensor host = b.live.to(Device::cpu());
      Output o{b.name, host.dtype(), host.to(DType::Float64).to_vector<double>(), {}};
      const auto* p = static_cast<const unsigned char*>(host.data_ptr());
      if (host.numel() > 0) o.bytes.assign(p, p + host.numel() * int64_t(dtype_size(host.dtype())));
      out.push_back(std::move(o));
    }
    return out;
  }

 private:
  struct Buf {
    std::string name;
    Tensor init, live;  // init on the host; live on the device, handed to the kernel
    bool compared;
  };
  void* add(const std::string& name, const std::vector<double>& v, DType t, bool compared) {
    const int64_t n = int64_t(v.size());
    Tensor init = empty({n}, {.dtype = t, .device = Device::cpu()});
    raw::copy(init, from_vector<double>(v, {n}));
    Tensor live = empty({n}, {.dtype = t, .device = device_});
    raw::copy(live, init);
    bufs_.push_back({name, init, live, compared});
    return live.data_ptr();
  }

  Device device_;
  DType dtype_;
  bool integer_;
  std::mt19937_64 rng_;
  std::vector<Buf> bufs_;
};

// Per kernel dtype: the largest norm-wise relative error allowed (see the top of the file).
struct Tolerance {
  double f32 = 1e-5;
  double f64 = 1e-12;
  double operator()(DType t) const { return t == DType::Float32 ? f32 : t == DType::Float64 ? f64 : 0.0; }
};

// A kernel call ready to run on its own problem.
struct Prepared {
  std::unique_ptr<Problem> problem;
  std::function<void(const kernels::Exec&)> run;
};

// One registered kernel of a case's table in one lowering, for one dtype.
struct Variant {
  std::string label;  // "cpu float32 Direct avx2"
  DeviceType device;
  DType dtype;
  std::string skip;  // why it cannot run here; empty when it can
  double tol = 0;    // > 0: this variant's tolerance instead of the case's (TF32 variants)
  bool check_only = false;  // not a kernel (the TF32 emulation): checked, never timed
  std::function<Prepared()> prepare;
};

// The type-erased case: what the test and the benchmark see.
struct OpCase {
  std::string name;   // "conv2d 3x3 s2 p1 c29->21 17x15"
  std::string table;  // the registry table it exercises: KernelTable::name(), "conv2d forward"
  std::vector<DType> dtypes;
  Tolerance tol;
  double flops = 0, elements = 0;  // per call, for the perf mode: bytes = elements * dtype size (0: not stated)
  std::function<std::vector<Variant>(DType)> variants;
  std::function<Prepared(DType)> reference;  // on the CPU, in float64, values of that dtype's kind
  std::function<GradcheckResult()> gradcheck;  // the public op on a small version; empty: not differentiable
};

// The tolerance variant `v` of case `c` is held to.
inline double tolerance_for(const OpCase& c, const Variant& v) { return v.tol > 0 ? v.tol : c.tol(v.dtype); }

// A lowering: a name and how it sets the argument struct's lowering fields (CPU only).
template <typename Args>
using Lowering = std::pair<std::string, std::function<void(Args&)>>;

// What a family's maker fills in; make_case erases the argument struct's type.
template <typename Args>
struct Spec {
  std::string name;
  const kernels::KernelTable<Args>* table;
  std::function<Args(Problem&)> build;           // buffers from p's draws; dtype is p.dtype()
  std::function<void(const Args&)> reference;    // runs on a float64 problem
  std::function<std::vector<Lowering<Args>>(DType)> lowerings;  // empty: the kernel's default only
  std::function<GradcheckResult()> gradcheck;
  Tolerance tol;
  double flops = 0, elements = 0;  // per call: flops, and elements read + written
  std::vector<DType> dtypes{DType::Float32, DType::Float64};
  bool integer_values = false;  // draws whole numbers (integer kernels in `dtypes`)
  double tf32_tol = 0;  // > 0: a matrix product; its TF32 variants are held to this (see the top)
};

inline std::string variant_skip(DeviceType device) {
  if (device == DeviceType::CUDA && cuda_device_count() == 0)
    return cuda_built() ? "no CUDA device present" : "hone was built without CUDA";
  return "";
}

inline uint64_t case_seed(const std::string& name) { return std::hash<std::string>{}(name) | 1; }

template <typename Args>
OpCase make_case(Spec<Args> spec) {
  auto s = std::make_shared<Spec<Args>>(std::move(spec));
  OpCase c;
  c.name = s->name;
  c.table = s->table->name();
  c.dtypes = s->dtypes;
  c.tol = s->tol;
  c.flops = s->flops;
  c.elements = s->elements;
  c.gradcheck = s->gradcheck;
  const uint64_t seed = case_seed(s->name);
  auto integer_kind = [s](DType t) { return s->integer_values && !is_floating(t); };
  c.variants = [s, seed, integer_kind](DType dtype) {
    std::vector<Variant> out;
    for (const auto& e : s->table->entries()) {
      if (e.dtype != dtype) continue;
      std::vector<Lowering<Args>> lows;
      if (s->lowerings && e.device == DeviceType::CPU) lows = s->lowerings(dtype);
      if (lows.empty()) lows.push_back({"", nullptr});
      for (const auto& [lname, lower] : lows) {
        Variant v;
        v.label = std::string(e.impl) + " " + dtype_name(dtype) + (e.backend == Backend::Vendor ? " vendor" : "") +
                  (lname.empty() ? "" : " " + lname);
        v.device = e.device;
        v.dtype = dtype;
        v.skip = variant_skip(e.device);
        const Device device = e.device == DeviceType::CPU ? Device::cpu() : Device::cuda();
        auto fn = e.fn;
        auto prepare = [s, seed, integer_kind, device, dtype, fn, lower](bool tf32) {
          return [=] {
            Prepared p{std::make_unique<Problem>(device, dtype, integer_kind(dtype), seed), nullptr};
            Args a = s->build(*p.problem);
            if (lower) lower(a);
            p.run = [a, fn, tf32](const kernels::Exec& x) {
              kernels::Exec with = x;
              with.allow_tf32 = tf32;
              fn(a, with);
            };
            return p;
          };
        };
        v.prepare = prepare(false);
        out.push_back(v);
        if (s->tf32_tol > 0 && dtype == DType::Float32 && e.device == DeviceType::CUDA) {
          v.label += " tf32";
          v.tol = s->tf32_tol;
          v.prepare = prepare(true);
          out.push_back(std::move(v));
        }
      }
    }
    if (s->tf32_tol > 0 && dtype == DType::Float32) {
      Variant v{.label = "tf32-emulated float32", .device = DeviceType::CPU, .dtype = dtype, .skip = "", .tol = s->tf32_tol,
                .check_only = true};
      v.prepare = [s, seed, dtype] {
        Prepared p{std::make_unique<Problem>(Device::cpu(), dtype, false, seed), nullptr};
        Args a = s->build(*p.problem);
        auto ref = s->reference;
        p.run = [a, ref, problem = p.problem.get()](const kernels::Exec&) {
          problem->round_inputs_to_tf32();
          ref(a);
        };
        return p;
      };
      out.push_back(std::move(v));
    }
    return out;
  };
  c.reference = [s, seed, integer_kind](DType kind) {
    Prepared p{std::make_unique<Problem>(Device::cpu(), DType::Float64, integer_kind(kind), seed), nullptr};
    Args a = s->build(*p.problem);
    auto ref = s->reference;
    p.run = [a, ref](const kernels::Exec&) { ref(a); };
    return p;
  };
  return c;
}

// A kernel's outputs against the reference's: `failures` is empty when they agree, else
// says which output differs and where; `error` is the largest norm-wise error of a float
// output (for HONE_HARNESS_VERBOSE, to see how much room a tolerance leaves).
struct Comparison {
  std::string failures;
  double error = 0;
};
inline Comparison compare_outputs(const std::vector<Problem::Output>& got, const std::vector<Problem::Output>& ref,
                                  double tol) {
  if (got.size() != ref.size()) return {"the kernel and the reference have different outputs", 0};
  Comparison c;
  std::ostringstream msg;
  for (size_t o = 0; o < got.size(); ++o) {
    const auto& g = got[o].values;
    const auto& r = ref[o].values;
    if (g.size() != r.size()) return {got[o].name + ": sizes differ", 0};
    double worst = 0, scale = 1;
    size_t at = 0;
    bool bad_nan = false;
    for (size_t i = 0; i < g.size(); ++i) {
      scale = std::max(scale, std::isfinite(r[i]) ? std::abs(r[i]) : 0.0);
      if (std::isnan(r[i]) != std::isnan(g[i]) || (std::isinf(r[i]) && g[i] != r[i])) {
        if (!bad_nan) at = i;
        bad_nan = true;
      } else if (std::isfinite(r[i]) && !(std::abs(g[i] - r[i]) <= worst)) {
        worst = std::abs(g[i] - r[i]);
        if (!bad_nan) at = i;
      }
    }
    const bool exact = !is_floating(got[o].dtype);
    const double err = worst / scale;
    if (!exact) c.error = std::max(c.error, err);
    if (bad_nan || (exact ? worst != 0 : !(err <= tol)))
      msg << got[o].name << ": " << (bad_nan ? "NaN/inf where the reference has none (or the reverse), " : "")
          << "norm-wise error " << err << (exact ? " (must be exact)" : " > tolerance " + std::to_string(tol))
          << "; at [" << at << "]: " << g[at] << " vs reference " << r[at] << "\n";
  }
  c.failures = msg.str();
  return c;
}

// "" when the two runs stored exactly the same bits, else which output differs.
inline std::string compare_bits(const std::vector<Problem::Output>& a, const std::vector<Problem::Output>& b) {
  for (size_t o = 0; o < a.size() && o < b.size(); ++o)
    if (a[o].bytes != b[o].bytes) return a[o].name + " differs";
  return a.size() == b.size() ? "" : "different outputs";
}

}  // namespace hone::harness
