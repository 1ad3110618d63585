// PackNet (nn/packnet.h): an earlier task's outputs bitwise as they were after later tasks
// trained (SGD with momentum and weight decay), its weights and the shared parameters
// untouched, pruning that keeps exactly the largest magnitudes, the owners through a state
// round trip, and bad calls named.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops/nn.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/packnet.h"
#include "test_util.h"

namespace hone {
namespace {

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return x.dtype() == y.dtype() && x.shape() == y.shape() &&
         std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * x.element_size()) == 0;
}

// conv -> batch norm -> relu -> flatten -> linear: every kind of parameter PackNet sorts.
std::shared_ptr<nn::Sequential> tiny_net(Generator* g) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      std::make_shared<nn::Conv2d>(nn::Conv2dOptions{.in_channels = 2, .out_channels = 4, .kernel = {3, 3}, .padding = 1}, g),
      std::make_shared<nn::BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = 4}), std::make_shared<nn::ReLU>(),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(64, 8, true, g)});
}

std::vector<Tensor> params_of(std::initializer_list<const nn::Module*> modules) {
  std::vector<Tensor> out;
  for (const auto* m : modules)
    for (auto& p : m->parameters()) out.push_back(p);
  return out;
}

void train(nn::Module& net, nn::Module& head, optim::Optimizer& opt, const Tensor& x, const Tensor& y, int steps) {
  net.train();
  for (int s = 0; s < steps; ++s) {
    opt.zero_grad();
    cross_entropy(head(net(x)), y).backward();
    opt.step();
  }
}

Tensor outputs(nn::Module& net, nn::Module& head, const Tensor& x) {
  NoGradGuard no_grad;
  net.eval();
  return head(net(x));
}

std::map<std::string, Tensor> snapshot(const nn::Module& net) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : net.state_dict()) out[name] = t.clone();
  return out;
}

const optim::SGDOptions kSgd{.lr = 0.1, .momentum = 0.9, .weight_decay = 1e-3};

TEST(PackNet, AnEarlierTaskRunsBitwiseAsItWasAfterLaterTasksTrain) {
  Generator g(11);
  auto net = tiny_net(&g);
  nn::Linear head1(8, 3, true, &g), head2(8, 3, true, &g), head3(8, 3, true, &g);
  const Tensor x1 = randn({6, 2, 4, 4}, {}, &g), y1 = randint(0, 3, {6}, {.dtype = DType::Int64}, &g);
  const Tensor x2 = randn({6, 2, 4, 4}, {}, &g), y2 = randint(0, 3, {6}, {.dtype = DType::Int64}, &g);
  nn::PackNet pack(*net);
  EXPECT_EQ(pack.weight_names(), (std::vector<std::string>{"0.weight", "4.weight"}));

  optim::SGD opt1(params_of({net.get(), &head1}), kSgd);
  pack.begin_task(1, opt1);
  train(*net, head1, opt1, x1, y1, 5);
  pack.prune(0.5);
  train(*net, head1, opt1, x1, y1, 3);  // the post-prune fine-tune
  for (const auto& name : pack.weight_names()) {  // freed weights stayed 0 through it
    const auto w = net->state_dict().at(name).to_vector<float>();
    const auto o = pack.owners(name).to_vector<uint8_t>();
    for (size_t i = 0; i < w.size(); ++i)
      if (o[i] == 0) EXPECT_EQ(w[i], 0.0f) << name << " element " << i;
  }
  const Tensor task1_out = outputs(*net, head1, x1);
  const auto after_task1 = snapshot(*net);

  optim::SGD opt2(params_of({net.get(), &head2}), kSgd);
  pack.begin_task(2, opt2);
  EXPECT_EQ(dynamic_cast<nn::BatchNorm2d&>(net->module("1")).mode(), nn::BatchNormMode::Frozen);
  train(*net, head2, opt2, x2, y2, 5);
  pack.prune(0.5);
  train(*net, head2, opt2, x2, y2, 3);
  const Tensor task2_out = outputs(*net, head2, x2);

  // A third task trained without pruning takes every weight left.
  optim::SGD opt3(params_of({net.get(), &head3}), kSgd);
  pack.begin_task(3, opt3);
  train(*net, head3, opt3, x2, y2, 4);

  // Task 1's weights, the biases and batch norm (parameters and statistics): bitwise as
  // task 1 left them; the weights later tasks took did change.
  const auto now = snapshot(*net);
  for (const auto& [name, before] : after_task1) {
    if (name == "0.weight" || name == "4.weight") {
      const auto o = pack.owners(name).to_vector<uint8_t>();
      const auto b = before.to_vector<float>(), a = now.at(name).to_vector<float>();
      int64_t changed = 0;
      for (size_t i = 0; i < o.size(); ++i) {
        if (o[i] == 1) EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0) << name << " element " << i;
        changed += (o[i] > 1 && a[i] != b[i]);
      }
      EXPECT_GT(changed, 0) << name;
    } else {
      EXPECT_TRUE(bitwise_equal(before, now.at(name))) << name;
    }
  }
  {
    auto scope = pack.apply_task(1);
    EXPECT_TRUE(bitwise_equal(outputs(*net, head1, x1), task1_out));
  }
  {
    auto scope = pack.apply_task(2);
    EXPECT_TRUE(bitwise_equal(outputs(*net, head2, x2), task2_out));
  }
  // The scopes put the real weights back.
  for (const auto& [name, t] : net->state_dict()) EXPECT_TRUE(bitwise_equal(t, now.at(name))) << name;
}

TEST(PackNet, BeginTaskMasksOnlyTheTasksWeightsAndFreezesTheShared) {
  Generator g(12);
  auto net = tiny_net(&g);
  nn::Linear head(8, 3, true, &g);
  nn::PackNet pack(*net);
  optim::SGD opt1(params_of({net.get(), &head}), kSgd);
  pack.begin_task(1, opt1);
  for (const auto& name : pack.weight_names()) {
    const Tensor w = net->state_dict().at(name);
    EXPECT_TRUE(bitwise_equal(opt1.mask(w), full(w.shape(), 1, {.dtype = DType::UInt8}))) << name;
  }
  EXPECT_FALSE(opt1.mask(net->state_dict().at("0.bias")).defined());  // task 1 trains the shared ones
  pack.prune(0.25);
  for (const auto& name : pack.weight_names()) {  // the same mask tensor now leaves out the freed
    const Tensor w = net->state_dict().at(name);
    const auto m = opt1.mask(w).to_vector<uint8_t>(), o = pack.owners(name).to_vector<uint8_t>();
    for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i], o[i] == 1 ? 1 : 0);
  }
  optim::SGD opt2(params_of({net.get(), &head}), kSgd);
  pack.begin_task(2, opt2);
  for (const auto& [name, p] : net->named_parameters()) {
    const auto m = opt2.mask(p).to_vector<uint8_t>();
    if (name == "0.weight" || name == "4.weight") {
      const auto o = pack.owners(name).to_vector<uint8_t>();
      for (size_t i = 0; i < m.size(); ++i) EXPECT_EQ(m[i], o[i] == 2 ? 1 : 0) << name;
    } else {
      EXPECT_EQ(std::count(m.begin(), m.end(), 0), int64_t(m.size())) << name;
    }
  }
  for (const auto& p : head.parameters()) EXPECT_FALSE(opt2.mask(p).defined());  // the caller's head
}

TEST(PackNet, PruneKeepsExactlyTheLargestMagnitudesPerLayer) {
  Generator g(13);
  nn::Sequential net{std::make_shared<nn::Linear>(7, 5, true, &g), std::make_shared<nn::ReLU>(),
                     std::make_shared<nn::Linear>(5, 3, true, &g)};
  nn::PackNet pack(net);
  optim::SGD opt(net.parameters(), kSgd);
  const auto check = [&](int task, double fraction) {
    const auto before = snapshot(net);
    std::map<std::string, std::vector<uint8_t>> owners_before;
    for (const auto& name : pack.weight_names()) owners_before[name] = pack.owners(name).to_vector<uint8_t>();
    pack.prune(fraction);
    for (const auto& name : pack.weight_names()) {
      const auto w0 = before.at(name).to_vector<float>(), w = net.state_dict().at(name).to_vector<float>();
      const auto o0 = owners_before[name], o = pack.owners(name).to_vector<uint8_t>();
      const auto n = std::count(o0.begin(), o0.end(), task);
      EXPECT_EQ(std::count(o.begin(), o.end(), task), std::llround((1 - fraction) * double(n))) << name;
      float smallest_kept = INFINITY, largest_freed = 0;
      for (size_t i = 0; i < o.size(); ++i) {
        if (o0[i] != task) {  // another task's or already free: untouched
          EXPECT_EQ(o[i], o0[i]);
          EXPECT_EQ(std::memcmp(&w[i], &w0[i], sizeof(float)), 0);
        } else if (o[i] == task) {
          smallest_kept = std::min(smallest_kept, std::fabs(w0[i]));
          EXPECT_EQ(std::memcmp(&w[i], &w0[i], sizeof(float)), 0);
        } else {
          EXPECT_EQ(o[i], 0);
          largest_freed = std::max(largest_freed, std::fabs(w0[i]));
          EXPECT_EQ(w[i], 0.0f);
          EXPECT_FALSE(std::signbit(w[i]));
        }
      }
      EXPECT_GE(smallest_kept, largest_freed) << name;
    }
  };
  pack.begin_task(1, opt);
  check(1, 0.3);  // 35 -> 25 (24.5 rounds up) and 15 -> 11 (10.5 rounds up)
  pack.begin_task(2, opt);
  {
    NoGradGuard no_grad;  // give the freed weights task 2's own values
    for (auto& p : net.parameters()) p.add_(randn(p.shape(), {}, &g), 0.5);
  }
  check(2, 0.6);
  pack.begin_task(3, opt);
  check(3, 0.0);  // keeps all
}

TEST(PackNet, OwnersRoundTripThroughTheStateDict) {
  Generator g(14);
  auto net = tiny_net(&g);
  nn::PackNet pack(*net);
  optim::SGD opt(net->parameters(), kSgd);
  pack.begin_task(1, opt);
  pack.prune(0.5);
  pack.begin_task(2, opt);
  pack.prune(0.4);
  auto state = pack.state_dict();
  EXPECT_EQ(state.size(), 3u);
  EXPECT_EQ(state.at("packnet.0.weight").dtype(), DType::UInt8);
  for (const auto& [k, v] : net->state_dict()) state[k] = v;  // beside the model's, in one map

  nn::PackNet other(*net);
  other.load_state_dict(state);
  EXPECT_EQ(other.tasks(), 2);
  for (const auto& name : pack.weight_names()) EXPECT_TRUE(bitwise_equal(other.owners(name), pack.owners(name))) << name;
  optim::SGD opt2(net->parameters(), kSgd);
  other.begin_task(2, opt2);  // resume task 2's fine-tune with its masks
  const Tensor w = net->state_dict().at("4.weight");
  EXPECT_TRUE(bitwise_equal(opt2.mask(w), opt.mask(w)));

  // Bad states change nothing.
  auto wrong = state;
  wrong["packnet.0.weight"] = state.at("packnet.0.weight").to(DType::Float32);
  test::expect_error([&] { other.load_state_dict(wrong); }, {"'packnet.0.weight' must be uint8 of shape"});
  wrong = state;
  wrong.erase("packnet.4.weight");
  test::expect_error([&] { other.load_state_dict(wrong); }, {"'packnet.4.weight' is missing"});
  wrong = state;
  wrong["packnet.4.weight"] = full(w.shape(), 3, {.dtype = DType::UInt8});
  test::expect_error([&] { other.load_state_dict(wrong); }, {"names task 3", "only 2 tasks"});
  wrong = state;
  wrong["packnet.9.weight"] = state.at("packnet.4.weight");
  test::expect_error([&] { other.load_state_dict(wrong); }, {"'9.weight' is not a packed weight"});
  for (const auto& name : pack.weight_names()) EXPECT_TRUE(bitwise_equal(other.owners(name), pack.owners(name)));
}

TEST(PackNet, BadCallsAreNamed) {
  Generator g(15);
  auto net = tiny_net(&g);
  nn::PackNet pack(*net);
  optim::SGD opt(net->parameters(), kSgd);
  test::expect_error([&] { pack.prune(0.5); }, {"PackNet.prune", "no task begun"});
  test::expect_error([&] { pack.begin_task(0, opt); }, {"PackNet.begin_task", "task 0 is not a task number"});
  test::expect_error([&] { pack.begin_task(2, opt); }, {"PackNet.begin_task", "task 2 after 0 tasks begun"});
  pack.begin_task(1, opt);
  test::expect_error([&] { (void)pack.apply_task(0); }, {"PackNet.apply_task", "task 0 is not a task number"});
  test::expect_error([&] { (void)pack.apply_task(2); }, {"PackNet.apply_task", "task 2 has not been begun"});
  test::expect_error([&] { pack.prune(1.0); }, {"PackNet.prune", "fraction 1 is outside [0, 1)"});
  test::expect_error([&] { pack.prune(-0.1); }, {"fraction -0.1 is outside [0, 1)"});
  test::expect_error([&] { (void)pack.owners("0.bias"); }, {"PackNet.owners", "'0.bias' is not a packed weight"});
  test::expect_error([&] { nn::PackNet none(*net, {.weights = {"nothing.*"}}); }, {"no parameter of the module is packed"});
}

}  // namespace
}  // namespace hone
