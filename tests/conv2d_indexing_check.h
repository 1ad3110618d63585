#pragma once
// check_geometry: a plain-loop GEMM that reads its operands only through the CUDA conv2d
// index functions (kernels/cuda/conv2d_indexing.h) must equal the reference convolution,
// forward and both gradients, every output written exactly once.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cuda/conv2d_indexing.h"
#include "test_util.h"

namespace hone::test {

using kernels::Conv2dGeometry;
using kernels::cuda::ConvIndexing;

inline std::vector<double> random_doubles(int64_t n, uint64_t seed) {
  Generator g(seed);
  return uniform({n}, -1, 1, {.dtype = DType::Float64}, &g).to_vector<double>();
}

inline double max_diff(const std::vector<double>& a, const std::vector<double>& b) {
  double d = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double e = std::abs(a[i] - b[i]);
    if (!(e <= d)) d = e;  // a NaN (an element never written) makes the whole result NaN
  }
  return d;
}

inline void check_geometry(const Conv2dGeometry& g) {
  kernels::validate_conv2d(g, "test");
  const ConvIndexing ix = ConvIndexing::of(g);
  const int64_t nx = g.n * g.c_in * g.h * g.w, nw = g.c_out * ix.cig() * g.kh * g.kw, ny = g.n * g.c_out * ix.oh * ix.ow;
  const std::vector<double> x = random_doubles(nx, 1), w = random_doubles(nw, 2), dy = random_doubles(ny, 3);
  SCOPED_TRACE("n=" + std::to_string(g.n) + " c_in=" + std::to_string(g.c_in) + " " + std::to_string(g.h) + "x" +
               std::to_string(g.w) + " c_out=" + std::to_string(g.c_out) + " k=" + std::to_string(g.kh) + "x" +
               std::to_string(g.kw) + " s=" + std::to_string(g.stride_h) + "," + std::to_string(g.stride_w) +
               " groups=" + std::to_string(g.groups));
  // The reference convolution.
  std::vector<double> y_ref(static_cast<size_t>(ny)), dx_ref(static_cast<size_t>(nx)), dw_ref(static_cast<size_t>(nw)),
      db(static_cast<size_t>(g.c_out));
  kernels::cpu::conv2d_forward_reference({.g = g, .dtype = DType::Float64, .input = x.data(), .weight = w.data(),
                                          .bias = nullptr, .output = y_ref.data()});
  kernels::cpu::conv2d_backward_reference({.g = g, .dtype = DType::Float64, .input = x.data(), .weight = w.data(),
                                           .grad_output = dy.data(), .grad_input = dx_ref.data(),
                                           .grad_weight = dw_ref.data(), .grad_bias = db.data()});
  // The three implicit GEMMs, reading only through the index functions. Every output
  // element must be written exactly once: start from NaN.
  std::vector<double> y(static_cast<size_t>(ny), NAN), dx(static_cast<size_t>(nx), NAN), dw(static_cast<size_t>(nw), NAN);
  for (int64_t grp = 0; grp < g.groups; ++grp) {
    for (int64_t m = 0; m < ix.forward_m(); ++m)
      for (int64_t co = 0; co < ix.cog(); ++co) {
        double acc = 0;
        for (int64_t k = 0; k < ix.forward_k(); ++k) {
          const int64_t at = ix.forward_input(grp, m, k);
          if (at >= 0) acc += x[size_t(at)] * w[size_t(ix.weight(grp, co, k))];
        }
        y[size_t(ix.output(grp, m, co))] = acc;
      }
    for (int64_t m = 0; m < ix.grad_input_m(); ++m)
      for (int64_t ci = 0; ci < ix.cig(); ++ci) {
        double acc = 0;
        for (int64_t k = 0; k < ix.grad_input_k(); ++k) {
          const int64_t at = ix.grad_input_source(grp, m, k);
          if (at >= 0) acc += dy[size_t(at)] * w[size_t(ix.grad_input_weight(grp, k, ci))];
        }
        dx[size_t(ix.grad_input_output(grp, m, ci))] = acc;
      }
    for (int64_t co = 0; co < ix.cog(); ++co)
      for (int64_t r = 0; r < ix.forward_k(); ++r) {
        double acc = 0;
        for (int64_t q = 0; q < ix.grad_weight_k(); ++q) {
          const int64_t at = ix.forward_input(grp, q, r);
          if (at >= 0) acc += dy[size_t(ix.output(grp, q, co))] * x[size_t(at)];
        }
        dw[size_t(ix.weight(grp, co, r))] = acc;
      }
  }
  EXPECT_LT(max_diff(y, y_ref), 1e-12);
  EXPECT_LT(max_diff(dx, dx_ref), 1e-12);
  EXPECT_LT(max_diff(dw, dw_ref), 1e-12);
}

}  // namespace hone::test
