#pragma once
// load_checkpoint target: the input is read as a checkpoint into fresh training objects (a
// 2-layer net: conv 1->2 + BN + linear 2->3; SGD with momentum or Adam; StepLR, early
// stopping, reduce-on-plateau), first with every part (SGD, then Adam), then into the model
// alone (a weights-only load, as `hone predict` does). Whatever was restored must train on:
// one forward, backward, optimizer and schedule step runs after a full load, an eval forward
// after a model-only load. Seeds: tests/fuzz/corpus/checkpoint, written by hone itself
// (write_checkpoint_seeds, run by FuzzSeeds.HoneWrittenFilesAreAcceptedByTheTargets).
#include "autograd/grad_mode.h"
#include "autograd/ops/nn.h"
#include "fuzz/fuzz_util.h"
#include "io/checkpoint.h"
#include "nn/layers.h"

namespace hone::fuzz {

struct CheckpointTraining {
  std::shared_ptr<nn::Sequential> net;
  std::unique_ptr<optim::Optimizer> opt;
  optim::StepLR schedule{0.1, 2, 0.5};
  optim::EarlyStopping stopper{optim::Mode::Min, 3};
  optim::ReduceOnPlateau plateau{};

  explicit CheckpointTraining(bool adam) {
    Generator gen(21);
    net = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
        std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 1, .out_channels = 2, .kernel = {3, 3}}, &gen),
        std::make_shared<nn::BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = 2}), std::make_shared<nn::ReLU>(),
        std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}), std::make_shared<nn::Flatten>(),
        std::make_shared<nn::Linear>(2, 3, true, &gen)});
    if (adam) opt = std::make_unique<optim::Adam>(net->parameters(), optim::AdamOptions{.lr = 0.01});
    else opt = std::make_unique<optim::SGD>(net->parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  }
  io::CheckpointParts parts() { return {net.get(), opt.get(), &schedule, &stopper, &plateau}; }

  // One training step on a fixed batch; returns the loss.
  double step() {
    Generator gen(22);
    const Tensor x = randn({2, 1, 6, 6}, {}, &gen), target = from_vector<int64_t>({0, 2});
    net->train();
    opt->zero_grad();
    Tensor loss = cross_entropy((*net)(x), target);
    loss.backward();
    opt->step();
    schedule.step(*opt);
    const double value = loss.item<double>();
    plateau.step(*opt, value);
    stopper.update(value);
    return value;
  }
};

inline bool checkpoint_target(const uint8_t* data, size_t size) {
  const fs::path path = Scratch::get().file("input.checkpoint");
  write_file(path, data, size);
  bool accepted = false;
  for (bool adam : {false, true}) {
    CheckpointTraining run(adam);
    try {
      io::load_checkpoint(path.string(), run.parts());
    } catch (const Error& e) {
      refused(e);
      continue;
    }
    run.step();  // a hone::Error here escapes: restored state that cannot train is a bug
    accepted = true;
    break;
  }
  CheckpointTraining weights_only(false);
  try {
    io::load_checkpoint(path.string(), {weights_only.net.get()});
  } catch (const Error& e) {
    refused(e);
    return accepted;
  }
  NoGradGuard no_grad;
  weights_only.net->eval();
  Generator gen(23);
  const Tensor y = (*weights_only.net)(randn({2, 1, 6, 6}, {}, &gen));
  if (y.shape() != Shape{2, 3}) bug("a model-only checkpoint load gives outputs of shape " + shape_str(y.shape()));
  return true;
}

// The seeds: after two training steps with each optimizer, every part saved.
inline void write_checkpoint_seeds(const fs::path& dir) {
  for (bool adam : {false, true}) {
    CheckpointTraining run(adam);
    run.step();
    run.step();
    io::save_checkpoint((dir / (adam ? "adam.safetensors" : "sgd.safetensors")).string(), run.parts(),
                        {.epoch = 1, .step = 2, .data_position = 4, .data_seed = 5, .rng_seed = 6, .rng_offset = 7,
                         .extra = {{"classes", "a,b,c"}}});
  }
}

}  // namespace hone::fuzz
