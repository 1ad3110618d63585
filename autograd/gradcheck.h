#pragma once
// Finite-difference gradient check: compares the gradients backward computes with central
// differences (f(x+eps) - f(x-eps)) / 2eps, element by element, in float64.
#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hone {

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;  // an entry passes when |analytic - numeric| <= atol + rtol * |numeric|
  double rtol = 1e-3;
};

struct GradcheckInputReport {
  double max_abs_error = 0;  // worst |analytic - numeric| over the input's elements
  double max_rel_error = 0;  // worst |analytic - numeric| / max(|numeric|, 1e-12)
  bool checked = false;      // false for inputs that do not require grad
};

struct GradcheckResult {
  bool passed = true;
  std::vector<GradcheckInputReport> inputs;
  std::string report;  // one line per input: "input 0 [2,3]: max abs 1e-10, max rel 3e-9"
};

// `fn` maps the inputs to one output tensor (any shape). Inputs that require grad must be
// float64 CPU tensors; they are perturbed one element at a time and restored.
GradcheckResult gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, GradcheckOptions opts = {});

}  // namespace hone
