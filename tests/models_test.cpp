// Models: parameter counts and every state_dict name and shape against torchvision's,
// heads, features mode, freezing (what gets gradients, what autograd records), frozen BN,
// state_dict round trips and errors, and a small ResNet overfitting a fixed batch.
#include <functional>
#include <set>

#include "golden/model_keys.h"
#include "models/resnet.h"
#include "models/vgg.h"
#include "autograd/node.h"
#include "test_util.h"

namespace hone {
namespace {

using models::ResNet;

void expect_same_keys(const nn::Module& m, const std::vector<golden::KeyShape>& want) {
  std::map<std::string, Tensor> sd = m.state_dict();
  EXPECT_EQ(sd.size(), want.size());
  for (const auto& k : want) {
    auto it = sd.find(k.name);
    ASSERT_NE(it, sd.end()) << "missing " << k.name;
    EXPECT_EQ(it->second.shape(), Shape(k.shape)) << k.name;
  }
}

TEST(Models, ResNetsMatchTorchvisionCountsNamesAndShapes) {
  auto r18 = models::resnet18();
  EXPECT_EQ(r18->count_parameters().total, 11689512);
  expect_same_keys(*r18, golden::resnet18_keys);
  EXPECT_EQ(models::resnet34()->count_parameters().total, 21797672);
  auto r50 = models::resnet50();
  EXPECT_EQ(r50->count_parameters().total, 25557032);
  expect_same_keys(*r50, golden::resnet50_keys);
}

TEST(Models, VggsMatchTorchvisionCountsNamesAndShapes) {
  EXPECT_EQ(models::vgg11()->count_parameters().total, 132863336);
  auto v16 = models::vgg16();
  EXPECT_EQ(v16->count_parameters().total, 138357544);
  expect_same_keys(*v16, golden::vgg16_keys);
  v16.reset();
  auto v16bn = models::vgg16(1000, true);
  EXPECT_EQ(v16bn->count_parameters().total, 138365992);
  expect_same_keys(*v16bn, golden::vgg16_bn_keys);
}

TEST(Models, ParametersComeInTorchvisionOrder) {
  auto net = models::resnet18();
  std::vector<std::string> ours;
  for (auto& [n, _] : net->named_parameters()) ours.push_back(n);
  std::vector<std::string> theirs;
  std::set<std::string> names;
  for (auto& [n, _] : net->named_parameters()) names.insert(n);
  for (const auto& k : golden::resnet18_keys)
    if (names.count(k.name)) theirs.push_back(k.name);
  EXPECT_EQ(ours, theirs);
}

TEST(Models, ForwardShapesHeadAndFeatures) {
  Generator g(1);
  auto net = models::resnet18(1000, &g);
  net->eval();
  Tensor x = randn({2, 3, 64, 64}, {}, &g);
  EXPECT_EQ((*net)(x).shape(), (Shape{2, 1000}));
  EXPECT_EQ(net->forward_features(x).shape(), (Shape{2, 512}));
  Tensor old_fc = net->parameters("fc.weight")[0];
  net->replace_head(2, &g);
  Tensor new_fc = net->parameters("fc.weight")[0];
  EXPECT_EQ(new_fc.shape(), (Shape{2, 512}));
  EXPECT_FALSE(new_fc.is_same(old_fc));
  EXPECT_EQ((*net)(x).shape(), (Shape{2, 2}));
  EXPECT_EQ(net->count_parameters().total, 11689512 - 1000 * 513 + 2 * 513);

  auto vgg = models::vgg11(1000, true, &g);
  vgg->eval();
  Tensor xv = randn({1, 3, 32, 32}, {}, &g);
  EXPECT_EQ(vgg->forward_features(xv).shape(), (Shape{1, 4096}));
  vgg->replace_head(5, &g);
  EXPECT_EQ((*vgg)(xv).shape(), (Shape{1, 5}));
  EXPECT_EQ(vgg->state_dict().at("classifier.6.weight").shape(), (Shape{5, 4096}));
}

// Counts the nodes of each kind reachable from `t`'s grad_fn.
std::map<std::string, int> graph_nodes(const Tensor& t) {
  std::map<std::string, int> count;
  std::set<autograd::Node*> seen;
  std::function<void(const std::shared_ptr<autograd::Node>&)> walk = [&](const std::shared_ptr<autograd::Node>& n) {
    if (!n || !seen.insert(n.get()).second) return;
    ++count[n->name()];
    for (const auto& e : n->next_edges) walk(e.node);
  };
  walk(t.grad_fn());
  return count;
}

TEST(Freezing, PartialFineTuningRecordsOnlyTheTrainedStages) {
  Generator g(2);
  auto net = models::resnet18(10, &g);
  net->freeze();
  net->unfreeze({"layer4.*", "fc.*"});
  const auto c = net->count_parameters();
  int64_t layer4_fc = 0;
  for (auto& t : net->parameters("layer4.*")) layer4_fc += t.numel();
  for (auto& t : net->parameters("fc.*")) layer4_fc += t.numel();
  EXPECT_EQ(c.trainable, layer4_fc);
  EXPECT_EQ(c.total, 11689512 - 1000 * 513 + 10 * 513);

  Tensor x = randn({2, 3, 64, 64}, {}, &g);
  Tensor loss = cross_entropy((*net)(x), from_vector<int64_t>({1, 7}));
  // Backward stops below layer4: only its 5 convs (4 + downsample) are in the graph.
  EXPECT_EQ(graph_nodes(loss)["Conv2dBackward"], 5);
  loss.backward();
  EXPECT_FALSE(net->parameters("conv1.weight")[0].grad().defined());
  EXPECT_FALSE(net->parameters("layer3.1.conv2.weight")[0].grad().defined());
  EXPECT_TRUE(net->parameters("layer4.0.conv1.weight")[0].grad().defined());
  EXPECT_TRUE(net->parameters("fc.weight")[0].grad().defined());
}

TEST(Freezing, FreezeThroughStageAndFeatureExtraction) {
  auto net = models::resnet18(2);
  net->freeze_through("layer3");
  for (auto& [n, t] : net->named_parameters()) {
    const bool trainable = n.rfind("layer4.", 0) == 0 || n.rfind("fc.", 0) == 0;
    EXPECT_EQ(t.requires_grad(), trainable) << n;
  }
  EXPECT_THROW(net->freeze_through("layer9"), Error);
  net->unfreeze();
  net->freeze({"*"});
  net->unfreeze({"fc.*"});
  EXPECT_EQ(net->count_parameters().trainable, 512 * 2 + 2);
}

TEST(Freezing, FrozenParametersBitIdenticalAfterTrainingSteps) {
  Generator g(3);
  auto net = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
  net->freeze({"conv1.*", "bn1.*", "layer1.*"});
  std::map<std::string, std::vector<float>> before;
  for (auto& [n, t] : net->named_parameters()) before[n] = t.to_vector<float>();
  Tensor x = randn({4, 1, 12, 12}, {}, &g);
  Tensor y = from_vector<int64_t>({0, 3, 5, 9});
  for (int step = 0; step < 3; ++step) {
    for (auto& t : net->parameters()) Tensor(t).set_grad(Tensor());
    cross_entropy((*net)(x), y).backward();
    NoGradGuard ng;
    for (auto& t : net->parameters())
      if (t.grad().defined()) Tensor(t).add_(t.grad(), -0.1);
  }
  for (auto& [n, t] : net->named_parameters()) {
    const bool frozen = n.rfind("conv1.", 0) == 0 || n.rfind("bn1.", 0) == 0 || n.rfind("layer1.", 0) == 0;
    if (frozen) EXPECT_EQ(t.to_vector<float>(), before[n]) << n;
    else EXPECT_NE(t.to_vector<float>(), before[n]) << n;
  }
}

TEST(BatchNormModes, FrozenBnKeepsRunningStatsUnderTrainMode) {
  Generator g(4);
  auto net = models::small_resnet(10, 1, {8}, {1}, &g);
  auto& bn = static_cast<nn::BatchNorm2d&>(net->module("bn1"));
  bn.set_mode(nn::BatchNormMode::Frozen);
  net->train();  // a parent's train() must not unfreeze it
  EXPECT_EQ(bn.mode(), nn::BatchNormMode::Frozen);
  auto& other = static_cast<nn::BatchNorm2d&>(net->module("layer1.0.bn1"));
  EXPECT_EQ(other.mode(), nn::BatchNormMode::Train);
  const auto rm = bn.running_mean.to_vector<float>(), rv = bn.running_var.to_vector<float>();
  const auto orm = other.running_mean.to_vector<float>();
  Tensor x = randn({4, 1, 8, 8}, {}, &g);
  cross_entropy((*net)(x), from_vector<int64_t>({1, 2, 3, 4})).backward();
  EXPECT_EQ(bn.running_mean.to_vector<float>(), rm);
  EXPECT_EQ(bn.running_var.to_vector<float>(), rv);
  EXPECT_NE(other.running_mean.to_vector<float>(), orm);  // a training BN does update
  EXPECT_TRUE(bn.weight.grad().defined());                // the affine part still learns
  net->eval();
  EXPECT_EQ(other.mode(), nn::BatchNormMode::Inference);
  EXPECT_EQ(bn.mode(), nn::BatchNormMode::Frozen);
}

TEST(StateDict, RoundTripGivesIdenticalOutputs) {
  Generator g1(5), g2(6);
  auto a = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g1);
  auto b = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g2);
  a->eval();
  b->eval();
  Tensor x = randn({2, 1, 10, 10}, {}, &g1);
  // Some training first, so running statistics differ from their initial values.
  a->train();
  (*a)(x);
  a->eval();
  EXPECT_NE((*a)(x).to_vector<float>(), (*b)(x).to_vector<float>());
  b->load_state_dict(a->state_dict());
  EXPECT_EQ((*a)(x).to_vector<float>(), (*b)(x).to_vector<float>());
}

TEST(StateDict, ErrorsListEveryMissingUnexpectedAndMisshapedEntry) {
  auto net = models::small_resnet(10, 1, {8}, {1});
  std::map<std::string, Tensor> sd = net->state_dict();
  sd.erase("fc.bias");
  sd.erase("bn1.running_var");
  sd["extra.weight"] = zeros({1});
  sd["fc.weight"] = zeros({3, 3});
  try {
    net->load_state_dict(sd);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const char* s : {"2 missing", "fc.bias", "bn1.running_var", "1 unexpected", "extra.weight", "wrongly shaped",
                          "fc.weight (expected [10,8], got [3,3])"})
      EXPECT_NE(msg.find(s), std::string::npos) << s << " not in: " << msg;
  }
  net->load_state_dict(sd, /*strict=*/false);  // loads what fits
}

TEST(Summary, ListsLayersShapesAndFrozenState) {
  auto net = models::small_resnet(10, 1, {8}, {1});
  net->freeze({"conv1.*"});
  const std::string s = net->summary({1, 1, 28, 28});
  EXPECT_NE(s.find("layer1.0.conv1"), std::string::npos) << s;
  EXPECT_NE(s.find("[1,8,28,28]"), std::string::npos) << s;
  EXPECT_NE(s.find("[1,10]"), std::string::npos) << s;
  EXPECT_NE(s.find("frozen"), std::string::npos) << s;
  EXPECT_NE(s.find("parameters: "), std::string::npos) << s;
  EXPECT_TRUE(net->is_training());  // summary restores the mode
}

TEST(Training, SmallResNetOverfitsAFixedBatch) {
  Generator g(7);
  auto net = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
  Tensor x = randn({8, 1, 12, 12}, {}, &g);
  Tensor y = from_vector<int64_t>({0, 1, 2, 3, 4, 5, 6, 7});
  std::vector<Tensor> params = net->parameters();
  std::vector<Tensor> velocity;
  for (auto& p : params) velocity.push_back(zeros_like(p));
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    for (auto& p : params) Tensor(p).set_grad(Tensor());
    Tensor loss = cross_entropy((*net)(x), y);
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
    loss.backward();
    NoGradGuard ng;
    for (size_t i = 0; i < params.size(); ++i) {  // SGD with momentum 0.9
      velocity[i].mul_(0.9).add_(params[i].grad());
      Tensor(params[i]).add_(velocity[i], -0.05);
    }
  }
  EXPECT_GT(first, 1.5);
  EXPECT_LT(last, 0.05) << "loss went from " << first << " to " << last;
}

// A module that runs the one it wraps and counts its calls.
class Counting : public nn::Module {
 public:
  explicit Counting(std::shared_ptr<nn::Module> inner) : nn::Module("Counting"), inner_(std::move(inner)) {}
  Tensor forward(const Tensor& x) override {
    ++calls;
    return (*inner_)(x);
  }
  int calls = 0;

 private:
  std::shared_ptr<nn::Module> inner_;
};

// Wraps the module at `path` of `net` in a Counting one, through replace_module.
std::shared_ptr<Counting> wrap(nn::Module& net, const std::string& path) {
  const size_t dot = path.rfind('.');
  nn::Module& parent = dot == std::string::npos ? net : net.module(path.substr(0, dot));
  for (const auto& [name, child] : parent.children())
    if (name == path.substr(dot + 1)) {
      auto counting = std::make_shared<Counting>(child);
      net.replace_module(path, counting);
      return counting;
    }
  ADD_FAILURE() << "no " << path;
  return nullptr;
}

// replace_module swaps what forward runs, in the residual blocks (which once kept their
// own pointers to their convs, so the swap reached state_dict() only) as in the networks.
TEST(Models, ReplacedSubmodulesAreWhatForwardRuns) {
  Generator g(3);
  NoGradGuard no_grad;
  const Tensor x = randn({1, 3, 32, 32}, {}, &g);
  std::vector<std::pair<std::shared_ptr<nn::Module>, std::vector<std::string>>> nets = {
      {models::resnet18(10, &g), {"layer1.0.conv1", "layer1.0.bn2", "layer2.0.downsample", "fc"}},
      {models::resnet50(10, &g), {"layer1.0.conv3", "layer3.0.downsample", "layer4.2.bn3"}},
      {models::vgg11(10, false, &g), {"features.0", "classifier.6"}},
  };
  for (auto& [net, paths] : nets) {
    net->eval();
    // Bit-exact needs one path throughout: the blocked front would stop at the wrapper
    // (models_blocked_test.cpp checks that the two paths agree to rounding).
    std::dynamic_pointer_cast<models::Classifier>(net)->set_blocked_inference(false);
    const Tensor before = net->forward(x);
    for (const std::string& path : paths) {
      SCOPED_TRACE(path);
      auto counting = wrap(*net, path);
      ASSERT_TRUE(counting);
      test::expect_close(net->forward(x), before, 0, 0);  // the same maths, through the wrapper
      EXPECT_EQ(counting->calls, 1);
    }
  }
}

// FNV-1a over every state_dict entry's name and bytes, in name order.
uint64_t state_hash(const nn::Module& m) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto add = [&h](const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ULL;
  };
  for (const auto& [name, t] : m.state_dict()) {
    add(name.data(), name.size());
    const Tensor c = t.contiguous();
    add(c.data_ptr(), size_t(c.numel()) * dtype_size(c.dtype()));
  }
  return h;
}

// A seed builds the same model, bit for bit, as it did before convs skipped their default
// initialisation (the hashes were computed at commit a01582a, when every conv was first
// given PyTorch's default init and then torchvision's): saved runs and golden tests rely on it.
TEST(Models, SeededInitialisationIsUnchanged) {
  Generator g1(1234), g2(1234), g3(1234);
  EXPECT_EQ(state_hash(*models::resnet18(1000, &g1)), 0xab5ebae9bf6efb82ULL);
  EXPECT_EQ(state_hash(*models::small_resnet(10, 1, {16, 32, 64}, {1, 1, 1}, &g2)), 0x230c5f6a0c5eaad0ULL);
  EXPECT_EQ(state_hash(models::VGG({8, 0, 16, 0}, /*batch_norm=*/true, 10, &g3)), 0x8e9dd1228931f306ULL);
}

}  // namespace
}  // namespace hone
