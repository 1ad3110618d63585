#pragma once
// load_onnx_weights target: the input, written as model.onnx as in onnx_reader_target.h, is
// loaded into two fresh built-in networks in turn: a stem (conv 3->4 stride 2 + BN + max
// pool + linear 4->5, the layout of the zoo_stem seed) and a small ResNet (widths 4 and 8,
// a downsample block, 5 classes: hone_small_resnet.onnx, which hone exported). A network
// that took the weights must still run: its output on [2, 3, 8, 8] is [2, 5].
// Seeds: tests/fuzz/corpus/onnx.
#include "autograd/grad_mode.h"
#include "fuzz/fuzz_util.h"
#include "io/onnx/weights.h"
#include "models/resnet.h"
#include "nn/layers.h"

namespace hone::fuzz {

inline std::shared_ptr<nn::Module> weights_target_stem() {
  Generator gen(3);
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(
          nn::Conv2dOptions{.in_channels = 3, .out_channels = 4, .kernel = {3, 3}, .stride = {2, 2},
                            .padding = {1, 1, 1, 1}, .bias = false},
          &gen),
      std::make_shared<nn::BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = 4}), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::MaxPool2d>(Pool2dOptions{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}),
      std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(4, 5, true, &gen)});
}

inline std::shared_ptr<nn::Module> weights_target_resnet() {
  Generator gen(4);
  return models::small_resnet(5, 3, {4, 8}, {1, 1}, &gen);
}

inline bool onnx_weights_target(const uint8_t* data, size_t size) {
  const fs::path path = write_model(data, size);
  bool loaded = false;
  for (auto make : {weights_target_stem, weights_target_resnet}) {
    std::shared_ptr<nn::Module> net = make();
    try {
      io::onnx::load_onnx_weights(*net, path);
    } catch (const Error& e) {
      refused(e);
      continue;
    }
    loaded = true;
    NoGradGuard no_grad;
    net->eval();
    Generator gen(5);
    const Tensor y = (*net)(randn({2, 3, 8, 8}, {}, &gen));
    if (y.shape() != Shape{2, 5}) bug("a network that loaded the weights gives " + shape_str(y.shape()));
  }
  return loaded;
}

}  // namespace hone::fuzz
