#pragma once
// 2-D convolution on contiguous NCHW tensors (cross-correlation, as PyTorch and ONNX).
// Padding is per side (ONNX `pads` may be asymmetric); groups split channels.
// float32 runs one of three lowerings (Conv2dAlgorithm in kernels/conv2d.h): two im2col + GEMM forms
// (conv2d_im2col.cpp) and a direct register-blocked kernel (conv2d_direct.h); Auto picks
// by shape and CPU (conv2d_auto_algorithm). float64 runs im2col with plain-loop products.
// `*_reference` are the naive seven-loop definitions every lowering is tested against
// (conv2d_reference.cpp).
//
// Contract (as every op family's, docs/adding-an-op.md): the op validates the geometry
// once (validate_conv2d) before it allocates anything; the kernels assume it valid.
#include <cstdint>

#include "kernels/cpu/isa.h"
#include "kernels/conv2d.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

// What Auto runs for this geometry on this CPU (forward, or both gradients).
Conv2dAlgorithm conv2d_auto_algorithm(const Conv2dGeometry& g, bool backward);

// Whether `Direct` can run this geometry (float32) on this CPU, with `isa` (Auto: the
// widest this CPU has).
bool conv2d_direct_supported(const Conv2dGeometry& g, CpuIsa isa = CpuIsa::Auto);

void conv2d_forward(const Conv2dForwardArgs& args, const Exec& exec);
void conv2d_backward(const Conv2dBackwardArgs& args, const Exec& exec);
void conv2d_forward_reference(const Conv2dForwardArgs& args);
void conv2d_backward_reference(const Conv2dBackwardArgs& args);

}  // namespace hone::kernels::cpu
