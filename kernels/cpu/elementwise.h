#pragma once
// Elementwise kernels over strided operands of one shape (the op layer expands broadcast
// inputs to stride-0 views first). All operands share one dtype.
#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void unary(const UnaryArgs& args, const Exec& exec);    // float32/float64; Neg/Abs/Relu/Sign also integers
void binary(const BinaryArgs& args, const Exec& exec);  // float32/float64 and integers (Pow and *Backward: floats only)

// The definitions, one element at a time over the strides (floats computed in double,
// integers exactly), that the fast kernels are tested against.
void unary_reference(const UnaryArgs& args);
void binary_reference(const BinaryArgs& args);

}  // namespace hone::kernels::cpu
