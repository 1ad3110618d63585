#pragma once
// HONE_HOST_DEVICE lives in the tensor layer (tensor/host_device.h), where the Philox
// generator and the strided-copy index arithmetic use it too; kernels keep this include.
#include "tensor/host_device.h"
