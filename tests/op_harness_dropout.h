#pragma once
// The harness cases of dropout (forward, backward) against the naive references. The
// forward's mask is a uint8 output, compared exactly: a device whose Philox draws differ
// from the CPU's in one element fails, whatever the tolerance on y.
#include <string>
#include <vector>

#include "kernels/cpu/dropout.h"
#include "op_harness_util.h"

namespace hone::harness {

inline GradcheckResult dropout_gradcheck(double p) {
  // A fresh generator per call: every evaluation of the function draws the same mask.
  return gradcheck([p](const std::vector<Tensor>& x) { Generator g(17); return dropout(x[0], p, true, &g); },
                   {leaf({3, 5}, 61)});
}

// n elements, drop probability p, the generator's reservation starting at `first_block`.
inline OpCase dropout_forward_case(int64_t n, double p, uint64_t first_block = 0) {
  Spec<k::DropoutForwardArgs> s;
  s.name = "dropout forward n" + std::to_string(n) + " p" + std::to_string(p) + " block" + std::to_string(first_block);
  s.table = &k::kernel_registry().dropout_forward;
  s.build = [=](Problem& pr) {
    k::DropoutForwardArgs a{.dtype = pr.dtype(), .n = n, .p = p, .scale = 1.0 / (1.0 - p), .seed = 0x5eed0123456789ULL,
                            .first_block = first_block};
    a.x = pr.random(n, -2, 2);
    a.y = pr.output("y", n);
    a.mask = static_cast<uint8_t*>(pr.output_as("mask", DType::UInt8, n));
    return a;
  };
  s.reference = [](const k::DropoutForwardArgs& a) { kc::dropout_forward_reference(a); };
  s.tol = {.f32 = 1e-6, .f64 = 1e-15};
  s.elements = 2.25 * double(n);  // x, y and a byte of mask
  s.gradcheck = [p] { return dropout_gradcheck(p); };
  return make_case(std::move(s));
}

inline OpCase dropout_backward_case(int64_t n, double p) {
  Spec<k::DropoutBackwardArgs> s;
  s.name = "dropout backward n" + std::to_string(n) + " p" + std::to_string(p);
  s.table = &k::kernel_registry().dropout_backward;
  s.build = [=](Problem& pr) {
    k::DropoutBackwardArgs a{.dtype = pr.dtype(), .n = n, .scale = 1.0 / (1.0 - p)};
    std::vector<double> mask = pr.draw(n, 0, 1);
    for (double& m : mask) m = m >= p ? 1 : 0;
    a.mask = static_cast<const uint8_t*>(pr.input_as(DType::UInt8, mask));
    a.dy = pr.random(n, -2, 2);
    a.dx = pr.output("dx", n);
    return a;
  };
  s.reference = [](const k::DropoutBackwardArgs& a) { kc::dropout_backward_reference(a); };
  s.tol = {.f32 = 1e-6, .f64 = 1e-15};
  s.elements = 2.25 * double(n);
  s.gradcheck = [p] { return dropout_gradcheck(p); };
  return make_case(std::move(s));
}

}  // namespace hone::harness
