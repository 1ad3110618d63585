#pragma once
// gpu_check's layer suite (tests/gpu_layers.cpp): every distinct conv2d, batch norm, pooling
// and linear layer of the given models (traced, so the networks' own), replayed on CUDA.
#include <cstdint>
#include <string>
#include <vector>

#include "gpu_setup.h"
#include "tensor/device.h"

namespace hone::gpu_check {

// Batch 2 on `device` against the CPU: output and gradients within `tolerance` norm-wise.
// Prints a line per layer; returns the failures.
int check_layers(const std::vector<std::string>& models, double tolerance, Device device, const Setup& setup = {});

// Median forward and forward + backward times per layer and batch, ours and (where
// registered) the vendor's, with vendor / ours, exact float32 or with TF32 allowed. Returns
// the layers that failed to run.
int bench_layers(const std::vector<std::string>& models, const std::vector<int64_t>& batches, int reps, Device device,
                 bool tf32);

}  // namespace hone::gpu_check
