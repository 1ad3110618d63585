#pragma once
// Runs backward from one or more root tensors. See engine.cpp for the walk.
#include <vector>

#include "tensor/tensor.h"

namespace hone::autograd {

// Computes the gradients of `roots` (seeded with `grads`, one per root, same shapes) with
// respect to every leaf that requires grad, adding them into the leaves' .grad().
// Without retain_graph, tensors saved for backward are freed as each node finishes.
void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph = false);

}  // namespace hone::autograd
