#pragma once
// The im2col lowerings of conv2d (kernels/cpu/conv2d_im2col.cpp); conv2d.cpp chooses
// between them and the direct kernel. Arguments are valid (validate_conv2d passed).
#include "kernels/cpu/conv2d.h"
#include "kernels/exec.h"

namespace hone::kernels::cpu::conv_im2col {

// float32, several images per GEMM (the chunk's columns stay under 8 MiB):
void forward_columns(const Conv2dForwardArgs& a, const Exec& exec);     // out = W x cols
void forward_transposed(const Conv2dForwardArgs& a, const Exec& exec);  // out^T = cols^T x W^T
void backward_columns(const Conv2dBackwardArgs& a, const Exec& exec);   // dW and dX (not db)

// float64, one image at a time with plain-loop products (gradient checks: exact, not fast).
void forward_float64(const Conv2dForwardArgs& a, const Exec& exec);
void backward_float64(const Conv2dBackwardArgs& a, const Exec& exec);  // dW and dX (not db)

}  // namespace hone::kernels::cpu::conv_im2col
