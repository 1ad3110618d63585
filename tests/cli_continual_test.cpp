// `hone finetune` keeping the old task (tools/continual_finetune.h), end to end: a small
// ONNX network pretrained here with `hone finetune` on an "old" task (squares vs stripes),
// then fine-tuned on a new one (horizontal bands vs checks) with each option. Each run writes
// model.onnx and old-task.onnx and an old_val_acc column, and shows its technique's property:
// feature extraction and Piggyback leave the old network bitwise as it was, PackNet keeps
// the unpruned weights bitwise, LwF, EWC and joint training keep the old task closer than
// plain fine-tuning; --resume ends bitwise as an uninterrupted run; bad flags end clearly.
#include <csignal>
#include <fstream>
#include <sstream>

#include "cli_fixture.h"
#include "hone.h"

namespace {

namespace fs = std::filesystem;
using namespace hone::test::cli;

// Four patterns a small network tells apart: the old task has the first two, the new one the rest.
const char* kPatterns[] = {"squares", "stripes", "bands", "checks"};
void write_folder(const fs::path& root, int first, int per_class, uint64_t seed) {
  for (int c = first; c < first + 2; ++c) {
    fs::create_directories(root / kPatterns[c]);
    for (int i = 0; i < per_class; ++i) {
      hone::io::Image img(40 + 3 * i, 44, 3);
      const auto r = hone::Generator::philox(seed, uint64_t(c * 1000 + i));
      for (int64_t y = 0; y < img.height; ++y)
        for (int64_t x = 0; x < img.width; ++x) {
          const bool on = c == 0 ? (x > 10 && x < 30 && y > 10 && y < 30)
                         : c == 1 ? (x / 4) % 2 == 0
                         : c == 2 ? (y / 5) % 2 == 0
                                  : ((x / 6) + (y / 6)) % 2 == 0;
          uint8_t* p = img.row(y) + x * 3;
          p[0] = uint8_t(on ? 180 + r[0] % 60 : r[1] % 60);
          p[1] = uint8_t(on && c >= 2 ? 160 : r[2] % 80);
          p[2] = uint8_t(on && c % 2 ? 220 : 40 + r[3] % 40);
        }
      hone::io::write_png(img, root / kPatterns[c] / ("img" + std::to_string(i) + ".png"));
    }
  }
}

struct Fixture {
  hone::test::TempDir tmp;
  fs::path dir = tmp.path, old_data = dir / "old", data = dir / "new", model;
  std::string lr = "0.05";
  Fixture() {
    write_folder(old_data / "train", 0, 12, 1);
    write_folder(old_data / "val", 0, 4, 2);
    write_folder(data / "train", 2, 12, 3);
    write_folder(data / "val", 2, 4, 4);
    // The old task: a small ResNet trained here on squares vs stripes; its file names them.
    hone::Generator g(7);
    auto net = hone::models::small_resnet(2, 3, {8, 16}, {1, 1}, &g);
    hone::io::onnx::ExportOptions eo;
    eo.channels = 3;
    eo.preprocessing = {.input_size = {32, 32}, .resize = 36, .mean = {0.5, 0.5, 0.5}, .std = {0.25, 0.25, 0.25}};
    hone::io::onnx::export_onnx(*net, dir / "init.onnx", eo);
    const CliRun r = hone_cli("finetune --model " + (dir / "init.onnx").string() + " --data " + old_data.string() +
                              " --out " + (dir / "pretrained").string() +
                              " --strategy full --epochs 4 --lr 0.05 --batch-size 8 --workers 1 --threads 1");
    EXPECT_EQ(r.status, 0) << r.output;
    model = dir / "pretrained" / "model.onnx";
  }
  std::string base(const std::string& out, const std::string& more = "") const {
    return "finetune --model " + model.string() + " --data " + data.string() + " --out " + (dir / out).string() +
           " --epochs 3 --batch-size 8 --workers 1 --threads 1 --lr " + lr + " --cache-dir " + (dir / "cache").string() + " " +
           more;
  }
  std::string with_old(const std::string& out, const std::string& more = "") const {
    return base(out, "--old-data " + old_data.string() + " " + more);
  }
};

// "old task (2 classes): accuracy before X, after Y"
std::pair<double, double> old_accuracies(const std::string& output) {
  const auto at = output.find("accuracy before ");
  EXPECT_NE(at, std::string::npos) << output;
  if (at == std::string::npos) return {-1, -1};
  double before = -1, after = -1;
  EXPECT_EQ(std::sscanf(output.c_str() + at, "accuracy before %lf, after %lf", &before, &after), 2) << output;
  return {before, after};
}

// metrics.csv without its timing columns, by name.
std::string metrics_without_times(const fs::path& run) {
  std::istringstream in(read_file(run / "metrics.csv"));
  std::string out, line;
  std::vector<bool> keep;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    if (keep.empty())
      for (const auto& c : cells) keep.push_back(c != "seconds" && c != "data_wait_seconds" && c != "train_img_per_s");
    for (size_t i = 0; i < cells.size(); ++i)
      if (i < keep.size() && keep[i]) out += cells[i] + ",";
    out += "\n";
  }
  return out;
}

std::vector<double> column(const fs::path& run, const std::string& name) {
  std::istringstream in(read_file(run / "metrics.csv"));
  std::string line;
  std::getline(in, line);
  std::vector<std::string> header;
  std::stringstream hs(line);
  for (std::string c; std::getline(hs, c, ',');) header.push_back(c);
  const size_t k = size_t(std::find(header.begin(), header.end(), name) - header.begin());
  std::vector<double> out;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string c; std::getline(ls, c, ',');) cells.push_back(c);
    if (k < cells.size()) out.push_back(std::stod(cells[k]));
  }
  return out;
}

void expect_run_files(const Fixture& f, const std::string& out, const CliRun& r) {
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* file : {"model.onnx", "old-task.onnx", "metrics.csv", "config.json", "last.safetensors"})
    EXPECT_TRUE(fs::is_regular_file(f.dir / out / file)) << out << ": no " << file;
  EXPECT_EQ(column(f.dir / out, "old_val_acc").size(), 3u) << read_file(f.dir / out / "metrics.csv");
}

std::shared_ptr<hone::io::onnx::OnnxModule> load(const fs::path& p) {
  auto m = hone::io::onnx::import_onnx(p);
  m->eval();
  return m;
}

hone::Tensor run(hone::io::onnx::OnnxModule& m, const hone::Tensor& x) {
  hone::NoGradGuard ng;
  return m(x).contiguous();
}

bool bitwise_equal(const hone::Tensor& a, const hone::Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         std::memcmp(a.contiguous().data_ptr(), b.contiguous().data_ptr(), size_t(a.numel()) * a.element_size()) == 0;
}

// How far old-task.onnx's outputs moved from the original model's, norm-wise.
double drift(const fs::path& original, const fs::path& old_task) {
  auto a = load(original), b = load(old_task);
  hone::Generator g(5);
  const hone::Tensor x = hone::randn({16, 3, 32, 32}, {}, &g);
  const auto ya = run(*a, x).to_vector<double>(), yb = run(*b, x).to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < ya.size(); ++i) num += (ya[i] - yb[i]) * (ya[i] - yb[i]), den += ya[i] * ya[i];
  return std::sqrt(num / den);
}

// The backbone weights (convolutions) of an imported file, by name.
std::map<std::string, hone::Tensor> conv_weights(const hone::io::onnx::OnnxModule& m) {
  std::map<std::string, hone::Tensor> out;
  for (const auto& n : m.model().nodes)
    if (n.op_type == "Conv") out[n.inputs[1]] = m.weights().at(n.inputs[1]).contiguous();
  return out;
}

TEST(CliContinual, FeatureExtractKeepsTheOldTaskBitwise) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("fx", "--strategy feature-extract"));
  expect_run_files(f, "fx", r);
  const auto [before, after] = old_accuracies(r.output);
  EXPECT_EQ(before, after) << r.output;
  EXPECT_GE(before, 0.75) << "the pretrained old task should be learnt: " << r.output;
  for (double a : column(f.dir / "fx", "old_val_acc")) EXPECT_EQ(a, after);
  hone::Generator g(9);
  const hone::Tensor x = hone::randn({4, 3, 32, 32}, {}, &g);
  EXPECT_TRUE(bitwise_equal(run(*load(f.model), x), run(*load(f.dir / "fx" / "old-task.onnx"), x)));
  const auto pre = hone::io::onnx::read_preprocessing(load(f.dir / "fx" / "old-task.onnx")->model());
  EXPECT_EQ(pre.class_names, (std::vector<std::string>{"squares", "stripes"}));
  RecordProperty("old_before", std::to_string(before));
}

struct Outcome {
  double before, after, drift;
};
// Fine-tunes with `flags` at learning rate `lr` and measures the old task.
Outcome outcome(Fixture& f, const std::string& out, const std::string& flags) {
  const CliRun r = hone_cli(f.with_old(out, "--strategy full " + flags));
  expect_run_files(f, out, r);
  const auto [before, after] = old_accuracies(r.output);
  const double d = drift(f.model, f.dir / out / "old-task.onnx");
  std::cout << "lr " << f.lr << " " << (flags.empty() ? "plain" : flags) << ": old task " << before << " -> " << after
            << ", old-task output drift " << d << "; new val acc " << column(f.dir / out, "val_acc").back() << "\n";
  return {before, after, d};
}

// Plain fine-tuning forgets; LwF, EWC and joint training each keep the old task closer, on
// the same seed and settings. Drift: old-task.onnx's outputs against the original's on the
// same random inputs, norm-wise. Measured (lr 0.05): plain drift 0.173, LwF 0.052; (lr 0.2):
// plain old accuracy 1 -> 0.5, drift 6.07; EWC 0.5, drift 2.84; LwF 0.625; joint 1.0.
TEST(CliContinual, LwfEwcAndJointKeepTheOldTaskBetterThanPlainFineTuning) {
  Fixture f;
  const Outcome plain = outcome(f, "plain", ""), lwf = outcome(f, "lwf", "--lwf 4");
  EXPECT_LT(lwf.drift, 0.7 * plain.drift);
  EXPECT_GE(lwf.after, plain.after);
  f.lr = "0.2";  // fast enough that plain fine-tuning forgets the old task
  const Outcome plain2 = outcome(f, "plain2", ""), lwf2 = outcome(f, "lwf2", "--lwf 4"),
                ewc = outcome(f, "ewc", "--ewc 100"), joint = outcome(f, "joint", "--joint");
  EXPECT_LE(plain2.after, plain2.before - 0.25) << "plain fine-tuning no longer forgets: the comparison is void";
  EXPECT_GE(lwf2.after, plain2.after);
  EXPECT_GE(ewc.after, plain2.after);
  EXPECT_LT(ewc.drift, 0.7 * plain2.drift);
  EXPECT_GE(joint.after, plain2.after + 0.25);
  EXPECT_EQ(ewc.before, plain2.before);
}

// PackNet: old-task.onnx is the original with the smallest half of each conv weight zeroed,
// bitwise; model.onnx kept every unpruned weight bitwise.
TEST(CliContinual, PackNetKeepsTheUnprunedWeightsBitwise) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("pack", "--strategy full --packnet 0.5"));
  expect_run_files(f, "pack", r);
  auto original = load(f.model), old_task = load(f.dir / "pack" / "old-task.onnx"), tuned = load(f.dir / "pack" / "model.onnx");
  const auto ow = conv_weights(*original), pw = conv_weights(*old_task), tw = conv_weights(*tuned);
  ASSERT_EQ(ow.size(), pw.size());
  {
    hone::NoGradGuard ng;
    for (const auto& [name, w] : ow) {
      // The reference pruning: keep round(n / 2) largest magnitudes, ties to the earlier element.
      const std::vector<float> v = w.to_vector<float>();
      std::vector<int64_t> order(v.size());
      std::iota(order.begin(), order.end(), int64_t(0));
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return std::fabs(v[size_t(a)]) > std::fabs(v[size_t(b)]); });
      std::vector<float> pruned(v.size(), 0.0f);
      const size_t keep = size_t(std::llround(0.5 * double(v.size())));
      for (size_t i = 0; i < keep; ++i) pruned[size_t(order[i])] = v[size_t(order[i])];
      const std::vector<float> p = pw.at(name).to_vector<float>(), t = tw.at(name).to_vector<float>();
      size_t kept_same = 0;
      for (size_t i = 0; i < v.size(); ++i) {
        EXPECT_EQ(std::memcmp(&p[i], &pruned[i], 4), 0) << name << "[" << i << "]";
        if (pruned[i] != 0) kept_same += std::memcmp(&t[i], &v[i], 4) == 0;
      }
      EXPECT_EQ(kept_same, keep) << name << ": model.onnx changed kept weights";
      hone::Tensor ref = original->weights().at(name);
      ref.copy_(hone::from_vector<float>(pruned, w.shape()));
    }
  }
  hone::Generator g(9);
  const hone::Tensor x = hone::randn({4, 3, 32, 32}, {}, &g);
  EXPECT_TRUE(bitwise_equal(run(*original, x), run(*old_task, x)));
  const auto [before, after] = old_accuracies(r.output);
  std::cout << "packnet: old " << before << " -> " << after << "; new val acc " << column(f.dir / "pack", "val_acc").back() << "\n";
}

// PackNet with a partial strategy packs only what trains: the frozen stages' weights are
// neither pruned nor changed, in either file.
TEST(CliContinual, PackNetLeavesFrozenStagesWhole) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("partial", "--strategy partial:layer2 --packnet 0.5"));
  expect_run_files(f, "partial", r);
  auto original = load(f.model), old_task = load(f.dir / "partial" / "old-task.onnx"),
       tuned = load(f.dir / "partial" / "model.onnx");
  const auto ow = conv_weights(*original), pw = conv_weights(*old_task), tw = conv_weights(*tuned);
  size_t frozen = 0, pruned = 0;
  for (const auto& [name, w] : ow) {
    const bool trains = name.rfind("layer2", 0) == 0;
    const std::vector<float> v = w.to_vector<float>(), p = pw.at(name).to_vector<float>();
    size_t zeros = 0;
    for (size_t i = 0; i < v.size(); ++i) zeros += p[i] == 0.0f && v[i] != 0.0f;
    if (trains) {
      pruned += zeros > 0;
    } else {
      EXPECT_TRUE(bitwise_equal(w, pw.at(name))) << name << ": a frozen weight changed in old-task.onnx";
      EXPECT_TRUE(bitwise_equal(w, tw.at(name))) << name << ": a frozen weight changed in model.onnx";
      ++frozen;
    }
  }
  EXPECT_GT(frozen, 0u);
  EXPECT_GT(pruned, 0u) << "layer2 should be packed";
}

// PackNet's retraining: the old task recovers on its data with the freed half held at zero,
// and the new task then trains only that half, so old-task.onnx has exact zeros where the
// pruning freed weights, model.onnx keeps every old-task weight bitwise, and the retraining
// moved the kept weights away from the original.
TEST(CliContinual, PackNetRetrainKeepsFreedWeightsZeroAndTheNewTaskOffTheOld) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("retrain", "--strategy full --packnet 0.5 --packnet-retrain 2"));
  expect_run_files(f, "retrain", r);
  EXPECT_NE(r.output.find("PackNet: the old task retrained 2 epoch(s)"), std::string::npos) << r.output;
  auto original = load(f.model), old_task = load(f.dir / "retrain" / "old-task.onnx"),
       tuned = load(f.dir / "retrain" / "model.onnx");
  const auto ow = conv_weights(*original), pw = conv_weights(*old_task), tw = conv_weights(*tuned);
  size_t moved = 0, zeros = 0, total = 0, freed = 0, kept = 0;
  for (const auto& [name, w] : ow) {
    const std::vector<float> v = w.to_vector<float>(), p = pw.at(name).to_vector<float>(), t = tw.at(name).to_vector<float>();
    std::vector<int64_t> order(v.size());
    std::iota(order.begin(), order.end(), int64_t(0));
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return std::fabs(v[size_t(a)]) > std::fabs(v[size_t(b)]); });
    const size_t keep = size_t(std::llround(0.5 * double(v.size())));
    kept += keep, freed += v.size() - keep;
    for (size_t j = 0; j < order.size(); ++j) {
      const size_t i = size_t(order[j]);
      if (j < keep) {
        EXPECT_EQ(std::memcmp(&t[i], &p[i], 4), 0) << name << "[" << i << "]: the new task changed an old-task weight";
        moved += p[i] != v[i];
      } else {
        EXPECT_EQ(p[i], 0.0f) << name << "[" << i << "]: a freed weight is not zero in the old task";
        zeros += p[i] == 0.0f;
      }
      ++total;
    }
  }
  EXPECT_GT(moved, kept / 2) << "the retraining should move most kept weights";
  EXPECT_EQ(zeros, freed);
  EXPECT_EQ(total, kept + freed);
  const auto [before, after] = old_accuracies(r.output);
  std::cout << "packnet 0.5 + retrain 2: old " << before << " -> " << after << "; kept weights moved " << moved << " of "
            << total << "\n";
}

// Piggyback: old-task.onnx is the original network bitwise; model.onnx's backbone weights are
// each 0 or the original value.
TEST(CliContinual, PiggybackLeavesTheBackboneAndMasksIt) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("pig", "--strategy full --piggyback --lr 0.01"));
  expect_run_files(f, "pig", r);
  auto original = load(f.model), old_task = load(f.dir / "pig" / "old-task.onnx"), tuned = load(f.dir / "pig" / "model.onnx");
  hone::Generator g(9);
  const hone::Tensor x = hone::randn({4, 3, 32, 32}, {}, &g);
  EXPECT_TRUE(bitwise_equal(run(*original, x), run(*old_task, x)));
  const auto ow = conv_weights(*original), tw = conv_weights(*tuned);
  int64_t zeroed = 0, total = 0;
  for (const auto& [name, w] : ow) {
    const std::vector<float> v = w.to_vector<float>(), t = tw.at(name).to_vector<float>();
    for (size_t i = 0; i < v.size(); ++i) {
      EXPECT_TRUE(t[i] == 0.0f || std::memcmp(&t[i], &v[i], 4) == 0) << name << "[" << i << "]";
      zeroed += t[i] == 0.0f && v[i] != 0.0f;
    }
    total += int64_t(v.size());
  }
  const auto [before, after] = old_accuracies(r.output);
  EXPECT_EQ(before, after);
  std::cout << "piggyback: masked out " << zeroed << " of " << total << " weights; old " << before << " -> " << after
            << "; new val acc " << column(f.dir / "pig", "val_acc").back() << "\n";
}

// Weight decay is for weights: on Piggyback's scores (init 1e-2, threshold 5e-3) it would
// pull every score under the threshold within a few steps and mask the whole backbone out.
TEST(CliContinual, PiggybackScoresHaveNoWeightDecay) {
  Fixture f;
  const CliRun r = hone_cli(f.with_old("pigwd", "--strategy full --piggyback --lr 0.01 --weight-decay 5 --epochs 2"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ow = conv_weights(*load(f.model)), tw = conv_weights(*load(f.dir / "pigwd" / "model.onnx"));
  int64_t kept = 0, total = 0;
  for (const auto& [name, w] : ow) {
    const std::vector<float> v = w.to_vector<float>(), t = tw.at(name).to_vector<float>();
    for (size_t i = 0; i < v.size(); ++i) kept += v[i] != 0.0f && std::memcmp(&t[i], &v[i], 4) == 0;
    total += int64_t(v.size());
  }
  EXPECT_GT(kept, total / 2) << "weight decay masked the backbone out: " << kept << " of " << total << " weights kept";
}

void expect_resume_matches(const Fixture& f, const std::string& flags, int kill_after) {
  const CliRun whole = hone_cli(f.with_old("whole", flags));
  ASSERT_EQ(whole.status, 0) << whole.output;
  const CliRun stopped = hone_cli(f.with_old("stopped", flags), "HONE_TEST_KILL_AFTER_STEPS=" + std::to_string(kill_after));
  EXPECT_EQ(stopped.status, 128 + SIGKILL) << stopped.output;
  const CliRun resumed = hone_cli("finetune --resume " + (f.dir / "stopped").string());
  ASSERT_EQ(resumed.status, 0) << resumed.output;
  EXPECT_EQ(metrics_without_times(f.dir / "whole"), metrics_without_times(f.dir / "stopped"));
  EXPECT_EQ(read_file(f.dir / "whole" / "model.onnx"), read_file(f.dir / "stopped" / "model.onnx"));
  EXPECT_EQ(read_file(f.dir / "whole" / "old-task.onnx"), read_file(f.dir / "stopped" / "old-task.onnx"));
  EXPECT_NE(resumed.output.find("accuracy before"), std::string::npos) << resumed.output;
}

TEST(CliContinual, ResumeWithEwcEndsBitIdentical) {
  Fixture f;
  expect_resume_matches(f, "--strategy full --ewc 100", 4);  // 3 steps an epoch: in epoch 2
}

TEST(CliContinual, ResumeWithPackNetEndsBitIdentical) {
  Fixture f;
  expect_resume_matches(f, "--strategy full --packnet 0.5", 5);
}

TEST(CliContinual, ResumeWithJointAndLwfEndsBitIdentical) {
  Fixture f;
  expect_resume_matches(f, "--strategy full --joint --lwf 2", 4);
}

// Piggyback's scores (and their momentum) travel in the model's part of the checkpoint.
TEST(CliContinual, ResumeWithPiggybackEndsBitIdentical) {
  Fixture f;
  expect_resume_matches(f, "--strategy full --piggyback --lr 0.01", 4);
}

TEST(CliContinual, BadFlagsEndWithOneClearLine) {
  Fixture f;
  fs::create_directories(f.dir / "wrong" / "circles");
  fs::copy(f.old_data / "train" / "squares", f.dir / "wrong" / "squares");
  fs::copy(f.old_data / "train" / "squares", f.dir / "wrong" / "circles");
  struct Case {
    std::string args, message;
  };
  const std::vector<Case> cases = {
      {f.base("o", "--ewc 1"), "--ewc needs"},
      {f.base("o", "--joint"), "--joint needs"},
      {f.base("o", "--packnet 1.5"), "--packnet"},
      {f.base("o", "--packnet 0.5 --piggyback"), "--packnet and --piggyback"},
      {f.with_old("o", "--packnet-retrain 1"), "--packnet-retrain retrains the old task after PackNet's pruning"},
      {f.base("o", "--packnet 0.5 --packnet-retrain 1"), "--packnet-retrain needs the old task's images"},
      {f.with_old("o", "--ewc-samples 4"), "--ewc-samples sets EWC's Fisher estimate"},
      {f.base("o", "--piggyback --strategy feature-extract"), "--piggyback"},
      {f.base("o", "--old-data " + (f.dir / "wrong").string()), "'circles'"},
  };
  for (const auto& c : cases) {
    const CliRun r = hone_cli(c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.output;
    EXPECT_LT(r.status, 128) << "crashed: " << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
  }
}

// An EWC weight past plain SGD's stability limit (lr * lambda * max F > 2 (1 + momentum)) is
// named before training; one below it is not.
TEST(CliContinual, EwcPastTheStabilityLimitIsWarnedAbout) {
  Fixture f;
  const CliRun high = hone_cli(f.with_old("ewc-high", "--ewc 1e7 --epochs 1"));
  EXPECT_LT(high.status, 128) << high.output;
  EXPECT_NE(high.output.find("past SGD's stability limit 3.8 (momentum 0.9)"), std::string::npos) << high.output;
  const CliRun low = hone_cli(f.with_old("ewc-low", "--ewc 1e-3 --epochs 1"));
  EXPECT_EQ(low.status, 0) << low.output;
  EXPECT_EQ(low.output.find("stability limit"), std::string::npos) << low.output;
}

TEST(CliContinual, HelpSaysWhatEachTechniqueCosts) {
  const CliRun r = hone_cli("finetune --help");
  EXPECT_EQ(r.status, 0);
  for (const char* s : {"keeping the old task", "--lwf", "--ewc", "--joint", "--packnet", "--piggyback", "Costs"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s;
}

}  // namespace
