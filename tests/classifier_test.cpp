// models::Classifier: one interface for built-in networks and imported ONNX graphs (head,
// features, stages, freezing by stage, frozen batch norm, re-initialisation).
#include "onnx_fixtures.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;
using hone::models::Classifier;

int64_t trainable(const Classifier& net) { return net.count_parameters().trainable; }

int64_t numel_under(const Classifier& net, const std::vector<std::string>& stages) {
  int64_t n = 0;
  for (const auto& [name, t] : net.named_parameters()) {
    const std::string path = net.stage_path(name);
    for (const auto& s : stages)
      if (path == s || path.rfind(s + ".", 0) == 0) n += t.numel();
  }
  return n;
}

TEST(Classifier, ResNetStagesHeadAndPartialFreezing) {
  hone::Generator g(1);
  auto net = hone::models::resnet18(1000, &g);
  EXPECT_EQ(net->stages(), (std::vector<std::string>{"conv1", "bn1", "layer1", "layer2", "layer3", "layer4", "fc"}));
  EXPECT_EQ(net->feature_dim(), 512);
  net->replace_head(3, &g);
  EXPECT_EQ(net->num_classes(), 3);
  net->freeze_before("layer3");
  EXPECT_EQ(trainable(*net), numel_under(*net, {"layer3", "layer4", "fc"}));
  net->freeze_batchnorm(false);
  for (const auto& [name, m] : net->named_modules())
    if (auto* bn = dynamic_cast<hone::nn::BatchNorm2d*>(m)) {
      const bool early = name == "bn1" || name.rfind("layer1", 0) == 0 || name.rfind("layer2", 0) == 0;
      EXPECT_EQ(bn->mode() == hone::nn::BatchNormMode::Frozen, early) << name;
    }
  EXPECT_EQ(net->head_parameters().size(), 2u);  // fc.weight, fc.bias
  hone::test::expect_error([&] { net->freeze_before("layer9"); }, {"no stage 'layer9'", "layer4"});
}

TEST(Classifier, FeatureExtractionFreezesAllButTheHead) {
  hone::Generator g(2);
  auto net = hone::models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
  net->replace_head(4, &g);
  net->freeze_backbone();
  EXPECT_EQ(trainable(*net), 16 * 4 + 4);
  hone::NoGradGuard no_grad;
  net->eval();
  const hone::Tensor x = hone::randn({2, 1, 28, 28});
  EXPECT_EQ(net->forward_features(x).shape(), (hone::Shape{2, 16}));
  hone::test::expect_close((*net)(x), net->forward_head(net->forward_features(x)), 0, 0);
}

TEST(Classifier, VggStagesAreFeatureIndices) {
  hone::Generator g(3);
  auto net = hone::models::vgg11(1000, true, &g);
  const auto stages = net->stages();
  EXPECT_EQ(stages.front(), "features.0");
  EXPECT_EQ(stages.back(), "classifier.6");
  net->freeze_before("features.8");
  EXPECT_FALSE(net->module("features.4").named_parameters().front().second.requires_grad());
  EXPECT_TRUE(net->module("features.8").named_parameters().front().second.requires_grad());
}

TEST(Classifier, ResetParametersDrawsFreshWeights) {
  hone::Generator g(4);
  auto net = hone::models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
  const hone::Tensor before_conv = net->state_dict().at("conv1.weight").clone();
  {
    hone::NoGradGuard no_grad;
    for (auto& [name, t] : net->named_buffers())
      if (name.find("running_var") != std::string::npos) t.fill_(3.0);
  }
  hone::Generator g2(5);
  net->reset_parameters(&g2);
  const auto after = net->state_dict();
  EXPECT_GT(hone::abs(after.at("conv1.weight") - before_conv).sum().item<double>(), 0.0);
  EXPECT_EQ(after.at("bn1.running_var").to_vector<float>(), std::vector<float>(8, 1.0f));
  EXPECT_EQ(after.at("bn1.weight").to_vector<float>(), std::vector<float>(8, 1.0f));
  // kaiming_uniform(a=sqrt(5)): |w| <= 1/sqrt(fan_in)
  const double bound = 1.0 / std::sqrt(1.0 * 9);
  for (float v : after.at("conv1.weight").to_vector<float>()) EXPECT_LE(std::abs(v), bound + 1e-6);
}

// torch.onnx.export of an eval-mode ResNet folds BN and names the weights onnx::Conv_N:
// stages still come out as the module names, from the nodes' scope names.
TEST(Classifier, ImportedBnFoldedExportHasTorchvisionStages) {
  namespace fx = hone::test::onnx_fixtures;
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  auto net = hone::io::onnx::import_onnx(fx::materialize(fx::fixture("tv_resnet18_op17_bn_folded"), dir, true));
  EXPECT_EQ(net->stages(), (std::vector<std::string>{"conv1", "layer1", "layer2", "layer3", "layer4", "fc"}));
  EXPECT_EQ(net->stage_path("onnx::Conv_214"), "layer2.0.downsample.0");
  EXPECT_EQ(net->feature_dim(), 512);
  EXPECT_EQ(net->num_classes(), 1000);
  net->replace_head(2);
  EXPECT_EQ(net->num_classes(), 2);
  EXPECT_EQ(net->head_patterns(), (std::vector<std::string>{"fc.weight", "fc.bias"}));
  net->freeze_before("layer4");
  EXPECT_EQ(trainable(*net), numel_under(*net, {"layer4", "fc"}));
  EXPECT_EQ(net->head_parameters().size(), 2u);
  hone::NoGradGuard no_grad;
  net->eval();
  const hone::Tensor x = hone::randn({2, 3, 224, 224});
  const hone::Tensor f = net->forward_features(x);
  EXPECT_EQ(f.shape(), (hone::Shape{2, 512}));
  hone::test::expect_close((*net)(x), net->forward_head(f), 0, 0);
}

// An imported graph with BatchNormalization nodes: freeze_batchnorm keeps the frozen
// stages' running statistics while training, and lets the trained stages' move.
TEST(Classifier, ImportedBatchNormFreezesWhereWeightsAre) {
  namespace fx = hone::test::onnx_fixtures;
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  auto net = hone::io::onnx::import_onnx(fx::materialize(fx::fixture("tv_resnet18_op17_bn_kept"), dir, true));
  net->replace_head(2);
  net->freeze_before("layer4");
  net->freeze_batchnorm(false);
  auto stat = [&](const char* name) { return net->weights().at(name).clone(); };
  const hone::Tensor early = stat("layer1.0.bn1.running_mean"), late = stat("layer4.0.bn1.running_mean");
  net->train();
  hone::Tensor loss = (*net)(hone::randn({2, 3, 224, 224})).sum();
  loss.backward();
  hone::test::expect_close(net->weights().at("layer1.0.bn1.running_mean"), early, 0, 0);
  EXPECT_GT(hone::abs(net->weights().at("layer4.0.bn1.running_mean") - late).sum().item<double>(), 0.0);
  EXPECT_FALSE(net->weights().at("layer3.1.conv2.weight").grad().defined());
  EXPECT_TRUE(net->weights().at("layer4.1.conv2.weight").grad().defined());
}

}  // namespace
