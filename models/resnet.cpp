// ResNet as torchvision builds it: stem (conv1 7x7/2, bn1, relu, maxpool 3x3/2), four
// stages of residual blocks (the first block of stages 2-4 strides by 2 and projects the
// shortcut with a 1x1 conv + BN named "downsample"), global average pool, fc.
// Initialised as torchvision: convs kaiming-normal (fan_out, relu), BN weight 1 bias 0.
#include "models/resnet.h"

#include "nn/init.h"

namespace hone::models {

namespace {

using nn::BatchNorm2d;
using nn::Conv2d;

std::shared_ptr<Conv2d> conv(int64_t in, int64_t out, int64_t k, int64_t stride, Generator* gen) {
  auto c = std::make_shared<Conv2d>(nn::Conv2dOptions{.in_channels = in, .out_channels = out, .kernel = {k, k},
                                                      .stride = {stride, stride},
                                                      .padding = symmetric_padding(k / 2, k / 2), .bias = false},
                                    gen, /*initialize=*/false);
  // Convs used to draw PyTorch's default init first and then overwrite it: the generator
  // still skips those draws, so a seed builds the same model as before.
  skip_uniform(c->weight.numel(), gen);
  nn::init::kaiming_normal_(c->weight, 0.0, nn::init::FanMode::Out, gen);
  return c;
}
std::shared_ptr<BatchNorm2d> bn(int64_t c) { return std::make_shared<BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = c}); }

// A block's shortcut: its "downsample" child when it has one, else the input itself.
Tensor shortcut(const nn::Module& block, const Tensor& x) {
  for (const auto& [name, child] : block.children())
    if (name == "downsample") return (*child)(x);
  return x;
}

// relu(bn(x)): one pass when the layer is our BatchNorm2d (the same numbers bit for bit),
// else whatever module sits there, then relu.
Tensor bn_relu(nn::Module& layer, const Tensor& x) {
  if (auto* b = dynamic_cast<BatchNorm2d*>(&layer)) return b->forward_relu(x);
  return relu(layer(x));
}

class BasicBlock : public nn::Module {
 public:
  BasicBlock(int64_t in, int64_t width, int64_t stride, Generator* gen) : Module("BasicBlock") {
    register_module("conv1", conv(in, width, 3, stride, gen));
    register_module("bn1", bn(width));
    register_module("conv2", conv(width, width, 3, 1, gen));
    register_module("bn2", bn(width));
    if (stride != 1 || in != width)
      register_module("downsample", std::make_shared<nn::Sequential>(
                                        std::initializer_list<std::shared_ptr<Module>>{conv(in, width, 1, stride, gen), bn(width)}));
  }
  // Children are looked up by name on every call (as ResNet and VGG do), so a module put
  // in with replace_module("layer1.0.conv1", ...) is the one that runs.
  Tensor forward(const Tensor& x) override {
    Tensor out = bn_relu(module("bn1"), module("conv1")(x));
    out = module("bn2")(module("conv2")(out));
    return add_relu(out, shortcut(*this, x));
  }
  static constexpr int64_t expansion = 1;
};

// torchvision's v1.5 bottleneck: the stride sits on the 3x3 conv.
class Bottleneck : public nn::Module {
 public:
  Bottleneck(int64_t in, int64_t width, int64_t stride, Generator* gen) : Module("Bottleneck") {
    const int64_t out = width * expansion;
    register_module("conv1", conv(in, width, 1, 1, gen));
    register_module("bn1", bn(width));
    register_module("conv2", conv(width, width, 3, stride, gen));
    register_module("bn2", bn(width));
    register_module("conv3", conv(width, out, 1, 1, gen));
    register_module("bn3", bn(out));
    if (stride != 1 || in != out)
      register_module("downsample", std::make_shared<nn::Sequential>(
                                        std::initializer_list<std::shared_ptr<Module>>{conv(in, out, 1, stride, gen), bn(out)}));
  }
  Tensor forward(const Tensor& x) override {
    Tensor out = bn_relu(module("bn1"), module("conv1")(x));
    out = bn_relu(module("bn2"), module("conv2")(out));
    out = module("bn3")(module("conv3")(out));
    return add_relu(out, shortcut(*this, x));
  }
  static constexpr int64_t expansion = 4;
};

}  // namespace

ResNet::ResNet(const ResNetConfig& cfg, Generator* gen) : Classifier("ResNet"), cfg_(cfg) {
  HONE_CHECK(!cfg.blocks.empty() && cfg.blocks.size() == cfg.widths.size(), "ResNet: ", cfg.blocks.size(),
             " stage block counts for ", cfg.widths.size(), " widths");
  const int64_t stem_stride = cfg.stem_kernel == 7 ? 2 : 1;
  register_module("conv1", conv(cfg.in_channels, cfg.stem_width, cfg.stem_kernel, stem_stride, gen));
  register_module("bn1", bn(cfg.stem_width));
  register_module("relu", std::make_shared<nn::ReLU>());
  if (cfg.stem_pool)
    register_module("maxpool", std::make_shared<nn::MaxPool2d>(
                                   Pool2dOptions{.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1, 1, 1}}));
  int64_t in = cfg.stem_width;
  const int64_t expansion = cfg.bottleneck ? Bottleneck::expansion : BasicBlock::expansion;
  for (size_t s = 0; s < cfg.blocks.size(); ++s) {
    auto stage = std::make_shared<nn::Sequential>();
    for (int64_t b = 0; b < cfg.blocks[s]; ++b) {
      const int64_t stride = (s > 0 && b == 0) ? 2 : 1;
      if (cfg.bottleneck) stage->push_back(std::make_shared<Bottleneck>(in, cfg.widths[s], stride, gen));
      else stage->push_back(std::make_shared<BasicBlock>(in, cfg.widths[s], stride, gen));
      in = cfg.widths[s] * expansion;
    }
    register_module("layer" + std::to_string(s + 1), stage);
  }
  register_module("avgpool", std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{1, 1}));
  register_module("fc", std::make_shared<nn::Linear>(in, cfg.num_classes, true, gen));
}

int64_t ResNet::feature_dim() const {
  return cfg_.widths.back() * (cfg_.bottleneck ? Bottleneck::expansion : BasicBlock::expansion);
}

Tensor ResNet::forward_features(const Tensor& x) {
  HONE_CHECK(x.dim() == 4 && x.size(1) == cfg_.in_channels, "ResNet: expected input [N, ", cfg_.in_channels,
             ", H, W], got ", x.shape());
  Tensor y = x;
  for (auto& [name, child] : children()) {
    if (name == "fc") break;
    y = (*child)(y);
  }
  return y.flatten(1);
}

Tensor ResNet::forward_head(const Tensor& features) { return module("fc")(features); }

void ResNet::replace_head(int64_t num_classes, Generator* gen) {
  replace_module("fc", std::make_shared<nn::Linear>(feature_dim(), num_classes, true, gen));
  cfg_.num_classes = num_classes;
}

std::shared_ptr<ResNet> resnet18(int64_t n, Generator* gen) {
  return std::make_shared<ResNet>(ResNetConfig{.blocks = {2, 2, 2, 2}, .num_classes = n}, gen);
}
std::shared_ptr<ResNet> resnet34(int64_t n, Generator* gen) {
  return std::make_shared<ResNet>(ResNetConfig{.blocks = {3, 4, 6, 3}, .num_classes = n}, gen);
}
std::shared_ptr<ResNet> resnet50(int64_t n, Generator* gen) {
  return std::make_shared<ResNet>(ResNetConfig{.bottleneck = true, .blocks = {3, 4, 6, 3}, .num_classes = n}, gen);
}
std::shared_ptr<ResNet> small_resnet(int64_t n, int64_t in_channels, std::vector<int64_t> widths,
                                     std::vector<int64_t> blocks, Generator* gen) {
  HONE_CHECK(!widths.empty(), "small_resnet: needs at least one stage");
  return std::make_shared<ResNet>(ResNetConfig{.blocks = std::move(blocks), .widths = widths, .in_channels = in_channels,
                                               .num_classes = n, .stem_width = widths[0], .stem_kernel = 3,
                                               .stem_pool = false},
                                  gen);
}

}  // namespace hone::models
