// The built-in networks' frozen front on the blocked path (models/blocked.h) against the same
// network with the path off: ResNet-18/50, a small grey ResNet and a VGG with batch norm in
// eval mode, the frozen stages of a partial fine-tune (outputs and gradients), what must
// fall back to the ordinary layers, and weights changed between forwards.
#include "models/blocked.h"
#include "models/resnet.h"
#include "models/vgg.h"
#include "test_util.h"

namespace hone {
namespace {

using kernels::cpu::CpuIsa;

double rel_err(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.contiguous().to_vector<float>(), y = b.contiguous().to_vector<float>();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) num += (double(x[i]) - y[i]) * (double(x[i]) - y[i]), den += double(y[i]) * y[i];
  return std::sqrt(num / std::max(den, 1e-30));
}

// Batch norm statistics and affine weights away from 1 and 0, so a wrong fold shows.
void randomize_batchnorm(nn::Module& m, uint64_t seed) {
  NoGradGuard no_grad;
  Generator gen(seed);
  for (auto& [name, mod] : m.named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(mod)) {
      const Shape s{bn->options().num_features};
      bn->weight.copy_(uniform(s, 0.5, 1.5, {}, &gen));
      bn->bias.copy_(uniform(s, -0.2, 0.2, {}, &gen));
      bn->running_mean.copy_(uniform(s, -0.1, 0.1, {}, &gen));
      bn->running_var.copy_(uniform(s, 0.5, 1.5, {}, &gen));
    }
}

std::vector<CpuIsa> blocked_isas() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2})
    if (kernels::cpu::cpu_isa_supported(isa)) out.push_back(isa);
  return out;
}

#define REQUIRE_BLOCKED() \
  if (!models::BlockedForward::available()) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2 + FMA: no blocked path"

// The forward in eval mode with the path on (each ISA) and off; returns the convs run blocked.
void expect_same_forward(models::Classifier& net, const Tensor& x, size_t expected_convs) {
  net.eval();
  NoGradGuard no_grad;
  net.set_blocked_inference(false);
  const Tensor slow = net.forward(x);
  EXPECT_EQ(net.last_blocked_convs(), 0u);
  for (CpuIsa isa : blocked_isas()) {
    SCOPED_TRACE(kernels::cpu::cpu_isa_name(isa));
    net.set_blocked_inference(true, isa);
    const Tensor fast = net.forward(x);
    EXPECT_EQ(net.last_blocked_convs(), expected_convs);
    EXPECT_LT(rel_err(fast, slow), 1e-5);
  }
  net.set_blocked_inference(true);
}

// Every conv of the backbone (stem 1, blocks 16, downsample 3) runs blocked with its batch
// norm, ReLU and residual add; the pools too (the output would differ otherwise).
TEST(ModelsBlocked, ResNet18InEvalModeMatchesTheOrdinaryPath) {
  REQUIRE_BLOCKED();
  Generator gen(3);
  auto net = models::resnet18(10, &gen);
  randomize_batchnorm(*net, 4);
  expect_same_forward(*net, uniform({2, 3, 64, 64}, -1, 1, {}, &gen), 20);
}

TEST(ModelsBlocked, BottlenecksAndASmallGreyResNetMatchTheOrdinaryPath) {
  REQUIRE_BLOCKED();
  Generator gen(5);
  auto r50 = models::resnet50(7, &gen);
  randomize_batchnorm(*r50, 6);
  expect_same_forward(*r50, uniform({1, 3, 64, 64}, -1, 1, {}, &gen), 1 + 16 * 3 + 4);
  // 3x3 stem over one channel (the input's lanes are its 1 channel), no stem pool, a
  // stride-2 projection in each later stage.
  auto small = models::small_resnet(10, 1, {16, 32, 64}, {1, 1, 1}, &gen);
  randomize_batchnorm(*small, 7);
  expect_same_forward(*small, uniform({3, 1, 28, 28}, -1, 1, {}, &gen), 1 + 2 * 3 + 2);
}

// VGG with batch norm: each conv takes the batch norm and ReLU after it; the max pools run
// blocked between them (a small VGG: the classifier of a real one is 100M weights).
TEST(ModelsBlocked, VggWithBatchNormMatchesTheOrdinaryPath) {
  REQUIRE_BLOCKED();
  Generator gen(8);
  models::VGG net({16, 0, 32, 32, 0, 64, 0}, true, 5, &gen);
  randomize_batchnorm(net, 9);
  expect_same_forward(net, uniform({2, 3, 32, 32}, -1, 1, {}, &gen), 4);
  models::VGG plain({16, 16, 0, 32, 0}, false, 5, &gen);
  expect_same_forward(plain, uniform({2, 3, 20, 20}, -1, 1, {}, &gen), 3);
}

// A partial fine-tune in training mode, layer3 on trained, batch norm frozen where frozen
// (hone finetune's default): the stem, layer1 and layer2 run blocked; gradients reach
// the trained parameters as they do with the path off.
TEST(ModelsBlocked, FrozenStagesOfAPartialFineTuneRunBlocked) {
  REQUIRE_BLOCKED();
  Generator gen(10);
  auto net = models::resnet18(3, &gen);
  randomize_batchnorm(*net, 11);
  net->freeze_before("layer3");
  net->freeze_batchnorm(true);  // batch statistics of 2 images would amplify rounding
  net->train();
  const Tensor x = uniform({2, 3, 64, 64}, -1, 1, {}, &gen);
  const Tensor y = from_vector(std::vector<int64_t>{0, 2}, {2}, {.dtype = DType::Int64});
  std::vector<Tensor> grads[2], outs;
  size_t blocked = 0;
  for (bool on : {true, false}) {
    net->set_blocked_inference(on);
    for (auto& p : net->parameters()) p.set_grad(Tensor());
    Tensor out = net->forward(x);
    if (on) blocked = net->last_blocked_convs();
    cross_entropy(out, y).backward();
    outs.push_back(out.detach());
    for (auto& p : net->parameters())
      if (p.requires_grad()) grads[on ? 0 : 1].push_back(p.grad().clone());
  }
  EXPECT_EQ(blocked, 1u + 4 + 5);  // the stem, layer1, layer2 (with its projection)
  EXPECT_LT(rel_err(outs[0], outs[1]), 1e-5);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  ASSERT_FALSE(grads[0].empty());
  for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_LT(rel_err(grads[0][i], grads[1][i]), 1e-4) << i;
}

// What must not run blocked does not: batch norm on batch statistics, an input that wants a
// gradient, trainable weights, a layer swapped in; the path stops there and the rest runs
// the ordinary way.
TEST(ModelsBlocked, WhatNeedsTheOrdinaryLayersFallsBack) {
  REQUIRE_BLOCKED();
  Generator gen(12);
  auto net = models::resnet18(4, &gen);
  randomize_batchnorm(*net, 13);
  const Tensor x = uniform({2, 3, 32, 32}, -1, 1, {}, &gen);
  net->freeze();
  net->train();  // batch norm on batch statistics: nothing is inference
  net->forward(x);
  EXPECT_EQ(net->last_blocked_convs(), 0u);
  net->eval();
  Tensor leaf = x.clone();
  leaf.set_requires_grad();
  net->forward(leaf);
  EXPECT_EQ(net->last_blocked_convs(), 0u) << "an input that wants a gradient";
  net->unfreeze({"layer2.1.*"});
  net->forward(x);
  EXPECT_EQ(net->last_blocked_convs(), 1u + 4 + 3) << "stops at layer2.1, whose weights train";
  net->freeze();
  // layer2.0.conv1 swapped for a module of another type: the path stops inside layer2.
  auto old = std::dynamic_pointer_cast<nn::Conv2d>(net->children()[5].second->children()[0].second->children()[0].second);
  ASSERT_TRUE(old);
  auto wrapped = std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{old});
  net->replace_module("layer2.0.conv1", wrapped);
  NoGradGuard no_grad;
  net->set_blocked_inference(false);
  const Tensor slow = net->forward(x);
  net->set_blocked_inference(true);
  const Tensor fast = net->forward(x);
  EXPECT_EQ(net->last_blocked_convs(), 1u + 4);
  EXPECT_LT(rel_err(fast, slow), 1e-5);
}

// Packed weights are kept between forwards only while the tensors they came from are
// unchanged: an in-place change of a conv's weight or of a batch norm's statistics is seen
// by the next forward.
TEST(ModelsBlocked, AChangedWeightIsRepacked) {
  REQUIRE_BLOCKED();
  Generator gen(14);
  auto net = models::resnet18(4, &gen);
  randomize_batchnorm(*net, 15);
  net->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({1, 3, 32, 32}, -1, 1, {}, &gen);
  const Tensor first = net->forward(x);
  static_cast<nn::Conv2d&>(net->module("layer2.0.conv1")).weight.mul_(0.5);
  static_cast<nn::BatchNorm2d&>(net->module("layer3.1.bn2")).running_var.mul_(2.0);
  const Tensor fast = net->forward(x);
  net->set_blocked_inference(false);
  const Tensor slow = net->forward(x);
  EXPECT_GT(rel_err(fast, first), 1e-3) << "the change was not seen";
  EXPECT_LT(rel_err(fast, slow), 1e-5);
}

// A weight freed and a new one at the same address with the same version (a layer swapped
// in with replace_module can land at a freed layer's address, its weight at the freed
// weight's): the cache knows a weight by its storage, so the new one is packed, not served
// the old packing. Two storages over one buffer make the coincidence certain.
TEST(ModelsBlocked, TheCacheKnowsAWeightByItsStorageNotItsAddress) {
  REQUIRE_BLOCKED();
  models::PackedConvCache cache;
  const int64_t lanes = kernels::cpu::nchwc::lanes();
  const Shape shape{16, 16, 3, 3};
  std::vector<float> buffer(16 * 16 * 9, 1.0f);
  const auto weight_over_buffer = [&] {
    auto impl = std::make_shared<TensorImpl>();
    impl->storage = std::make_shared<Storage>(buffer.data(), buffer.size() * sizeof(float), Device::cpu(), [](void*) {});
    impl->shape = shape;
    impl->strides = contiguous_strides(shape);
    return Tensor(impl);
  };
  cache.get(7, weight_over_buffer(), nullptr, nullptr, lanes, CpuIsa::Auto);  // that weight is gone after this line
  std::fill(buffer.begin(), buffer.end(), 2.0f);
  const Tensor w = weight_over_buffer();
  ASSERT_EQ(w.data_ptr(), buffer.data());
  const kernels::cpu::nchwc::PackedConv p = cache.get(7, w, nullptr, nullptr, lanes, CpuIsa::Auto);
  for (int64_t i = 0; i < w.numel(); ++i) ASSERT_EQ(p.weights->data()[i], 2.0f) << i;
}

}  // namespace
}  // namespace hone
