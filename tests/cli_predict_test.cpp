// `hone predict` on real photos agrees with PyTorch: torchvision's ResNet-18 and
// VGG-16-BN exported by torch.onnx.export with BN kept and with BN folded (the fixtures of
// tests/golden/onnx, with the generator's weights), top-5 classes in order and their
// probabilities, against
// tests/golden/predict/manifest.txt (tools/golden/predict_golden.py).
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "onnx_fixtures.h"
#include "test_util.h"

namespace {

namespace fs = std::filesystem;

struct Golden {
  std::string fixture, image;
  std::vector<int64_t> classes;
  std::vector<double> probabilities;
};

std::vector<Golden> goldens() {
  std::ifstream in(std::string(HONE_TESTS_DIR) + "/golden/predict/manifest.txt");
  std::vector<Golden> out;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream ls(line);
    Golden g;
    std::string classes, probs;
    ls >> g.fixture >> g.image >> classes >> probs;
    std::stringstream c(classes), p(probs);
    for (std::string v; std::getline(c, v, ',');) g.classes.push_back(std::stoll(v));
    for (std::string v; std::getline(p, v, ',');) g.probabilities.push_back(std::stod(v));
    out.push_back(g);
  }
  return out;
}

std::string run(const std::string& args) {
  const std::string cmd = std::string(HONE_CLI_PATH) + " " + args + " 2>&1";
  const hone::test::CommandResult r = hone::test::run_command(cmd);
  EXPECT_EQ(r.status, 0) << cmd << "\n" << r.output;
  return r.output;
}

void check(const std::string& fixture) {
  HONE_REQUIRE_SHARED("data/hymenoptera/val/ants");
  std::vector<Golden> want;
  for (const auto& g : goldens())
    if (g.fixture == fixture) want.push_back(g);
  ASSERT_FALSE(want.empty()) << "no golden for " << fixture;
  const hone::test::TempDir tmp;
  const fs::path dir = tmp.path;
  const fs::path model = hone::test::onnx_fixtures::materialize(hone::test::onnx_fixtures::fixture(fixture), dir, true);
  std::string args = "predict --json --model " + model.string();
  for (const auto& g : want) args += " " + hone::test::shared_dir() + "/data/hymenoptera/" + g.image;
  std::istringstream lines(run(args));
  size_t i = 0;
  for (std::string line; std::getline(lines, line) && i < want.size(); ++i) {
    const auto j = nlohmann::json::parse(line);
    ASSERT_EQ(j.at("top").size(), 5u) << line;
    for (size_t k = 0; k < 5; ++k) {
      EXPECT_EQ(j["top"][k]["class"].get<int64_t>(), want[i].classes[k]) << want[i].image << " rank " << k;
      EXPECT_NEAR(j["top"][k]["probability"].get<double>(), want[i].probabilities[k], 1e-4 * want[i].probabilities[k])
          << want[i].image << " rank " << k;
    }
  }
  EXPECT_EQ(i, want.size());
}

TEST(CliPredict, ResNet18TopFiveEqualsPyTorch) { check("tv_resnet18_op17_bn_kept"); }
TEST(CliPredict, Vgg16BnTopFiveEqualsPyTorch) { check("tv_vgg16_bn_op17_bn_kept"); }
TEST(CliPredict, ResNet18BnFoldedTopFiveEqualsPyTorch) { check("tv_resnet18_op17_bn_folded"); }
TEST(CliPredict, Vgg16BnFoldedTopFiveEqualsPyTorch) { check("tv_vgg16_bn_op17_bn_folded"); }

}  // namespace
