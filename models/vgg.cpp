// Initialised as torchvision: convs kaiming-normal (fan_out, relu) with zero bias, BN
// weight 1 bias 0, linears N(0, 0.01) with zero bias.
#include "models/vgg.h"

#include "nn/init.h"

namespace hone::models {

namespace {
std::shared_ptr<nn::Linear> linear_layer(int64_t in, int64_t out, Generator* gen) {
  auto l = std::make_shared<nn::Linear>(in, out, true, gen, /*initialize=*/false);
  nn::init::normal_(l->weight, 0.0, 0.01, gen);
  nn::init::constant_(l->bias, 0.0);
  return l;
}
}  // namespace

VGG::VGG(const std::vector<int64_t>& layers, bool batch_norm, int64_t num_classes, Generator* gen)
    : Classifier("VGG"), batch_norm_(batch_norm), packed_convs_(std::make_shared<PackedConvCache>()) {
  auto features = std::make_shared<nn::Sequential>();
  int64_t in = 3;
  for (int64_t v : layers) {
    if (v == 0) {
      features->push_back(std::make_shared<nn::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}, .stride = {2, 2}}));
      continue;
    }
    auto c = std::make_shared<nn::Conv2d>(
        nn::Conv2dOptions{.in_channels = in, .out_channels = v, .kernel = {3, 3}, .padding = symmetric_padding(1, 1)}, gen,
        /*initialize=*/false);
    // As ResNet's convs: the default init's draws are skipped, so a seed builds the same model.
    skip_uniform(c->weight.numel(), gen);
    skip_uniform(c->bias.numel(), gen);
    nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::Out, gen);
    nn::init::constant_(c->bias, 0.0);
    features->push_back(c);
    if (batch_norm) features->push_back(std::make_shared<nn::BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = v}));
    features->push_back(std::make_shared<nn::ReLU>());
    in = v;
  }
  register_module("features", features);
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{7, 7}));
  register_module("classifier", std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
                                    linear_layer(in * 49, 4096, gen), std::make_shared<nn::ReLU>(),
                                    std::make_shared<nn::Dropout>(0.5), linear_layer(4096, 4096, gen),
                                    std::make_shared<nn::ReLU>(), std::make_shared<nn::Dropout>(0.5),
                                    linear_layer(4096, num_classes, gen)}));
}

Tensor VGG::forward_features(const Tensor& x) {
  HONE_CHECK(x.dim() == 4 && x.size(1) == 3, "VGG: expected input [N, 3, H, W], got ", x.shape());
  Tensor y = module("avgpool")(run_features(x)).flatten(1);
  auto& classifier = static_cast<nn::Sequential&>(module("classifier"));
  for (size_t i = 0; i + 1 < classifier.size(); ++i) y = (*classifier.children()[i].second)(y);
  return y;
}

Tensor VGG::run_features(const Tensor& x) {
  auto* features = dynamic_cast<nn::Sequential*>(&module("features"));
  if (!features) return module("features")(x);
  const auto& kids = features->children();
  // The frozen front runs blocked (blocked.h): each conv with the batch norm and ReLU after
  // it, and the max pools, as far as each is frozen and of the layers it was built with.
  Tensor y = x;
  size_t next = 0;   // the first layer not yet run
  size_t convs = 0;  // run blocked
  if (blocked_enabled_ && BlockedForward::available()) {
    BlockedForward f(*packed_convs_, blocked_isa_);
    std::unique_ptr<BlockedActivation> a;
    const auto layer = [&](size_t i) { return i < kids.size() ? kids[i].second.get() : nullptr; };
    while (next < kids.size() && BlockedForward::frozen(*layer(next), x)) {
      std::unique_ptr<BlockedActivation> out;
      size_t used = 1;
      if (auto* conv = dynamic_cast<nn::Conv2d*>(layer(next))) {
        auto* bn = dynamic_cast<nn::BatchNorm2d*>(layer(next + 1));
        if (bn && !BlockedForward::frozen(*bn, x)) bn = nullptr;
        used += bn ? 1 : 0;
        const bool relu = dynamic_cast<nn::ReLU*>(layer(next + used)) != nullptr;
        used += relu ? 1 : 0;
        if (!a) a = std::make_unique<BlockedActivation>(f.input(x, *conv));
        out = f.conv(*conv, bn, relu, *a);
      } else if (auto* pool = dynamic_cast<nn::MaxPool2d*>(layer(next)); pool && a) {
        out = f.max_pool(*pool, *a);
      }
      if (!out) break;
      a = std::move(out);
      next += used;
    }
    if (next > 0) y = f.tensor(*a);
    convs = f.convs();
  }
  last_blocked_convs_ = convs;
  for (; next < kids.size(); ++next) y = (*kids[next].second)(y);
  return y;
}

Tensor VGG::forward_head(const Tensor& features) { return module("classifier.6")(features); }

int64_t VGG::num_classes() const { return static_cast<nn::Linear&>(module("classifier.6")).out_features(); }

std::vector<std::string> VGG::stages() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : named_parameters()) {
    const std::string stage = name.substr(0, name.rfind('.'));  // features.0.weight -> features.0
    if (out.empty() || out.back() != stage) out.push_back(stage);
  }
  return out;
}

void VGG::replace_head(int64_t num_classes, Generator* gen) {
  auto& last = static_cast<nn::Linear&>(module("classifier.6"));
  replace_module("classifier.6", std::make_shared<nn::Linear>(last.in_features(), num_classes, true, gen));
}

namespace {
const std::vector<int64_t> kA = {64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kB = {64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512, 0};
const std::vector<int64_t> kD = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
const std::vector<int64_t> kE = {64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512, 0};
}  // namespace

std::shared_ptr<VGG> vgg11(int64_t n, bool bn, Generator* gen) { return std::make_shared<VGG>(kA, bn, n, gen); }
std::shared_ptr<VGG> vgg13(int64_t n, bool bn, Generator* gen) { return std::make_shared<VGG>(kB, bn, n, gen); }
std::shared_ptr<VGG> vgg16(int64_t n, bool bn, Generator* gen) { return std::make_shared<VGG>(kD, bn, n, gen); }
std::shared_ptr<VGG> vgg19(int64_t n, bool bn, Generator* gen) { return std::make_shared<VGG>(kE, bn, n, gen); }

}  // namespace hone::models
