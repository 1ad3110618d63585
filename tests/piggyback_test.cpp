// Piggyback (nn/piggyback.h): the thresholded mask and its straight-through gradient by
// hand, the scores' gradient on a Linear against its closed form dL/dWm * W, training that
// leaves the backbone bitwise unchanged, and a stored binary mask reproducing the task.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/nn.h"
#include "models/resnet.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/piggyback.h"
#include "test_util.h"

namespace hone {
namespace {

using test::expect_error;

bool same_bits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.to_vector<float>(), y = b.to_vector<float>();
  return a.shape() == b.shape() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

std::map<std::string, Tensor> cloned(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (auto& [k, t] : state) out[k] = t.clone();
  return out;
}

// Scores drawn around the threshold, so that some weights are masked out and some kept.
void scatter_scores(nn::Piggyback& pb, uint64_t seed) {
  Generator g(seed);
  std::map<std::string, Tensor> state;
  for (auto& [k, s] : pb.state_dict()) state[k] = uniform(s.shape(), 0.0, 1e-2, {.dtype = s.dtype()}, &g);
  pb.load_state_dict(state);
}

TEST(ThresholdMask, ForwardIsTheStepAndBackwardPassesTheGradientStraightThrough) {
  Tensor s = from_vector<double>({-1.0, 0.004, 0.005, 0.006, 2.0}, {5}).set_requires_grad(true);
  const Tensor m = nn::threshold_mask(s, 5e-3);
  EXPECT_EQ(m.dtype(), DType::Float64);
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{0, 0, 0, 1, 1}));  // strictly greater
  // d/ds sum(c * mask) = c everywhere, kept or not: the identity's gradient.
  const std::vector<double> c{1, -2, 3, -4, 5};
  sum(m * from_vector<double>(c, {5})).backward();
  EXPECT_EQ(s.grad().to_vector<double>(), c);
  EXPECT_EQ(nn::threshold_mask(from_vector<float>({0.5f, 0.0f}, {2}), 0.25).dtype(), DType::Float32);
}

TEST(ThresholdMask, NamesBadInput) {
  expect_error([] { nn::threshold_mask(from_vector<int64_t>({1, 2}, {2}), 0.5); }, {"threshold_mask", "[2]", "floating"});
  expect_error([] { nn::threshold_mask(ones({2}), std::nan("")); }, {"threshold_mask", "threshold", "finite"});
}

TEST(Piggyback, ScoreGradientOnALinearIsDlDWmaskedTimesW) {
  const int64_t n = 3, in = 4, out = 2;
  nn::Linear fc(in, out, true);
  fc.freeze();
  nn::Piggyback pb(fc, {"weight"});
  scatter_scores(pb, 11);
  Generator g(12);
  const Tensor x = randn({n, in}, {}, &g), G = randn({n, out}, {}, &g);
  const std::vector<float> w = fc.weight.to_vector<float>(), s = pb.named_scores().at("weight").to_vector<float>();
  const std::vector<float> xv = x.to_vector<float>(), gv = G.to_vector<float>(), b = fc.bias.to_vector<float>();
  Tensor y;
  {
    auto on = pb.train_scope();
    y = fc(x);
    sum(y * G).backward();
  }
  // y = x (W * [S > t])^T + b; dL/dWm = G^T x; dL/dS = dL/dWm * W (closed form, no differences).
  const std::vector<float> yv = y.to_vector<float>(), ds = pb.named_scores().at("weight").grad().to_vector<float>();
  for (int64_t o = 0; o < out; ++o)
    for (int64_t i = 0; i < in; ++i) {
      double dwm = 0;
      for (int64_t r = 0; r < n; ++r) dwm += double(gv[size_t(r * out + o)]) * xv[size_t(r * in + i)];
      EXPECT_NEAR(ds[size_t(o * in + i)], dwm * w[size_t(o * in + i)], 1e-5) << o << "," << i;
    }
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b[size_t(o)];
      for (int64_t i = 0; i < in; ++i)
        acc += double(xv[size_t(r * in + i)]) * w[size_t(o * in + i)] * (s[size_t(o * in + i)] > 5e-3f ? 1.0 : 0.0);
      EXPECT_NEAR(yv[size_t(r * out + o)], acc, 1e-5);
    }
  EXPECT_FALSE(fc.weight.grad().defined());  // the backbone weight never sees a gradient
}

std::shared_ptr<nn::Sequential> tiny_net(uint64_t seed) {
  Generator g(seed);
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel = {3, 3}}, &g),
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Flatten>(),
      std::make_shared<nn::Linear>(4 * 3 * 3, 6, true, &g),  // backbone
      std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(6, 3, true, &g)});  // the new head "5"
}

TEST(Piggyback, TrainingChangesOnlyScoresAndHeadAndLeavesTheBackboneBitwise) {
  auto net = tiny_net(21);
  net->freeze();
  net->unfreeze({"5.*"});
  nn::Piggyback pb(*net, {"0.*", "3.*"});
  EXPECT_EQ(pb.named_scores().size(), 2u);  // 0.weight and 3.weight; biases and the head stay unmasked
  const auto before = cloned(net->state_dict());
  const auto params_before = net->parameters();
  const auto scores_before = cloned(pb.state_dict());
  std::vector<Tensor> trainable = pb.scores();
  for (auto& p : net->parameters("5.*")) trainable.push_back(p);
  optim::SGD opt(trainable, {.lr = 2.0});
  Generator g(22);
  const Tensor x = randn({8, 2, 5, 5}, {}, &g), y = randint(0, 3, {8}, {.dtype = DType::Int64}, &g);
  auto* conv = dynamic_cast<nn::Conv2d*>(&net->module("0"));
  for (int step = 0; step < 20; ++step) {
    opt.zero_grad();
    auto on = pb.train_scope();
    // In the scope the layer computes with a masked copy; the registry still holds the backbone.
    EXPECT_NE(conv->weight.data_ptr(), before.at("0.weight").data_ptr());
    EXPECT_EQ(net->state_dict().at("0.weight").data_ptr(), params_before[0].data_ptr());
    cross_entropy((*net)(x), y).backward();
    opt.step();
  }
  EXPECT_EQ(conv->weight.data_ptr(), params_before[0].data_ptr());  // handle restored
  const auto after = net->state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (auto& [k, t] : before) {
    if (k.rfind("5.", 0) == 0) EXPECT_FALSE(same_bits(after.at(k), t)) << k << " (head) did not train";
    else EXPECT_TRUE(same_bits(after.at(k), t)) << k << " (backbone) changed";
  }
  for (auto& [k, t] : pb.state_dict()) EXPECT_FALSE(same_bits(t, scores_before.at(k))) << k << " did not train";
  int64_t off = 0;  // lr 2 moves some scores past the threshold: the masks learned something
  for (auto& [k, m] : pb.masks())
    for (uint8_t v : m.to_vector<uint8_t>()) off += v == 0;
  EXPECT_GT(off, 0);
}

TEST(Piggyback, StoredMaskReproducesTheTaskBitwiseAndLeavesThePlainNetAlone) {
  auto net = tiny_net(31);
  net->freeze();
  nn::Piggyback pb(*net, {"0.weight", "3.weight"});
  scatter_scores(pb, 32);
  const Tensor x = randn({4, 2, 5, 5}, {}, nullptr);
  const Tensor plain = (*net)(x);
  Tensor trained;
  {
    auto on = pb.train_scope();
    trained = (*net)(x);
  }
  const auto masks = pb.masks();
  int64_t kept = 0, total = 0;
  for (auto& [k, m] : masks) {
    EXPECT_EQ(m.dtype(), DType::UInt8);
    const std::vector<float> s = pb.named_scores().at(k).to_vector<float>();
    const std::vector<uint8_t> mv = m.to_vector<uint8_t>();
    for (size_t i = 0; i < s.size(); ++i) {
      EXPECT_EQ(mv[i], s[i] > 5e-3f ? 1 : 0);
      kept += mv[i], ++total;
    }
  }
  EXPECT_GT(kept, 0);
  EXPECT_LT(kept, total);
  // The task is the backbone plus its masks alone: a fresh Piggyback with untrained scores
  // gives the same outputs from the stored masks.
  nn::Piggyback fresh(*net, {"0.weight", "3.weight"});
  {
    NoGradGuard ng;
    auto on = fresh.mask_scope(masks);
    EXPECT_TRUE(same_bits((*net)(x), trained));
  }
  EXPECT_TRUE(same_bits((*net)(x), plain));
  EXPECT_FALSE(same_bits(trained, plain));
}

TEST(Piggyback, CoversEveryConvOfAResNetAndAnAllOnesMaskChangesNothing) {
  Generator g(61);
  auto net = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
  net->eval();
  nn::Piggyback pb(*net, {"conv1.*", "layer*"});  // every conv, downsample included; not fc
  size_t convs = 0;
  for (auto& [name, m] : net->named_modules()) convs += dynamic_cast<nn::Conv2d*>(m) != nullptr;
  EXPECT_EQ(pb.named_scores().size(), convs);
  EXPECT_FALSE(pb.named_scores().count("fc.weight"));
  // Scores start at 1e-2 > 5e-3: every weight kept, and W * 1 is W exactly.
  const Tensor x = randn({2, 1, 12, 12}, {}, &g);
  const Tensor plain = (*net)(x);
  auto on = pb.train_scope();
  EXPECT_TRUE(same_bits((*net)(x), plain));
}

TEST(Piggyback, StateDictRoundTripsScoresByName) {
  auto net = tiny_net(41);
  nn::Piggyback a(*net, {"0.*", "3.*"}), b(*net, {"0.*", "3.*"});
  scatter_scores(a, 42);
  const auto state = a.state_dict();
  EXPECT_EQ(state.size(), 2u);
  EXPECT_TRUE(state.count("piggyback.0.weight") && state.count("piggyback.3.weight"));
  b.load_state_dict(state);
  for (auto& [k, t] : b.state_dict()) EXPECT_TRUE(same_bits(t, state.at(k))) << k;
}

TEST(Piggyback, NamesBadInput) {
  auto net = tiny_net(51);
  expect_error([&] { nn::Piggyback(*net, {"layer9.*"}); }, {"Piggyback", "Sequential", "'layer9.*'"});
  expect_error([&] { nn::Piggyback(*net, {}); }, {"Piggyback", "no layer patterns"});
  nn::Piggyback pb(*net, {"0.*", "3.*"});
  {
    auto on = pb.train_scope();
    expect_error([&] { auto again = pb.train_scope(); }, {"Piggyback", "do not nest"});
  }
  auto masks = pb.masks();
  auto bad = masks;
  bad.erase("3.weight");
  bad["9.weight"] = masks.at("0.weight");
  bad["0.weight"] = masks.at("0.weight").to(DType::Float32);
  expect_error([&] { auto on = pb.mask_scope(bad); },
               {"mask_scope", "missing '3.weight'", "unexpected '9.weight'", "'0.weight' must be uint8"});
  bad = masks;
  bad["3.weight"] = zeros({2, 2}, {.dtype = DType::UInt8});
  expect_error([&] { auto on = pb.mask_scope(bad); }, {"mask_scope", "'3.weight' is [2,2], its weight [6,36]"});
  bad = masks;
  bad["0.weight"] = full(masks.at("0.weight").shape(), 2, {.dtype = DType::UInt8});
  expect_error([&] { auto on = pb.mask_scope(bad); }, {"mask '0.weight' holds 2", "only 0 and 1"});
  auto* conv = dynamic_cast<nn::Conv2d*>(&net->module("0"));
  EXPECT_EQ(conv->weight.data_ptr(), net->state_dict().at("0.weight").data_ptr());  // a failed scope swaps nothing
  expect_error([&] { pb.load_state_dict({{"piggyback.0.weight", zeros({1})}, {"extra", zeros({1})}}); },
               {"load_state_dict", "missing 'piggyback.3.weight'", "'piggyback.0.weight' is [1], expected [4,2,3,3]",
                "unexpected 'extra'"});
}

}  // namespace
}  // namespace hone
