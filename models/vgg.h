#pragma once
// VGG-11/13/16/19, with and without batch norm, as torchvision builds them: "features"
// (a Sequential whose indices match torchvision's, so features.0.weight is the first
// conv), "avgpool" (adaptive 7x7), "classifier" (Linear 25088-4096, ReLU, Dropout,
// Linear 4096-4096, ReLU, Dropout, Linear 4096-num_classes).
#include "models/blocked.h"
#include "models/classifier.h"
#include "nn/layers.h"

namespace hone::models {

class VGG : public Classifier {
 public:
  // `layers`: output channels per conv, 0 for a 2x2 max pool (torchvision's "M").
  VGG(const std::vector<int64_t>& layers, bool batch_norm, int64_t num_classes = 1000, Generator* gen = nullptr);
  Tensor forward_features(const Tensor& x) override;  // classifier input to its last Linear: [N, 4096]
  Tensor forward_head(const Tensor& features) override;
  void replace_head(int64_t num_classes, Generator* gen = nullptr) override;  // a fresh classifier.6
  int64_t num_classes() const override;
  int64_t feature_dim() const override { return 4096; }
  std::vector<std::string> head_patterns() const override { return {"classifier.6.*"}; }
  // features.N for each conv (and BN), then classifier.0, classifier.3, classifier.6.
  std::vector<std::string> stages() const override;
  bool batch_norm() const { return batch_norm_; }

 private:
  Tensor run_features(const Tensor& x);  // features, its frozen front blocked
  bool batch_norm_;
  std::shared_ptr<PackedConvCache> packed_convs_;  // the frozen convs' blocked weights (blocked.h)
};

std::shared_ptr<VGG> vgg11(int64_t num_classes = 1000, bool batch_norm = false, Generator* gen = nullptr);
std::shared_ptr<VGG> vgg13(int64_t num_classes = 1000, bool batch_norm = false, Generator* gen = nullptr);
std::shared_ptr<VGG> vgg16(int64_t num_classes = 1000, bool batch_norm = false, Generator* gen = nullptr);
std::shared_ptr<VGG> vgg19(int64_t num_classes = 1000, bool batch_norm = false, Generator* gen = nullptr);

}  // namespace hone::models
