#pragma once
// Direct convolution for undilated, ungrouped float32 convs (every conv of ResNet and VGG),
// on CPUs with AVX-512 or AVX2 + FMA (conv2d_direct_tiles.h). No columns matrix: the input is copied once into a zero-padded "grid" whose
// rows and images share their padding, and a register-blocked kernel reads every tap as a
// shifted contiguous row of that grid.
//
// The grid (stride 1): channel c holds image n's pixel (y, x) at n*rows*S + y*S + x, where
// the row stride S = W + max(pad_left, pad_right) and rows = H + max(pad_top, pad_bottom);
// the extra columns and rows are zeros, and they serve as the right padding of one row and
// the left padding of the next (likewise for images). Output pixel (n, oy, ox) sits at the
// same grid position q = n*rows*S + oy*S + ox, and tap (ky, kx) reads input position
// q + (ky - pad_top)*S + (kx - pad_left). So out[co, q] = sum over (tap, ci) of
// W[co, ci, tap] * grid[ci, q + offset(tap)]: a GEMM whose B rows are shifted views.
// Grid positions that are not output pixels (ox >= out_w, oy >= out_h) are computed and
// dropped: 3-7% of the work at 56x56 and 28x28, 13% at 14x14, 23% at 7x7.
//
// Stride s: the input is split into s x s phases (pixels (s*y + py, s*x + px)), each its
// own grid channel block; tap (ky, kx) reads phase ((ky - pad_top) mod s, ...) shifted by
// floor((ky - pad_top) / s) rows, so a strided conv is a stride-1 sum over phases.
//
// Backward: grad input is, for each phase of dX, the same kernel over dY's grid with the
// taps that reach that phase and the kernel's channel axes swapped (stride 1: the flipped
// kernel with padding k-1-p); grad weight is dW^T[(ci, tap), co] = sum over q of
// grid[ci, q + offset(tap)] * dY^T[q, co] with dY transposed onto the output grid.
// Every output element is summed by one thread in an order fixed by the shapes, so results
// are the same for any thread count.
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/gemm.h"

namespace hone::kernels::cpu::conv_direct {

// Geometry only (dilation 1, one group, each pad < kernel size). The caller also checks the
// dtype and that isas() is not empty.
bool geometry_supported(const Conv2dGeometry& g);
// The ISAs this CPU can run the kernel with, widest first (AVX-512, AVX2); Auto below
// means the first of them. An ISA the CPU lacks is a hone::Error.
const std::vector<CpuIsa>& isas();
// Share of the forward grid's positions that are output pixels.
double grid_utilisation(const Conv2dGeometry& g, CpuIsa isa = CpuIsa::Auto);

void forward(const Conv2dGeometry& g, const float* x, const float* w, const float* bias, float* y, const Exec& exec,
             CpuIsa isa = CpuIsa::Auto);
void grad_input(const Conv2dGeometry& g, const float* w, const float* dy, float* dx, const Exec& exec,
                CpuIsa isa = CpuIsa::Auto);
void grad_weight(const Conv2dGeometry& g, const float* x, const float* dy, float* dw, const Exec& exec,
                 CpuIsa isa = CpuIsa::Auto);

}  // namespace hone::kernels::cpu::conv_direct
