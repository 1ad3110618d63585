// ResNet-18 in the layouts users bring, with generated weights (tests/onnx_fixtures.h):
// the PyTorch 2.10 dynamo export (BN folded, external data, opset 18), the model zoo's
// layout (opset 7, BatchNormalization with `spatial`, Flatten + Gemm, inline weights, a
// fixed batch of 1 run at batch 2), and torchvision exported by torch 1.13 (opset 13 and
// 17, BN kept and folded). VGG-16 and VGG-16-BN, being 528 MB each, are in
// tests/slow/onnx_vgg_test.cpp.
#include "models/resnet.h"
#include "nn/optim.h"
#include "onnx_fixtures.h"
#include "test_util.h"

namespace hone {
namespace {

using test::onnx_fixtures::check_fixture;

TEST(OnnxModels, ResNet18DynamoExportBnFoldedExternalData) {
  auto net = models::resnet18();
  check_fixture("resnet18_dynamo", *net, /*inline_weights=*/false);
}
TEST(OnnxModels, ResNet18ModelZooLayout) {
  auto net = models::resnet18();
  check_fixture("zoo_resnet18", *net);
}
TEST(OnnxModels, ResNet18Torch113Opset13BnKept) {
  auto net = models::resnet18();
  check_fixture("tv_resnet18_op13_bn_kept", *net);
}
TEST(OnnxModels, ResNet18Torch113Opset13BnFolded) {
  auto net = models::resnet18();
  check_fixture("tv_resnet18_op13_bn_folded", *net);
}
TEST(OnnxModels, ResNet18Torch113Opset17BnKept) {
  auto net = models::resnet18();
  check_fixture("tv_resnet18_op17_bn_kept", *net);
}
TEST(OnnxModels, ResNet18Torch113Opset17BnFoldedAsExternalData) {
  auto net = models::resnet18();
  check_fixture("tv_resnet18_op17_bn_folded", *net, /*inline_weights=*/false);
}

// The loader's errors name the first mismatch: ResNet-18's file into a ResNet-34.
TEST(OnnxModels, LoadingIntoTheWrongNetworkNamesTheMismatch) {
  const auto f = test::onnx_fixtures::fixture("tv_resnet18_op17_bn_kept");
  const auto dir = std::filesystem::temp_directory_path() / ("hone_wrongnet_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = test::onnx_fixtures::materialize(f, dir, false);
  auto net34 = models::resnet34();
  test::expect_error([&] { io::onnx::load_onnx_weights(*net34, file); }, {"expected", "found"});
  auto net = models::resnet18(10);  // a different head
  test::expect_error([&] { io::onnx::load_onnx_weights(*net, file); }, {"fc", "[10,512]", "[1000,512]"});
  std::filesystem::remove_all(dir);
}

// Fine-tuning an imported graph: freeze by the file's names, a new 2-class head, BN in
// training mode; a few SGD steps on a fixed batch lower the loss, frozen weights stay
// bit-identical and the BN statistics of the frozen part still move only in train().
TEST(OnnxModels, ImportedGraphFineTunes) {
  const auto f = test::onnx_fixtures::fixture("tv_resnet18_op17_bn_kept");
  const auto dir = std::filesystem::temp_directory_path() / ("hone_finetune_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto m = io::onnx::import_onnx(test::onnx_fixtures::materialize(f, dir, false));
  m->replace_head(2);
  m->freeze();
  m->unfreeze({"layer4.*", "fc.*"});
  const auto count = m->count_parameters();
  EXPECT_EQ(count.trainable, 512 * 512 * 9 * 3 + 256 * 512 * 9 + 256 * 512 + 512 * 2 * 5 + 512 * 2 + 2);
  const Tensor frozen = m->weights().at("layer1.0.conv1.weight"), before = frozen.clone();
  const Tensor x = uniform({4, 3, 224, 224}, -1, 1);  // the file fixes 224x224, as exports do
  const Tensor y = from_vector(std::vector<int64_t>{0, 1, 1, 0}, {4}, {.dtype = DType::Int64});
  optim::SGD opt(m->parameters(), optim::SGDOptions{.lr = 0.05, .momentum = 0.9});
  m->train();
  std::vector<double> losses;
  for (int step = 0; step < 6; ++step) {
    opt.zero_grad();
    Tensor loss = cross_entropy(m->forward(x), y);
    losses.push_back(loss.item<double>());
    loss.backward();
    opt.step();
  }
  EXPECT_LT(losses.back(), losses.front() * 0.5) << losses.front() << " -> " << losses.back();
  EXPECT_EQ(frozen.to_vector<float>(), before.to_vector<float>());
  EXPECT_FALSE(m->weights().at("layer1.0.conv1.weight").grad().defined());
  std::filesystem::remove_all(dir);
}

// `hone inspect FILE.onnx` loads the whole file as training would: on a good file it
// reports ops, opset and parameters; on a broken one, a message on stderr and exit 1.
TEST(OnnxModels, InspectCliOnOnnxFiles) {
  const auto f = test::onnx_fixtures::fixture("tv_resnet18_op17_bn_folded");
  const auto dir = std::filesystem::temp_directory_path() / ("hone_inspect_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = test::onnx_fixtures::materialize(f, dir, false);
  const auto expected = io::onnx::import_onnx(file)->count_parameters();
  auto run = [](const std::string& cmd, int& status) {
    const test::CommandResult r = test::run_command(cmd);
    status = r.status;
    return r.output;
  };
  int status = 0;
  const std::string json = run(std::string(HONE_CLI_PATH) + " inspect " + file.string() + " --json", status);
  EXPECT_EQ(status, 0) << json;
  EXPECT_NE(json.find("\"opset\": 17"), std::string::npos) << json;
  EXPECT_NE(json.find("\"parameters\": " + std::to_string(expected.total)), std::string::npos) << json;
  EXPECT_NE(json.find("\"bn_folded\": true"), std::string::npos) << json;
  EXPECT_NE(json.find("\"Conv\": 20"), std::string::npos) << json;
  const std::string text = run(std::string(HONE_CLI_PATH) + " inspect " + file.string(), status);
  EXPECT_EQ(status, 0);
  EXPECT_NE(text.find("folded into Conv"), std::string::npos) << text;
  // Cut the data file short: the last tensors now run past its end.
  std::filesystem::resize_file(dir / (f.name + ".weights"), 1000);
  const std::string err = run(std::string(HONE_CLI_PATH) + " inspect " + file.string() + " 2>&1", status);
  EXPECT_NE(status, 0);
  EXPECT_NE(err.find("past the end"), std::string::npos) << err;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hone
