#pragma once
// FLOPs per image of a network's forward pass, counted from its layers rather than quoted:
// every Conv2d and Linear contributes its multiply-adds at the shapes a forward at the given
// input size gives it. One multiply-add counts as 2 FLOPs, as the GFLOP/s of these
// benchmarks and the FMA peak do. (torchvision's tables quote multiply-adds, "GFLOPS" 1.81
// for ResNet-18 and 15.47 for VGG-16 at 224: 3.63 and 30.9 GFLOP here.) Batch norm, ReLU,
// pooling and additions are left out: they are not multiply-adds and cost little next to
// the convolutions.
#include <cstdint>

#include "nn/module.h"

namespace hone::bench {

struct NetworkFlops {
  double forward = 0;      // every Conv2d and Linear
  double first_layer = 0;  // the first of them (its input needs no gradient in a training step)
  double last_layer = 0;   // the last of them (the head)
};

// Per image, for an input of `channels` x `size` x `size`; runs one forward at batch 1.
NetworkFlops count_flops(nn::Module& net, int64_t channels, int64_t size);

// A training step: forward, then for each layer the weight gradient (as many FLOPs as its
// forward) and the input gradient (the same again) except the first layer's. Head-only
// (everything else frozen): forward plus the head's weight gradient.
inline double train_step_flops(const NetworkFlops& f) { return 3 * f.forward - f.first_layer; }
inline double head_only_step_flops(const NetworkFlops& f) { return f.forward + f.last_layer; }

}  // namespace hone::bench
