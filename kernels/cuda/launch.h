#pragma once
// Grid size for a grid-stride kernel (tensor/cuda_launch.h, shared with the tensor layer's
// copy and random kernels).
#include "tensor/cuda_launch.h"

namespace hone::kernels::cuda {

using hone::detail::grid_for;

}  // namespace hone::kernels::cuda
