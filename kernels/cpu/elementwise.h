#pragma once
// Elementwise kernels over strided operands of one shape (the op layer expands broadcast
// inputs to stride-0 views first). All operands share one dtype.
#include <cstdint>
#include <vector>

#include "kernels/elementwise.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void unary(const UnaryArgs& args, const Exec& exec);    // float32/float64; Neg/Abs/Relu/Sign also integers
void binary(const BinaryArgs& args, const Exec& exec);  // float32/float64 and integers (Pow and *Backward: floats only)

}  // namespace hone::kernels::cpu
