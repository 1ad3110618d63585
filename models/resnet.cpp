// ResNet as torchvision builds it: stem (conv1 7x7/2, bn1, relu, maxpool 3x3/2), four
// stages of residual blocks (the first block of stages 2-4 strides by 2 and projects the
// shortcut with a 1x1 conv + BN named "downsample"), global average pool, fc.
// Initialised as torchvision: convs kaiming-normal (fan_out, relu), BN weight 1 bias 0.
#include "models/resnet.h"

#include "models/blocked.h"
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

// The child `name` of a block, or null when it has none.
nn::Module* child(const nn::Module& block, const std::string& name) {
  for (const auto& [n, c] : block.children())
    if (n == name) return c.get();
  return nullptr;
}
// The child `name` as a T, or null (none, or a layer swapped in with replace_module).
template <class T>
T* child_as(const nn::Module& block, const std::string& name) {
  return dynamic_cast<T*>(child(block, name));
}

// A block's shortcut: its "downsample" child when it has one, else the input itself.
Tensor shortcut(const nn::Module& block, const Tensor& x) {
  nn::Module* down = child(block, "downsample");
  return down ? (*down)(x) : x;
}

// relu(bn(x)): one pass when the layer is our BatchNorm2d (the same numbers bit for bit),
// else whatever module sits there, then relu.
Tensor bn_relu(nn::Module& layer, const Tensor& x) {
  if (auto* b = dynamic_cast<BatchNorm2d*>(&layer)) return b->forward_relu(x);
  return relu(layer(x));
}

// A residual block that can also run blocked, as inference (blocked.h).
class ResidualBlock : public nn::Module {
 public:
  using nn::Module::Module;
  // The block on a blocked input: its convs with their batch norms folded and ReLUs fused,
  // the shortcut added in the last conv. Null when a child is not the layer it was built
  // with, or a conv cannot run blocked; the block then runs the ordinary way.
  virtual std::unique_ptr<BlockedActivation> forward_blocked(BlockedForward& f, const BlockedActivation& x) const = 0;

 protected:
  // out = relu(bn_last(conv_last(h)) + shortcut(x)), h the main path's input to its last conv.
  std::unique_ptr<BlockedActivation> finish_blocked(BlockedForward& f, const BlockedActivation& x,
                                                    const BlockedActivation& h, const std::string& last) const {
    auto* conv = child_as<nn::Conv2d>(*this, "conv" + last);
    auto* bn = child_as<BatchNorm2d>(*this, "bn" + last);
    if (!conv || !bn) return nullptr;
    std::unique_ptr<BlockedActivation> projected;
    if (nn::Module* down = child(*this, "downsample")) {  // conv + batch norm, as built
      auto* seq = dynamic_cast<nn::Sequential*>(down);
      if (!seq || seq->size() != 2) return nullptr;
      auto* dconv = child_as<nn::Conv2d>(*seq, "0");
      auto* dbn = child_as<BatchNorm2d>(*seq, "1");
      if (!dconv || !dbn || !(projected = f.conv(*dconv, dbn, false, x))) return nullptr;
    }
    return f.conv(*conv, bn, true, h, projected ? projected.get() : &x);
  }
};

class BasicBlock : public ResidualBlock {
 public:
  BasicBlock(int64_t in, int64_t width, int64_t stride, Generator* gen) : ResidualBlock("BasicBlock") {
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
  std::unique_ptr<BlockedActivation> forward_blocked(BlockedForward& f, const BlockedActivation& x) const override {
    auto* conv1 = child_as<nn::Conv2d>(*this, "conv1");
    auto* bn1 = child_as<BatchNorm2d>(*this, "bn1");
    if (!conv1 || !bn1) return nullptr;
    auto h = f.conv(*conv1, bn1, true, x);
    return h ? finish_blocked(f, x, *h, "2") : nullptr;
  }
  static constexpr int64_t expansion = 1;
};

// torchvision's v1.5 bottleneck: the stride sits on the 3x3 conv.
class Bottleneck : public ResidualBlock {
 public:
  Bottleneck(int64_t in, int64_t width, int64_t stride, Generator* gen) : ResidualBlock("Bottleneck") {
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
  std::unique_ptr<BlockedActivation> forward_blocked(BlockedForward& f, const BlockedActivation& x) const override {
    auto* conv1 = child_as<nn::Conv2d>(*this, "conv1");
    auto* bn1 = child_as<BatchNorm2d>(*this, "bn1");
    auto* conv2 = child_as<nn::Conv2d>(*this, "conv2");
    auto* bn2 = child_as<BatchNorm2d>(*this, "bn2");
    if (!conv1 || !bn1 || !conv2 || !bn2) return nullptr;
    auto h1 = f.conv(*conv1, bn1, true, x);
    auto h2 = h1 ? f.conv(*conv2, bn2, true, *h1) : nullptr;
    return h2 ? finish_blocked(f, x, *h2, "3") : nullptr;
  }
  static constexpr int64_t expansion = 4;
};

}  // namespace

ResNet::ResNet(const ResNetConfig& cfg, Generator* gen)
    : Classifier("ResNet"), cfg_(cfg), packed_convs_(std::make_shared<PackedConvCache>()) {
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
  const auto& kids = children();
  // The frozen front runs blocked (blocked.h) from the stem on, child by child and block by
  // block, as far as each is frozen and of the layers it was built with; the rest, from
  // where that stops, runs the ordinary way.
  Tensor y = x;
  size_t next = 0;       // the first child not yet run
  size_t next_block = 0;  // within it (a stage), the first block not yet run
  size_t convs = 0;      // run blocked
  auto* conv1 = child_as<nn::Conv2d>(*this, "conv1");
  auto* bn1 = child_as<BatchNorm2d>(*this, "bn1");
  if (blocked_enabled_ && BlockedForward::available() && kids.size() > 3 && conv1 == kids[0].second.get() &&
      bn1 == kids[1].second.get() && dynamic_cast<nn::ReLU*>(kids[2].second.get()) && BlockedForward::frozen(*conv1, x) &&
      BlockedForward::frozen(*bn1, x)) {
    BlockedForward f(*packed_convs_, blocked_isa_);
    std::unique_ptr<BlockedActivation> a = f.conv(*conv1, bn1, true, f.input(x, *conv1));
    if (a) next = 3;
    for (; a && next < kids.size(); ++next) {
      nn::Module& child = *kids[next].second;
      auto* stage = dynamic_cast<nn::Sequential*>(&child);
      if (!stage && !BlockedForward::frozen(child, x)) break;
      if (auto* pool = dynamic_cast<nn::MaxPool2d*>(&child)) {
        auto pooled = f.max_pool(*pool, *a);
        if (!pooled) break;
        a = std::move(pooled);
      } else if (stage) {
        for (; next_block < stage->size(); ++next_block) {
          auto* block = dynamic_cast<ResidualBlock*>(stage->children()[next_block].second.get());
          auto out = block && BlockedForward::frozen(*block, x) ? block->forward_blocked(f, *a) : nullptr;
          if (!out) break;
          a = std::move(out);
        }
        if (next_block < stage->size()) break;
        next_block = 0;
      } else if (auto* avg = dynamic_cast<nn::AdaptiveAvgPool2d*>(&child);
                 avg && avg->output_size() == std::array<int64_t, 2>{1, 1}) {
        y = f.global_avg_pool(*a);
        a.reset();
      } else {
        break;
      }
    }
    if (a) y = f.tensor(*a);
    convs = f.convs();
  }
  last_blocked_convs_ = convs;
  for (; next < kids.size(); ++next) {
    const auto& [name, child] = kids[next];
    if (name == "fc") break;
    if (auto* stage = dynamic_cast<nn::Sequential*>(child.get()); stage && next_block > 0) {
      for (; next_block < stage->size(); ++next_block) y = (*stage->children()[next_block].second)(y);
      next_block = 0;
      continue;
    }
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
