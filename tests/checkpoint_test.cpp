// Checkpoints: save after some training, restore into freshly built objects, and the
// outputs and the next step are bit-identical; bad files fail with clear errors.
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include "io/checkpoint.h"
#include "io/safetensors.h"
#include "autograd/grad_mode.h"
#include "models/resnet.h"
#include "nn/continual.h"
#include "nn/packnet.h"
#include "nn/piggyback.h"
#include "test_util.h"

namespace hone {
namespace {

using Snapshot = std::map<std::string, std::vector<uint64_t>>;

// Each value of `part` as raw bits (so -0.0 != 0.0), under `prefix`.
void add_bits(Snapshot& out, const std::string& prefix, const std::map<std::string, Tensor>& part) {
  for (const auto& [k, t] : part) {
    const std::vector<double> v = t.to_vector<double>();
    std::vector<uint64_t> b(v.size());
    std::memcpy(b.data(), v.data(), v.size() * sizeof(double));
    out[prefix + k] = b;
  }
}

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
    add_bits(out, "model.", net->state_dict());
    add_bits(out, "optimizer.", opt->state_dict());
    add_bits(out, "schedule.", schedule.state_dict());
    add_bits(out, "early_stopping.", stopper.state_dict());
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

// A run with every continual-learning part in use on one network: two PackNet tasks (the
// second trained through the optimizer's masks), Piggyback scores on layer1 around the
// threshold, and an EWC estimate taken between the tasks.
struct ContinualRun {
  TrainingRun run;
  nn::PackNet pack;
  nn::Piggyback pb;
  nn::ElasticWeightConsolidation ewc;
  explicit ContinualRun(uint64_t seed) : run(seed), pack(*run.net, {.exclude = {"fc.*"}}), pb(*run.net, {"layer1.*"}) {
    Generator g(seed);
    pack.begin_task(1, *run.opt);
    run.train(2);
    pack.prune(0.5);
    const Tensor x = randn({3, 1, 10, 10}, {}, &g);
    bool given = false;
    ewc = nn::ElasticWeightConsolidation::estimate(
        *run.net, [&](const Tensor& in) { return (*run.net)(in); },
        [&] { return given ? nn::FisherBatch() : (given = true, nn::FisherBatch({x, Tensor()})); }, {.seed = seed});
    pack.begin_task(2, *run.opt);
    run.train(2);
    std::map<std::string, Tensor> scores;
    for (auto& [k, s] : pb.state_dict()) scores[k] = uniform(s.shape(), 0.0, 1e-2, {.dtype = s.dtype()}, &g);
    pb.load_state_dict(scores);
  }
  io::CheckpointParts parts() {
    io::CheckpointParts p = run.parts();
    p.packnet = &pack, p.piggyback = &pb, p.ewc = &ewc;
    return p;
  }
  Snapshot snapshot() const {
    Snapshot out = run.snapshot();
    add_bits(out, "", pack.state_dict());
    add_bits(out, "", pb.state_dict());
    add_bits(out, "ewc.", ewc.state_dict());
    return out;
  }
  std::vector<float> task_outputs(int t, const Tensor& x) {
    auto scope = pack.apply_task(t);
    run.net->eval();
    NoGradGuard ng;
    return (*run.net)(x).to_vector<float>();
  }
};

TEST(Checkpoint, ContinualPartsRoundTripBitwise) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  Generator g(7);
  const Tensor x = randn({2, 1, 10, 10}, {}, &g);
  ContinualRun a(11);
  const std::vector<float> task1 = a.task_outputs(1, x), task2 = a.task_outputs(2, x);
  EXPECT_NE(task1, task2);
  io::save_checkpoint(path, a.parts(), {});
  ContinualRun b(22);  // other weights, owners, scores, Fisher and anchor
  ASSERT_FALSE(changed(b.snapshot(), a.snapshot()).empty());
  io::load_checkpoint(path, b.parts());
  // Everything bitwise: model, optimizer state with its masks, owners, scores, F, theta*.
  EXPECT_EQ(changed(b.snapshot(), a.snapshot()), std::vector<std::string>{});
  EXPECT_EQ(b.pack.tasks(), 2);
  EXPECT_EQ(b.task_outputs(1, x), task1);
  EXPECT_EQ(b.task_outputs(2, x), task2);
  for (const auto& name : a.pack.weight_names()) {
    const Tensor w = a.run.net->state_dict().at(name);
    EXPECT_EQ(b.run.opt->mask(b.run.net->state_dict().at(name)).to_vector<uint8_t>(),
              a.run.opt->mask(w).to_vector<uint8_t>()) << name;
  }
  EXPECT_EQ(a.run.opt->mask(a.run.net->state_dict().at("bn1.weight")).to_vector<uint8_t>(),
            std::vector<uint8_t>(8, 0));  // shared, frozen from task 2 on: saved as such
  const auto ma = a.pb.masks(), mb = b.pb.masks();
  ASSERT_EQ(ma.size(), mb.size());
  for (const auto& [k, m] : ma) EXPECT_EQ(mb.at(k).to_vector<uint8_t>(), m.to_vector<uint8_t>()) << k;
  EXPECT_EQ(b.ewc.samples(), 3);
  const double pa = a.ewc.penalty(*a.run.net).item<double>(), pb = b.ewc.penalty(*b.run.net).item<double>();
  EXPECT_GT(pa, 0.0);
  EXPECT_EQ(std::memcmp(&pa, &pb, sizeof pa), 0) << pa << " vs " << pb;
  // Resumed as documented (begin_task re-links masks and re-freezes batch norm): the next
  // step of task 2 is the same.
  a.pack.begin_task(2, *a.run.opt);
  b.pack.begin_task(2, *b.run.opt);
  a.run.train(1);
  b.run.train(1);
  EXPECT_EQ(changed(b.snapshot(), a.snapshot()), std::vector<std::string>{});
}

// A continual part asked for but saved without: named, and nothing changed (the model too).
TEST(Checkpoint, MissingContinualPartIsNamedAndChangesNothing) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  ContinualRun a(11);
  io::save_checkpoint(path, a.run.parts(), {});
  ContinualRun b(22);
  const Snapshot before = b.snapshot();
  const std::vector<float> w = b.run.net->state_dict().at("layer1.0.conv1.weight").to_vector<float>();
  for (const char* part : {"packnet.", "piggyback.", "ewc."}) {
    SCOPED_TRACE(part);
    io::CheckpointParts p = b.run.parts();
    if (part == std::string("packnet.")) p.packnet = &b.pack;
    if (part == std::string("piggyback.")) p.piggyback = &b.pb;
    if (part == std::string("ewc.")) p.ewc = &b.ewc;
    test::expect_error([&] { io::load_checkpoint(path, p); }, {path, std::string("'") + part + "*'", "without that part"});
    EXPECT_EQ(changed(b.snapshot(), before), std::vector<std::string>{});
    EXPECT_EQ(b.run.net->state_dict().at("layer1.0.conv1.weight").to_vector<float>(), w);
  }
}

TEST(Checkpoint, BadContinualEntryIsNamedAndChangesNothing) {
  const test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  ContinualRun a(11);
  io::save_checkpoint(path, a.parts(), {});
  const io::SafetensorsFile good = io::load_safetensors(path);
  const std::string conv = "layer1.0.conv1.weight", pk = "packnet." + conv, pg = "piggyback." + conv;
  struct Case {
    const char* what;
    std::function<void(io::SafetensorsFile&)> edit;
    std::vector<std::string> expected;
  };
  const std::vector<Case> cases = {
      {"owners of the wrong shape", [&](auto& f) { f.tensors[pk] = zeros({3}, {.dtype = DType::UInt8}); },
       {path, "'packnet.*'", pk, "uint8 of shape", "[3]"}},
      {"owners of the wrong dtype", [&](auto& f) { f.tensors[pk] = f.tensors[pk].to(DType::Float32); }, {path, pk, "float32"}},
      {"owners naming a later task", [&](auto& f) { f.tensors[pk] = full(f.tensors[pk].shape(), 3.0, {.dtype = DType::UInt8}); },
       {pk, "names task 3"}},
      {"no task count", [](auto& f) { f.tensors.erase("packnet_tasks"); }, {path, "packnet_tasks"}},
      {"owners of a weight PackNet does not pack", [](auto& f) { f.tensors["packnet.fc.weight"] = zeros({10, 16}, {.dtype = DType::UInt8}); },
       {path, "'fc.weight' is not a packed weight"}},
      {"scores of the wrong shape", [&](auto& f) { f.tensors[pg] = zeros({3}); }, {path, "'piggyback.*'", pg, "[3]"}},
      {"scores of the wrong dtype", [&](auto& f) { f.tensors[pg] = f.tensors[pg].to(DType::Float64); }, {path, pg, "float64"}},
      {"scores of an unmasked weight", [](auto& f) { f.tensors["piggyback.fc.weight"] = zeros({10, 16}); },
       {path, "unexpected 'piggyback.fc.weight'"}},
      {"Fisher of the wrong shape", [&](auto& f) { f.tensors["ewc.fisher." + conv] = zeros({3}); },
       {path, "'ewc.*'", conv, "differ in shape"}},
      {"Fisher and anchor not the parameter's shape",
       [&](auto& f) { f.tensors["ewc.fisher." + conv] = zeros({3}), f.tensors["ewc.anchor." + conv] = zeros({3}); },
       {path, "'fisher." + conv + "'", "the parameter float32 [8,8,3,3]"}},
      {"Fisher of the wrong dtype", [&](auto& f) { f.tensors["ewc.fisher." + conv] = f.tensors["ewc.fisher." + conv].to(DType::Float64); },
       {path, conv, "float64", "one floating dtype"}},
      {"Fisher of a parameter the model lacks",
       [](auto& f) { f.tensors["ewc.fisher.nope"] = zeros({2}), f.tensors["ewc.anchor.nope"] = zeros({2}); },
       {path, "'nope' is not a parameter"}},
      {"negative sample count", [](auto& f) { f.tensors["ewc.samples"] = scalar_tensor(-1.0, {.dtype = DType::Float64}); },
       {path, "samples"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    io::SafetensorsFile f = good;
    c.edit(f);
    io::save_safetensors(path, f.tensors, f.metadata);
    ContinualRun b(22);
    const Snapshot before = b.snapshot();
    test::expect_error([&] { io::load_checkpoint(path, b.parts()); }, c.expected);
    EXPECT_EQ(changed(b.snapshot(), before), std::vector<std::string>{}) << "a refused checkpoint changed these";
  }
}

}  // namespace
}  // namespace hone
