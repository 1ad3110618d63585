#pragma once
// Internal to autograd/ops: the step between a differentiable op and its kernel. Checks
// devices, broadcasts to stride-0 views, allocates the output and calls the kernel for
// the tensors' device. Nothing here records autograd history.
#include <initializer_list>

#include "kernels/cpu/elementwise.h"
#include "tensor/tensor.h"

namespace hone::detail {

// Throws unless every defined tensor is on the CPU (ops without a CUDA kernel yet).
void require_cpu(const char* op, std::initializer_list<const Tensor*> tensors);
// Throws unless all defined tensors share one device, naming the devices.
void require_same_device(const char* op, std::initializer_list<const Tensor*> tensors);
// x seen with `shape` (which x broadcasts to) through stride-0 dims; no copy.
Tensor broadcast_to(const Tensor& x, const Shape& shape);

Tensor unary_kernel(kernels::UnaryOp op, const Tensor& x, double scalar = 0);
// a and b must share a dtype; they broadcast to a common shape.
Tensor binary_kernel(kernels::BinaryOp op, const Tensor& a, const Tensor& b, double alpha, const char* name);

}  // namespace hone::detail
