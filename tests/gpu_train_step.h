#pragma once
// gpu_check's end-to-end part (tests/gpu_train_step.cpp): the whole training step on CUDA.
#include <cstdint>
#include <string>

#include "gpu_setup.h"
#include "tensor/device.h"

namespace hone::gpu_check {

// Two SGD steps of `model` on CUDA and on the CPU from the same weights and batch; each
// step's loss and every gradient must agree norm-wise within `tolerance`. Returns failures.
int check_train_step(const std::string& model, double tolerance, Device device, const Setup& setup = {});

// Times `steps` SGD steps at `batch` x 3 x size x size on `device` (after 3 warm-up steps)
// and prints the median, images/s and the CUDA allocator's peak. Returns 0, or 1 for a
// non-finite loss.
int bench_train_step(const std::string& model, int64_t batch, int64_t size, int steps, Device device,
                     const Setup& setup = {});

}  // namespace hone::gpu_check
