#pragma once
// load_onnx_weights: fills a built-in network (ResNet, VGG, or any module made of
// nn::Conv2d, nn::BatchNorm2d and nn::Linear) from an ONNX file, whatever the file's names
// (torchvision's "layer1.0.conv1.weight", the model zoo's "resnetv15_conv0_weight",
// exporter-made "onnx::Conv_193"), by matching the graph's structure to the model's:
//
//   the file's Conv, BatchNormalization and Gemm/MatMul layers, in the order data flows
//   through them, are paired with the model's Conv2d, BatchNorm2d and Linear layers in
//   registration order (torchvision's order: conv1, bn1, layer1.0.conv1, ...). Within a
//   residual block a downsample conv may come first in the file: the next few unpaired
//   model layers are searched for the first of the same shape, stride and padding.
//
// The model side is in registration order, not traced from its forward (as export_onnx
// does): a trace needs an input shape the loader does not know (files often leave H and W
// symbolic, and a model's channels are its own business), runs a whole forward (VGG-16:
// 15 GFLOP) where loading now computes nothing, and would miss a layer the forward does not
// run, which must stay an error here. Registration order is torchvision's data-flow order
// for every built-in network, and the lookahead above covers the one place files differ.
//
// Every tensor's shape is checked; the error names the first mismatch (the file's node, the
// model layer expected, both shapes). A layer left over on either side is an error.
//
// BN folded into Conv by the exporter (no BatchNormalization where the model has a
// BatchNorm2d after the Conv2d): the conv's weight (and bias, where the model's conv has
// one, as VGG-BN's do) go to the Conv2d, and the BatchNorm2d becomes an identity
// normalisation (mean 0, var 1 - eps, scale 1) carrying the folded bias where the conv has
// none, in Frozen mode so its statistics never move: outputs are exact, and the scale and
// bias still train.
#include <filesystem>

#include "nn/module.h"

namespace hone::io::onnx {

struct WeightsReport {
  int64_t convs = 0, batch_norms = 0, linears = 0;  // layers filled
  int64_t folded_batch_norms = 0;                   // BN layers rebuilt from a folded conv bias
  int64_t opset = 0;
  std::string producer;
};

WeightsReport load_onnx_weights(nn::Module& model, const std::filesystem::path& path);

}  // namespace hone::io::onnx
