// `hone finetune / predict / eval` end to end, as a user runs them: a tiny generated
// image folder and a small ONNX network written here, every strategy, --resume after a
// SIGKILL mid-run, Ctrl-C, the feature cache, the exported model, and the bad inputs
// that must end with one clear message and a non-zero exit.

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace {

namespace fs = std::filesystem;
using namespace hone::test::cli;

struct Fixture {
  hone::test::TempDir tmp;
  fs::path dir = tmp.path, data = dir / "data", model = write_model(dir);
  Fixture() {
    write_folder(data / "train", 12, 1);
    write_folder(data / "val", 4, 2);
  }
  std::string base(const std::string& out, const std::string& more = "") const {
    return "finetune --model " + model.string() + " --data " + data.string() + " --out " + (dir / out).string() +
           " --epochs 3 --batch-size 8 --workers 1 --threads 1 --cache-dir " + (dir / "cache").string() + " " + more;
  }
};

// metrics.csv without the timing columns (seconds, data wait, training img/s), which differ run to run.
std::string metrics_without_times(const fs::path& run) {
  std::istringstream in(read_file(run / "metrics.csv"));
  std::string out;
  for (std::string line; std::getline(in, line);) {
    size_t cut = line.size();
    for (int k = 0; k < 3; ++k) cut = line.rfind(',', cut - 1);
    out += line.substr(0, cut) + "\n";
  }
  return out;
}

void expect_same_tensors(const fs::path& a, const fs::path& b) {
  auto x = hone::io::load_safetensors(a.string()), y = hone::io::load_safetensors(b.string());
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (const auto& [name, t] : x.tensors) {
    ASSERT_TRUE(y.tensors.count(name)) << name;
    const hone::Tensor& u = y.tensors.at(name);
    ASSERT_EQ(t.shape(), u.shape()) << name;
    EXPECT_EQ(0, std::memcmp(t.data_ptr(), u.data_ptr(), size_t(t.numel()) * t.element_size())) << name << " differs";
  }
}

TEST(CliFinetune, EveryStrategyRunsAndWritesItsFiles) {
  Fixture f;
  for (const std::string s : {"feature-extract", "partial:layer2", "full", "scratch"}) {
    const std::string out = s.substr(0, s.find(':'));
    const CliRun r = hone_cli(f.base(out, "--strategy " + s));
    ASSERT_EQ(r.status, 0) << s << ":\n" << r.output;
    for (const char* file : {"config.json", "metrics.csv", "curves.svg", "confusion.csv", "confusion.svg",
                             "best.safetensors", "last.safetensors", "model.onnx"})
      EXPECT_TRUE(fs::is_regular_file(f.dir / out / file)) << s << ": no " << file;
    EXPECT_NE(r.output.find("epoch 3/3"), std::string::npos) << r.output;
    // three epochs, a header line
    const std::string m = read_file(f.dir / out / "metrics.csv");
    EXPECT_EQ(std::count(m.begin(), m.end(), '\n'), 4) << m;
    // The last column: training images per second of each epoch's training loop alone (bench/compare_finetune.sh reads it).
    std::istringstream rows(m);
    std::string row;
    std::getline(rows, row);
    EXPECT_EQ(row.substr(row.rfind(',') + 1), "train_img_per_s") << m;
    while (std::getline(rows, row)) EXPECT_GT(std::stod(row.substr(row.rfind(',') + 1)), 0.0) << s << ": " << m;
  }
  // Partial froze conv1, bn1 and layer1: fewer parameters train than in full.
  const std::string partial = read_file(f.dir / "partial" / "config.json"), full = read_file(f.dir / "full" / "config.json");
  EXPECT_NE(partial.find("\"strategy\": \"partial:layer2\""), std::string::npos);
  EXPECT_NE(full.find("\"classes\": [\n    \"squares\",\n    \"stripes\"\n  ]"), std::string::npos) << full;
}

TEST(CliFinetune, LearnsTheTinyTask) {
  Fixture f;
  const CliRun r = hone_cli(f.base("run", "--strategy full --epochs 6 --lr 0.05"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto m = hone::io::load_safetensors((f.dir / "run" / "last.safetensors").string());
  // The classes are easy: the last epoch's validation accuracy must be high.
  std::istringstream in(read_file(f.dir / "run" / "metrics.csv"));
  std::string line, last;
  while (std::getline(in, line)) last = line;
  std::vector<double> v;
  std::stringstream ls(last);
  for (std::string cell; std::getline(ls, cell, ',');) v.push_back(std::stod(cell));
  EXPECT_GE(v.at(4), 0.85) << r.output;
}

// Runs `flags` into run folders "whole" and "stopped", the second stopped by `stop_env`
// (exiting with `stop_status`), continues it with --resume, and expects both to end with
// the same metrics and the same last checkpoint, tensor for tensor.
struct ResumeRuns {
  CliRun stopped, resumed;
  bool stopped_exported = false;  // model.onnx existed before the resume
};
ResumeRuns expect_resume_matches(const Fixture& f, const std::string& flags, const std::string& stop_env,
                                 int stop_status) {
  ResumeRuns r;
  const CliRun whole = hone_cli(f.base("whole", flags));
  EXPECT_EQ(whole.status, 0) << whole.output;
  r.stopped = hone_cli(f.base("stopped", flags), stop_env);
  EXPECT_EQ(r.stopped.status, stop_status) << r.stopped.output;
  r.stopped_exported = fs::exists(f.dir / "stopped" / "model.onnx");
  r.resumed = hone_cli("finetune --resume " + (f.dir / "stopped").string());
  EXPECT_EQ(r.resumed.status, 0) << r.resumed.output;
  EXPECT_EQ(metrics_without_times(f.dir / "whole"), metrics_without_times(f.dir / "stopped"));
  expect_same_tensors(f.dir / "whole" / "last.safetensors", f.dir / "stopped" / "last.safetensors");
  return r;
}

TEST(CliFinetune, ResumeAfterSigkillEndsBitIdentical) {
  Fixture f;
  // 24 images, batch 8: 3 steps an epoch; step 8 is in the middle of epoch 3.
  const ResumeRuns r = expect_resume_matches(f, "--strategy full --epochs 4 --dropout 0.2",
                                             "HONE_TEST_KILL_AFTER_STEPS=8", 128 + SIGKILL);
  EXPECT_FALSE(r.stopped_exported);
  EXPECT_NE(r.resumed.output.find("resuming"), std::string::npos) << r.resumed.output;
  expect_same_tensors(f.dir / "whole" / "best.safetensors", f.dir / "stopped" / "best.safetensors");
}

// The plateau schedule's state (best, bad epochs, cooldown) travels in the checkpoint too.
TEST(CliFinetune, ResumeWithPlateauScheduleEndsBitIdentical) {
  Fixture f;
  expect_resume_matches(f, "--strategy full --epochs 8 --schedule plateau --lr 0.2", "HONE_TEST_KILL_AFTER_STEPS=11",
                        128 + SIGKILL);
  // The schedule did act: the learning rate of the last epoch is below the one it started at.
  std::istringstream m(metrics_without_times(f.dir / "whole"));
  std::string line, last;
  while (std::getline(m, line)) last = line;
  EXPECT_LT(std::stod(last.substr(last.rfind(',') + 1)), 0.2) << read_file(f.dir / "whole" / "metrics.csv");
}

TEST(CliFinetune, CtrlCWritesACheckpointAndResumes) {
  Fixture f;
  const ResumeRuns r = expect_resume_matches(f, "--strategy partial:layer2 --epochs 3",
                                             "HONE_TEST_INTERRUPT_AFTER_STEPS=4", 130);
  EXPECT_NE(r.stopped.output.find("hone finetune --resume"), std::string::npos) << r.stopped.output;
}

TEST(CliFinetune, FeatureCacheSkipsTheBackboneOnTheSecondRun) {
  Fixture f;
  const CliRun first = hone_cli(f.base("a", "--strategy feature-extract"));
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("backbone ran once over 32 images"), std::string::npos) << first.output;
  const CliRun second = hone_cli(f.base("b", "--strategy feature-extract --lr 0.05 --head-lr-mult 2"));
  ASSERT_EQ(second.status, 0) << second.output;
  EXPECT_NE(second.output.find("from the cache"), std::string::npos) << second.output;
  EXPECT_NE(second.output.find("feature cache saved"), std::string::npos) << second.output;
}

TEST(CliFinetune, ExportedModelGivesTheTrainedOutputs) {
  Fixture f;
  ASSERT_EQ(hone_cli(f.base("run", "--strategy full --epochs 2")).status, 0);
  // The fine-tuned weights (best.safetensors) in the imported original, vs model.onnx.
  auto original = hone::io::onnx::import_onnx(f.model);
  original->replace_head(2);
  hone::io::load_checkpoint((f.dir / "run" / "best.safetensors").string(), {.model = original.get()});
  auto exported = hone::io::onnx::import_onnx(f.dir / "run" / "model.onnx");
  original->eval(), exported->eval();
  hone::NoGradGuard no_grad;
  const hone::Tensor x = hone::randn({3, 3, 32, 32});
  hone::test::expect_close((*exported)(x), (*original)(x), 1e-6, 1e-6);
  const auto pre = hone::io::onnx::read_preprocessing(exported->model());
  EXPECT_EQ(pre.class_names, (std::vector<std::string>{"squares", "stripes"}));
  EXPECT_EQ(pre.resize, 36);

  // predict and eval on the run folder use its recorded preprocessing and class names.
  const CliRun p = hone_cli("predict --model " + (f.dir / "run").string() + " " +
                         (f.data / "val" / "stripes" / "img0.png").string() + " --top 2");
  ASSERT_EQ(p.status, 0) << p.output;
  EXPECT_NE(p.output.find("stripes"), std::string::npos) << p.output;
  const CliRun e = hone_cli("eval --model " + (f.dir / "run").string() + " --data " + (f.data / "val").string() + " --json");
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("\"samples\": 8"), std::string::npos) << e.output;
  EXPECT_NE(e.output.find("\"per_class_accuracy\""), std::string::npos) << e.output;
}

TEST(CliFinetune, BadInputEndsWithOneClearMessage) {
  Fixture f;
  struct Case {
    std::string args, message;
  };
  fs::create_directories(f.dir / "one_class" / "only");
  write_folder(f.dir / "empty_class", 2, 3);
  for (auto& e : fs::directory_iterator(f.dir / "empty_class" / "stripes")) fs::remove(e.path());
  std::ofstream(f.dir / "empty_class" / "stripes" / "broken.jpg") << "not a jpeg";
  std::ofstream(f.dir / "a_file") << "x";
  const std::string m = " --model " + f.model.string();
  const std::vector<Case> cases = {
      {"finetune" + m + " --data " + (f.dir / "missing").string(), "is not a folder"},
      {"finetune" + m + " --data " + (f.dir / "one_class").string() + " --out " + (f.dir / "o").string(), "class"},
      {"finetune" + m + " --data " + (f.dir / "empty_class").string() + " --out " + (f.dir / "o").string(), "stripes"},
      {"finetune" + m + " --data " + f.data.string() + " --out " + (f.dir / "a_file" / "run").string(), "run folder"},
      {"finetune" + m + " --data " + f.data.string() + " --out " + (f.dir / "o").string() + " --strategy partial:layer9",
       "no stage 'layer9'"},
      {"finetune" + m + " --data " + f.data.string() + " --strategy sideways", "--strategy"},
      {"finetune --model " + (f.dir / "nope.onnx").string() + " --data " + f.data.string(), "not found"},
      {"finetune" + m + " --data " + f.data.string() + " --epochs 0", "--epochs"},
      {"finetune" + m + " --data " + f.data.string() + " --lr -1", "--lr"},
      {"finetune" + m + " --data " + f.data.string() + " --optimiser sgd", "optimiser"},
      {"finetune --resume " + (f.dir / "missing").string(), "config.json"},
      // No machine here has 8 GPUs: the message says what there is (or that CUDA is not built).
      {"finetune" + m + " --data " + f.data.string() + " --device cuda:7", "--device cuda:7: "},
      {"finetune" + m + " --data " + f.data.string() + " --device tpu", "tpu"},
      {"predict --model " + f.model.string() + " " + (f.dir / "a_file").string(), "a_file"},
      {"eval --model " + f.model.string() + " --data " + (f.dir / "missing").string(), "missing"},
  };
  for (const auto& c : cases) {
    const CliRun r = hone_cli(c.args);
    EXPECT_NE(r.status, 0) << c.args << "\n" << r.output;
    EXPECT_LT(r.status, 128) << "crashed: " << c.args << "\n" << r.output;
    EXPECT_NE(r.output.find(c.message), std::string::npos) << c.args << "\n" << r.output;
    EXPECT_EQ(r.output.find("terminate called"), std::string::npos) << r.output;
  }
}

// A few real photos of each class (sorted, so the same every run) in DIR/data/{train,val}.
void copy_photos(const fs::path& dir) {
  const fs::path src = fs::path(hone::test::shared_dir()) / "data" / "hymenoptera";
  for (const char* split : {"train", "val"})
    for (const char* cls : {"ants", "bees"}) {
      std::vector<fs::path> files;
      for (auto& e : fs::directory_iterator(src / split / cls))
        if (e.path().extension() == ".jpg") files.push_back(e.path());
      std::sort(files.begin(), files.end());
      fs::create_directories(dir / "data" / split / cls);
      for (size_t i = 0; i < std::min<size_t>(files.size(), std::string(split) == "train" ? 6 : 3); ++i)
        fs::copy_file(files[i], dir / "data" / split / cls / files[i].filename());
    }
}

TEST(CliFinetune, HymenopteraPhotosFineTune) {
  HONE_REQUIRE_SHARED("data/hymenoptera/train/ants");
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  copy_photos(dir);
  std::ofstream(dir / "data" / "train" / "ants" / "imageNotFound.gif") << "GIF89a\x01\x00\x01\x00";
  const fs::path model = write_model(dir);
  const CliRun r = hone_cli("finetune --model " + model.string() + " --data " + (dir / "data").string() + " --out " +
                         (dir / "run").string() + " --epochs 1 --batch-size 4 --threads 1 --strategy full");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("imageNotFound.gif"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipped 1 unreadable file"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("12 training, 6 validation images"), std::string::npos) << r.output;
}

// The README's recipe on a file of the layout torch.onnx.export writes for an eval-mode
// torchvision ResNet-18 (BN folded, weights named onnx::Conv_N; the fixture's generated
// weights), on real photos at 224x224: partial:layer4 finds its stage, trains, exports,
// and eval reads the run folder back.
TEST(CliFinetune, TorchvisionResNet18OnPhotos) {
  HONE_REQUIRE_SHARED("data/hymenoptera/train/ants");
  namespace fx = hone::test::onnx_fixtures;
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  copy_photos(dir);
  const fs::path model = fx::materialize(fx::fixture("tv_resnet18_op17_bn_folded"), dir, true);
  const CliRun r = hone_cli("finetune --model " + model.string() + " --data " + (dir / "data").string() + " --out " +
                            (dir / "run").string() + " --strategy partial:layer4 --epochs 2 --batch-size 4 --lr 0.001");
  ASSERT_EQ(r.status, 0) << r.output;
  // layer4: conv weights 8388608 + folded biases 2560; the new head 512 * 2 + 2
  EXPECT_NE(r.output.find("(partial:layer4): 8392194 of 11172738 parameters train"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("nan"), std::string::npos) << r.output;
  const CliRun e = hone_cli("eval --model " + (dir / "run").string() + " --data " + (dir / "data" / "val").string());
  ASSERT_EQ(e.status, 0) << e.output;
  EXPECT_NE(e.output.find("images:     6"), std::string::npos) << e.output;
}

}  // namespace

namespace {

// Refused input ends with exit status 1 and one line naming the problem, never an abort.
TEST(CliErrors, UnknownModelAndImpossiblePathsExitOneWithAMessage) {
  const CliRun unknown = hone_cli("inspect vgg99");
  EXPECT_EQ(unknown.status, 1) << unknown.output;
  EXPECT_NE(unknown.output.find("hone: error: unknown model 'vgg99'"), std::string::npos) << unknown.output;
  const std::string long_path = "/tmp/" + std::string(5000, 'x') + ".onnx";  // past PATH_MAX
  const CliRun too_long = hone_cli("inspect " + long_path);
  EXPECT_EQ(too_long.status, 1) << too_long.output;
  EXPECT_NE(too_long.output.find("hone: error:"), std::string::npos) << too_long.output;
  const CliRun too_long_data = hone_cli("finetune --data /tmp/" + std::string(5000, 'y') + " --model small_resnet");
  EXPECT_EQ(too_long_data.status, 1) << too_long_data.output;
}

// `hone inspect --json` prints valid JSON whatever bytes the file's strings hold.
TEST(CliErrors, InspectJsonIsValidForNonUtf8Metadata) {
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  hone::Generator g(3);
  auto net = hone::models::small_resnet(2, 1, {4}, {1}, &g);
  hone::io::onnx::ExportOptions eo;
  eo.channels = 1;
  eo.preprocessing = {.input_size = {28, 28}, .class_names = {"caf\xe9", "ok\xff\xfe"}};  // Latin-1, not UTF-8
  hone::io::onnx::export_onnx(*net, dir / "latin1.onnx", eo);
  const CliRun r = hone_cli("inspect --json " + (dir / "latin1.onnx").string());
  ASSERT_EQ(r.status, 0) << r.output;
  nlohmann::json j;
  EXPECT_NO_THROW(j = nlohmann::json::parse(r.output)) << r.output;
  EXPECT_TRUE(j.contains("metadata")) << r.output;
}

TEST(CliFinetune, DocsExampleFineTunes) {
  Fixture f;
  const std::string cmd = "cd " + f.dir.string() + " && " + HONE_EXAMPLE_PATH + " " + f.model.string() + " " +
                          (f.data / "train").string() + " 2 2>&1";
  const hone::test::CommandResult r = hone::test::run_command(cmd);
  const std::string& out = r.output;
  ASSERT_EQ(r.status, 0) << out;
  EXPECT_NE(out.find("epoch 2: val accuracy"), std::string::npos) << out;
  EXPECT_TRUE(fs::is_regular_file(f.dir / "finetuned.onnx")) << out;
}
}  // namespace
