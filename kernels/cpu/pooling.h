#pragma once
// 2-D pooling on contiguous NCHW tensors: max (with the argmax of each window, for
// backward), average, and adaptive average (a window per output chosen to tile the input).
// Padding is per side, as ONNX `pads` may be asymmetric. Sizes, divisors and tie-breaking
// follow PyTorch exactly, so pretrained models and their test vectors carry over.
// `*_reference` are naive loops straight from the definitions, for the tests.
// The op validates the geometry once (validate_pool2d); the kernels assume it valid.
#include <cstdint>

#include "kernels/pooling.h"
#include "kernels/cpu/isa.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void max_pool2d_forward(const MaxPool2dForwardArgs& args, const Exec& exec);
// The same with the vector instructions chosen (Auto: the widest this CPU has; tests force
// each the CPU supports; float32's interior outputs use them).
void max_pool2d_forward(const MaxPool2dForwardArgs& args, const Exec& exec, CpuIsa isa);
void max_pool2d_backward(const MaxPool2dBackwardArgs& args, const Exec& exec);
void avg_pool2d_forward(const AvgPool2dForwardArgs& args, const Exec& exec);
void avg_pool2d_backward(const AvgPool2dBackwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& args, const Exec& exec);

void max_pool2d_reference(const MaxPool2dForwardArgs& args);
void avg_pool2d_reference(const AvgPool2dForwardArgs& args);
void adaptive_avg_pool2d_reference(const AdaptiveAvgPool2dForwardArgs& args);

}  // namespace hone::kernels::cpu
