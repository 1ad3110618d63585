// Three SGD steps (momentum 0.9, weight decay 1e-4) of the small ResNet in training mode
// against PyTorch 1.13 on the same weights and batch: losses, parameters and BN running
// statistics must agree. Golden file: tools/golden/small_resnet_golden.py.
#include "io/safetensors.h"
#include "models/resnet.h"
#include "nn/optim.h"
#include "test_util.h"

namespace hone {
namespace {

std::map<std::string, Tensor> with_prefix(const std::map<std::string, Tensor>& all, const std::string& prefix) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : all)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  return out;
}

TEST(TrainingGolden, SmallResNetSgdStepsMatchPyTorch) {
  const io::SafetensorsFile golden = io::load_safetensors(std::string(HONE_TESTS_DIR) + "/golden/small_resnet_sgd.safetensors");
  auto net = models::small_resnet(10, 1, {8, 16}, {1, 1});
  net->load_state_dict(with_prefix(golden.tensors, "init."));
  const Tensor x = golden.tensors.at("input"), y = golden.tensors.at("target");
  optim::SGD opt(net->parameters(), {.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-4});
  net->train();
  std::vector<double> losses;
  for (int step = 0; step < 3; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy((*net)(x), y);
    loss.backward();
    opt.step();
    losses.push_back(loss.item<double>());
  }
  test::expect_close(from_vector(losses), golden.tensors.at("losses"), 1e-5, 1e-5);
  const auto want = with_prefix(golden.tensors, "final.");
  const auto have = net->state_dict();
  ASSERT_EQ(want.size(), have.size());
  for (const auto& [name, t] : want) {
    SCOPED_TRACE(name);
    test::expect_close(have.at(name), t, 2e-5, 1e-4);
  }
}

}  // namespace
}  // namespace hone
