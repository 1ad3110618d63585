#pragma once
// conv2d on NCHW tensors through the channel-blocked kernels (nchwc.h): each call converts
// its operands into the blocked layout, runs the blocked tiles and converts the result
// back. Training's convs, whose activations stay NCHW between ops (batch norm and ReLU in
// training mode read and write NCHW), use it where the conversions cost less than the
// tiles gain over the NCHW kernels (conv2d_auto_algorithm, measured per layer).
//   forward:      the inference tile (bias in registers).
//   grad weight:  nchwc::conv_grad_weight over blocked x and dy (any stride).
//   grad input:   a conv of dy (padding k - 1 - p) with the weights' channel axes
//                 swapped and taps flipped; a strided conv's, one such conv per output
//                 phase (the taps that reach it), its outputs written stride apart.
#include "kernels/cpu/conv2d.h"

namespace hone::kernels::cpu::conv_blocked {

// The direct kernel's geometries (dilation 1, one group, each pad below the kernel size, a
// non-empty batch) and a CPU with blocked kernels for isa (AVX-512 or AVX2 + FMA).
bool supported(const Conv2dGeometry& g, CpuIsa isa = CpuIsa::Auto);

void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y, const Exec& exec,
             CpuIsa isa = CpuIsa::Auto);
// dx and dw may each be nullptr (not wanted).
void backward(const Conv2dGeometry& g, const float* x, const float* w, const float* dy, float* dx, float* dw,
              const Exec& exec, CpuIsa isa = CpuIsa::Auto);

}  // namespace hone::kernels::cpu::conv_blocked
