#pragma once
// The vendor kernels (kernels/vendor/vendor.h says what each maps to), over the contracts of
// kernels/{conv2d,batchnorm,pooling,matmul}.h. Compiled; no GPU has run them yet.
#include "kernels/batchnorm.h"
#include "kernels/conv2d.h"
#include "kernels/exec.h"
#include "kernels/matmul.h"
#include "kernels/pooling.h"

namespace hone::kernels::vendor {

void conv2d_forward(const Conv2dForwardArgs& args, const Exec& exec);
void conv2d_backward(const Conv2dBackwardArgs& args, const Exec& exec);
void batchnorm_forward(const BatchNormForwardArgs& args, const Exec& exec);
void batchnorm_backward(const BatchNormBackwardArgs& args, const Exec& exec);
void avg_pool2d_forward(const AvgPool2dForwardArgs& args, const Exec& exec);
void avg_pool2d_backward(const AvgPool2dBackwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& args, const Exec& exec);
void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& args, const Exec& exec);
void matmul(const MatmulArgs& args, const Exec& exec);

}  // namespace hone::kernels::vendor
