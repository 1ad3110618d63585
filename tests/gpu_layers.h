#pragma once
// gpu_check's layer suite (tests/gpu_layers.cpp): every distinct conv2d, batch norm, pooling
// and linear layer of the given models (traced, so the networks' own), replayed on CUDA.
#include <cstdint>
#include <string>
#include <vector>

#include "tensor/device.h"

namespace hone::gpu_check {

// Batch 2 on `device` against the CPU: output and gradients within `tolerance` norm-wise.
// Prints a line per layer; returns the failures.
int check_layers(const std::vector<std::string>& models, double tolerance, Device device);

// Median forward and forward + backward times per layer and batch, ours and (where
// registered) the vendor's, with vendor / ours. Returns the layers that failed to run.
int bench_layers(const std::vector<std::string>& models, const std::vector<int64_t>& batches, int reps, Device device);

}  // namespace hone::gpu_check
