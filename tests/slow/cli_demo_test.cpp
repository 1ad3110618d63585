// `hone demo --forgetting` end to end on a few Fashion-MNIST images (skipped where Debian's
// dataset-fashion-mnist is absent): every technique runs, both tasks are scored from the
// exported files, and the techniques that cannot touch the old task leave its accuracy
// exactly as before.
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace {

namespace fs = std::filesystem;

const fs::path kFashion = "/usr/share/datasets/fashion-mnist";

hone::test::CommandResult hone_cli(const std::string& args) {
  return hone::test::run_command(std::string(HONE_CLI_PATH) + " " + args + " 2>&1");
}

TEST(CliDemo, ForgettingRunsEveryTechniqueAndScoresBothTasks) {
  if (!fs::exists(kFashion / "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << kFashion << " not found (apt-get install dataset-fashion-mnist)";
  hone::test::TempDir tmp;
  const auto r = hone_cli("demo --forgetting --threads 1 --source-per-class 200 --source-epochs 1 --labels-per-class 8 "
                          "--epochs 2 --old-per-class 8 --curve-per-class 4 --out " + (tmp.path / "f").string());
  ASSERT_EQ(r.status, 0) << r.output;
  std::ifstream in(tmp.path / "f" / "results.json");
  const auto j = nlohmann::json::parse(in);
  const double before = j.at("old_accuracy_before").get<double>();
  EXPECT_GT(before, 0.3) << "the source model should know the old task (5 classes) better than chance";
  for (const char* t : {"fine-tune", "feature-extract", "lwf", "ewc", "joint", "packnet", "piggyback"}) {
    const auto& row = j.at("techniques").at(t);
    for (const char* k : {"old_task_accuracy", "new_task_accuracy"}) {
      const double a = row.at(k).get<double>();
      EXPECT_TRUE(a >= 0 && a <= 1) << t << " " << k << " " << a;
    }
    EXPECT_TRUE(fs::is_regular_file(tmp.path / "f" / t / "old-task.onnx")) << t;
    EXPECT_NE(r.output.find(std::string("  ") + t), std::string::npos) << t;
  }
  // A frozen backbone and an untouched old head: the old task's 5000 test images are
  // classified exactly as before, image for image, so the accuracy is equal, not close.
  EXPECT_EQ(j["techniques"]["feature-extract"]["old_task_accuracy"].get<double>(), before);
  EXPECT_EQ(j["techniques"]["piggyback"]["old_task_accuracy"].get<double>(), before);
  EXPECT_TRUE(fs::is_regular_file(tmp.path / "f" / "curves.svg"));
  EXPECT_TRUE(fs::is_regular_file(tmp.path / "f" / "results.md"));
}

TEST(CliDemo, ForgettingNamesAnUnknownTechnique) {
  hone::test::TempDir tmp;
  const auto r = hone_cli("demo --forgetting --techniques lwf,distill --out " + (tmp.path / "f").string());
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown technique 'distill'"), std::string::npos) << r.output;
}

}  // namespace
