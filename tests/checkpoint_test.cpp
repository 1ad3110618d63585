// Checkpoints: save after some training, restore into freshly built objects, and the
// outputs and the next step are bit-identical; bad files fail with clear errors.
#include <filesystem>
#include <fstream>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "test_util.h"

namespace hone {
namespace {

struct TrainingRun {
  std::shared_ptr<models::ResNet> net;
  std::unique_ptr<optim::SGD> opt;
  optim::StepLR schedule{0.1, 2, 0.5};
  optim::EarlyStopping stopper{optim::Mode::Min, 3};
  explicit TrainingRun(uint64_t seed) {
    Generator g(seed);
    net = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
    opt = std::make_unique<optim::SGD>(net->parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  }
  io::CheckpointParts parts() { return {net.get(), opt.get(), &schedule, &stopper}; }
  double step(const Tensor& x, const Tensor& y) {
    opt->zero_grad();
    Tensor loss = cross_entropy((*net)(x), y);
    loss.backward();
    opt->step();
    schedule.step(*opt);
    stopper.update(loss.item<double>());
    return loss.item<double>();
  }
};

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("hone_" + std::to_string(::getpid()) + "_" + name)).string();
}

TEST(Checkpoint, ResumeGivesIdenticalOutputsAndNextStep) {
  Generator g(1);
  Tensor x = randn({4, 1, 10, 10}, {}, &g);
  Tensor y = from_vector<int64_t>({1, 2, 3, 4});
  TrainingRun a(11);
  for (int i = 0; i < 3; ++i) a.step(x, y);
  const std::string path = temp_path("resume.safetensors");
  io::save_checkpoint(path, a.parts(), {.epoch = 2, .step = 3, .data_position = 17, .data_seed = 99, .rng_seed = 5,
                                        .rng_offset = 1234, .extra = {{"classes", "ants,bees"}}});
  TrainingRun b(22);  // different initial weights
  const io::TrainingState s = io::load_checkpoint(path, b.parts());
  EXPECT_EQ(s.epoch, 2);
  EXPECT_EQ(s.step, 3);
  EXPECT_EQ(s.data_position, 17);
  EXPECT_EQ(s.data_seed, 99u);
  EXPECT_EQ(s.rng_seed, 5u);
  EXPECT_EQ(s.rng_offset, 1234u);
  EXPECT_EQ(s.extra.at("classes"), "ants,bees");
  EXPECT_EQ(b.opt->lr(), a.opt->lr());
  EXPECT_EQ(b.stopper.best(), a.stopper.best());
  a.net->eval();
  b.net->eval();
  EXPECT_EQ((*a.net)(x).to_vector<float>(), (*b.net)(x).to_vector<float>());
  a.net->train();
  b.net->train();
  EXPECT_EQ(a.step(x, y), b.step(x, y));
  for (auto& [name, t] : a.net->state_dict()) EXPECT_EQ(t.to_vector<double>(), b.net->state_dict().at(name).to_vector<double>()) << name;
  std::filesystem::remove(path);
}

TEST(Checkpoint, BadFilesFailClearly) {
  TrainingRun a(3);
  const std::string path = temp_path("bad.safetensors");
  io::save_checkpoint(path, {a.net.get()}, {});
  // Saved without an optimizer: asking for one names the missing part.
  try {
    TrainingRun b(4);
    io::load_checkpoint(path, b.parts());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("optimizer."), std::string::npos) << e.what();
  }
  // Truncated: the loader reports it, never crashes.
  const auto size = std::filesystem::file_size(path);
  std::filesystem::resize_file(path, size / 2);
  TrainingRun c(5);
  EXPECT_THROW(io::load_checkpoint(path, {c.net.get()}), Error);
  // A safetensors file that is not a checkpoint.
  io::save_safetensors(path, {{"w", zeros({2})}});
  try {
    io::load_checkpoint(path, {c.net.get()});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("not a hone checkpoint"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

TEST(Checkpoint, WeightsOnlyCheckpointLoadsIntoTheModel) {
  TrainingRun a(6), b(7);
  const std::string path = temp_path("weights.safetensors");
  io::save_checkpoint(path, {a.net.get()}, {});
  io::load_checkpoint(path, {b.net.get()});
  for (auto& [name, t] : a.net->state_dict()) EXPECT_EQ(t.to_vector<double>(), b.net->state_dict().at(name).to_vector<double>()) << name;
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace hone
