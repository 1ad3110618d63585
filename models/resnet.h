#pragma once
// ResNets with torchvision's structure and parameter names (conv1, bn1, layer1.0.conv1,
// layer2.0.downsample.0, fc, ...), so ImageNet weights map one to one. The same class
// builds a small configurable ResNet for 28x28 grey images.
#include <array>
#include <vector>

#include "models/blocked.h"
#include "models/classifier.h"
#include "nn/layers.h"

namespace hone::models {

struct ResNetConfig {
  bool bottleneck = false;                       // BasicBlock (18/34) or Bottleneck (50)
  std::vector<int64_t> blocks = {2, 2, 2, 2};    // blocks per stage
  std::vector<int64_t> widths = {64, 128, 256, 512};
  int64_t in_channels = 3;
  int64_t num_classes = 1000;
  int64_t stem_width = 64;
  int64_t stem_kernel = 7;   // 7x7 stride-2 stem; a small net uses 3 (stride 1)
  bool stem_pool = true;     // the 3x3 stride-2 max pool after the stem
};

class ResNet : public Classifier {
 public:
  explicit ResNet(const ResNetConfig& cfg, Generator* gen = nullptr);
  // Penultimate activations: the pooled, flattened features fed to fc ([N, features]).
  Tensor forward_features(const Tensor& x) override;
  Tensor forward_head(const Tensor& features) override;
  // A fresh fc with `num_classes` outputs (PyTorch's default Linear init).
  void replace_head(int64_t num_classes, Generator* gen = nullptr) override;
  int64_t num_classes() const override { return cfg_.num_classes; }
  int64_t feature_dim() const override;
  std::vector<std::string> head_patterns() const override { return {"fc.*"}; }
  const ResNetConfig& config() const { return cfg_; }

 private:
  ResNetConfig cfg_;
  std::shared_ptr<PackedConvCache> packed_convs_;  // the frozen convs' blocked weights (blocked.h)
};

std::shared_ptr<ResNet> resnet18(int64_t num_classes = 1000, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet34(int64_t num_classes = 1000, Generator* gen = nullptr);
std::shared_ptr<ResNet> resnet50(int64_t num_classes = 1000, Generator* gen = nullptr);
// The small ResNet for 28x28 grey images (Fashion-MNIST): 3x3 stem, no stem pool.
std::shared_ptr<ResNet> small_resnet(int64_t num_classes = 10, int64_t in_channels = 1,
                                     std::vector<int64_t> widths = {16, 32, 64}, std::vector<int64_t> blocks = {1, 1, 1},
                                     Generator* gen = nullptr);

}  // namespace hone::models
