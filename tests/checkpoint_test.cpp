// Checkpoints: save after some training, restore into freshly built objects, and the
// outputs and the next step are bit-identical; bad files fail with clear errors.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "models/resnet.h"
#include "test_util.h"

namespace hone {
namespace {

using Snapshot = std::map<std::string, std::vector<uint64_t>>;

struct TrainingRun {
  std::shared_ptr<models::ResNet> net;
  std::unique_ptr<optim::SGD> opt;
  optim::StepLR schedule{0.1, 2, 0.5};
  optim::EarlyStopping stopper{optim::Mode::Min, 3};
  // `trainable`: the parameter patterns left unfrozen (the optimizer gets only those).
  explicit TrainingRun(uint64_t seed, const std::vector<std::string>& trainable = {"*"}) {
    Generator g(seed);
    net = models::small_resnet(10, 1, {8, 16}, {1, 1}, &g);
    net->freeze();
    net->unfreeze(trainable);
    optim::NamedParameters params;
    for (const auto& [name, t] : net->named_parameters())
      if (t.requires_grad()) params.emplace_back(name, t);
    opt = std::make_unique<optim::SGD>(params, optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
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
  void train(int steps) {
    Generator g(1);
    Tensor x = randn({4, 1, 10, 10}, {}, &g);
    Tensor y = from_vector<int64_t>({1, 2, 3, 4});
    for (int i = 0; i < steps; ++i) step(x, y);
  }
  // Every value a load could change, as raw bits (so -0.0 != 0.0): model, optimizer state,
  // schedule and early stopping.
  Snapshot snapshot() const {
    Snapshot out;
    auto add = [&](const std::string& prefix, const std::map<std::string, Tensor>& part) {
      for (const auto& [k, t] : part) {
        const std::vector<double> v = t.to_vector<double>();
        std::vector<uint64_t> b(v.size());
        std::memcpy(b.data(), v.data(), v.size() * sizeof(double));
        out[prefix + k] = b;
      }
    };
    add("model.", net->state_dict());
    add("optimizer.", opt->state_dict());
    add("schedule.", schedule.state_dict());
    add("early_stopping.", stopper.state_dict());
    return out;
  }
};

// The keys whose values differ between two snapshots (or that only one has).
std::vector<std::string> changed(const Snapshot& a, const Snapshot& b) {
  std::vector<std::string> out;
  for (const auto& [k, v] : a)
    if (!b.count(k) || b.at(k) != v) out.push_back(k);
  for (const auto& [k, _] : b)
    if (!a.count(k)) out.push_back(k);
  return out;
}

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

// The first key of `f` that starts with `prefix` and ends with `suffix`.
std::string key_like(const io::SafetensorsFile& f, const std::string& prefix, const std::string& suffix) {
  for (const auto& [k, _] : f.tensors)
    if (k.rfind(prefix, 0) == 0 && k.size() >= suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
      return k;
  ADD_FAILURE() << "no key " << prefix << "*" << suffix;
  return "";
}

// All or nothing: a part refused anywhere in the file leaves every part as it was, the
// model's weights bit for bit included (the model is not loaded first and left half-done).
TEST(Checkpoint, AnyRefusedPartLeavesEveryPartUnchanged) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  TrainingRun a(11);
  a.train(3);
  io::save_checkpoint(path, a.parts(), {.epoch = 1, .step = 3});
  const io::SafetensorsFile good = io::load_safetensors(path);
  const std::string momentum = key_like(good, "optimizer.", ".momentum_buffer");
  struct Case {
    const char* what;
    std::function<void(io::SafetensorsFile&)> edit;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"optimizer buffer of the wrong shape", [&](auto& f) { f.tensors[momentum] = zeros({3}); },
       {path, momentum.substr(10), "shape"}},
      {"optimizer step past int64", [](auto& f) { f.tensors["optimizer.step"] = scalar_tensor(1e30, {.dtype = DType::Float64}); },
       {"step", "1e+30"}},
      {"negative schedule step", [](auto& f) { f.tensors["schedule.step"] = scalar_tensor(-3.0, {.dtype = DType::Float64}); },
       {"LRSchedule", "step"}},
      {"early stopping without best_step", [](auto& f) { f.tensors.erase("early_stopping.best_step"); },
       {"EarlyStopping", "best_step"}},
      {"negative epoch", [](auto& f) { f.metadata["epoch"] = "-1"; }, {path, "epoch", "-1"}},
      {"negative step", [](auto& f) { f.metadata["step"] = "-5"; }, {path, "step", "-5"}},
      {"negative data position", [](auto& f) { f.metadata["data_position"] = "-2"; }, {path, "data_position", "-2"}},
      {"step past int64", [](auto& f) { f.metadata["step"] = "1e30"; }, {path, "step", "1e30"}},
      {"epoch past int64", [](auto& f) { f.metadata["epoch"] = "99999999999999999999"; }, {path, "epoch"}},
      {"epoch with a leading space", [](auto& f) { f.metadata["epoch"] = " 3"; }, {path, "epoch"}},
      {"epoch with a plus sign", [](auto& f) { f.metadata["epoch"] = "+3"; }, {path, "epoch"}},
      {"data position with trailing text", [](auto& f) { f.metadata["data_position"] = "7x"; }, {path, "data_position", "7x"}},
      {"seed that is not a number", [](auto& f) { f.metadata["rng_seed"] = "abc"; }, {path, "rng_seed"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    io::SafetensorsFile f = good;
    c.edit(f);
    io::save_safetensors(path, f.tensors, f.metadata);
    TrainingRun b(22);
    b.train(1);  // some optimizer and schedule state of its own
    const auto before = b.snapshot();
    test::expect_error([&] { io::load_checkpoint(path, b.parts()); }, c.expected);
    EXPECT_EQ(changed(b.snapshot(), before), std::vector<std::string>{}) << "a refused checkpoint changed these";
  }
}

TEST(Checkpoint, ResumeWithAnotherFreezePatternIsRefusedNamingTheParameters) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  // Both patterns train one [8,8,3,3] conv and the head: positional state would fit either.
  TrainingRun a(11, {"layer1.0.conv1.*", "fc.*"});
  a.train(2);
  io::save_checkpoint(path, a.parts(), {});
  TrainingRun b(11, {"layer1.0.conv2.*", "fc.*"});
  const auto before = b.snapshot();
  test::expect_error([&] { io::load_checkpoint(path, b.parts()); },
                     {path, "layer1.0.conv1.weight", "layer1.0.conv2.weight"});
  EXPECT_EQ(changed(b.snapshot(), before), std::vector<std::string>{});
  // The same pattern resumes exactly.
  TrainingRun c(33, {"layer1.0.conv1.*", "fc.*"});
  io::load_checkpoint(path, c.parts());
  EXPECT_EQ(changed(c.snapshot(), a.snapshot()), std::vector<std::string>{});
  a.train(1);
  c.train(1);
  EXPECT_EQ(changed(c.snapshot(), a.snapshot()), std::vector<std::string>{});
}

// An optimizer built from plain tensors (net->parameters()) is named from the model the
// checkpoint holds: saving and resuming need nothing more.
TEST(Checkpoint, AnOptimizerOfUnnamedTensorsTakesTheModelsNames) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  auto plain = [](TrainingRun& r) {
    r.opt = std::make_unique<optim::SGD>(r.net->parameters(), optim::SGDOptions{.lr = 0.1, .momentum = 0.9});
  };
  TrainingRun a(5), b(6);
  plain(a), plain(b);
  a.train(2);
  io::save_checkpoint(path, a.parts(), {});
  io::load_checkpoint(path, b.parts());
  EXPECT_EQ(changed(b.snapshot(), a.snapshot()), std::vector<std::string>{});
}

}  // namespace
}  // namespace hone
