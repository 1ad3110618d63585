// export_onnx: native networks and imported graphs written at opset 17, read back by
// import_onnx and load_onnx_weights with the same outputs, preprocessing metadata round
// trip. With HONE_EXPORT_DIR set, each exported file is kept there beside its input and
// our output (raw float32), for tools/golden/check_export.py to run through ONNX Runtime.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "autograd/grad_mode.h"
#include "io/onnx/export.h"
#include "io/onnx/import.h"
#include "io/onnx/weights.h"
#include "models/resnet.h"
#include "models/zoo.h"
#include "onnx_fixtures.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;

struct Scratch {
  fs::path dir;
  explicit Scratch(const std::string& name) {
    dir = fs::temp_directory_path() / ("hone_export_" + std::to_string(::getpid()) + "_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
  }
  ~Scratch() { fs::remove_all(dir); }
};

// Keeps file, input and our output for the ONNX Runtime check, when asked to.
void keep_for_ort(const fs::path& file, const Tensor& x, const Tensor& y) {
  const char* env = std::getenv("HONE_EXPORT_DIR");
  if (!env) return;
  const fs::path out(env);
  fs::create_directories(out);
  const std::string stem = file.stem().string();
  fs::copy_file(file, out / file.filename(), fs::copy_options::overwrite_existing);
  auto dump = [&](const Tensor& t, const std::string& suffix) {
    const std::vector<float> v = t.contiguous().to_vector<float>();
    std::ofstream f(out / (stem + suffix), std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * 4));
    std::ofstream(out / (stem + suffix + ".shape")) << testing::PrintToString(t.shape());
  };
  dump(x, ".input.bin");
  dump(y, ".hone.bin");
}

double rel(const Tensor& a, const Tensor& b) {
  return test::onnx_fixtures::relative_error(a.contiguous().to_vector<float>(), b.contiguous().to_vector<float>());
}

TEST(OnnxExport, NativeResNet18RoundTripsThroughBothFrontDoors) {
  Scratch s("resnet18");
  Generator gen(5);
  auto net = models::resnet18(10, &gen);
  // Non-trivial BN statistics, as after training.
  for (auto& [name, t] : net->named_buffers())
    if (name.find("running_var") != std::string::npos) t.copy_(uniform(t.shape(), 0.5, 1.5, {}, &gen));
    else if (name.find("running_mean") != std::string::npos) t.copy_(uniform(t.shape(), -0.2, 0.2, {}, &gen));
  net->eval();
  io::onnx::ExportOptions o;
  o.preprocessing = {.input_size = {64, 64}, .mean = {0.485, 0.456, 0.406}, .std = {0.229, 0.224, 0.225},
                     .class_names = {"ant", "bee", "wasp", "fly", "moth", "beetle", "cricket", "mantis", "flea", "louse"}};
  const fs::path file = s.dir / "resnet18_native.onnx";
  io::onnx::export_onnx(*net, file, o);
  NoGradGuard no_grad;
  const Tensor x = uniform({3, 3, 64, 64}, -2, 2, {}, &gen);
  const Tensor want = net->forward(x);
  auto imported = io::onnx::import_onnx(file);
  imported->eval();
  EXPECT_EQ(imported->model().opset, 17);
  EXPECT_LT(rel(imported->forward(x), want), 1e-6);
  auto fresh = models::resnet18(10);
  io::onnx::load_onnx_weights(*fresh, file);
  fresh->eval();
  EXPECT_LT(rel(fresh->forward(x), want), 1e-6);
  const io::onnx::Preprocessing p = io::onnx::read_preprocessing(imported->model());
  EXPECT_EQ(p.input_size, (std::vector<int64_t>{64, 64}));
  EXPECT_EQ(p.class_names, o.preprocessing.class_names);
  ASSERT_EQ(p.mean.size(), 3u);
  EXPECT_NEAR(p.std[2], 0.225, 1e-9);
  keep_for_ort(file, x, want);
}

TEST(OnnxExport, SmallResNetWithGreyInput) {
  Scratch s("small");
  auto net = models::create("small_resnet");
  net->eval();
  io::onnx::ExportOptions o;
  o.channels = 1;
  o.preprocessing.input_size = {28, 28};
  const fs::path file = s.dir / "small_resnet.onnx";
  io::onnx::export_onnx(*net, file, o);
  NoGradGuard no_grad;
  const Tensor x = uniform({4, 1, 28, 28}, -1, 1);
  const Tensor want = net->forward(x);
  auto imported = io::onnx::import_onnx(file);
  imported->eval();
  EXPECT_LT(rel(imported->forward(x), want), 1e-6);
  keep_for_ort(file, x, want);
}

// An old model-zoo file (opset 7, BN with `spatial`, batch fixed at 1), fine-tuned after
// import (new 2-class head), exported at opset 17: the same outputs at any batch.
TEST(OnnxExport, ImportedZooGraphWithNewHeadExportsAtOpset17) {
  Scratch s("zoo");
  const auto f = test::onnx_fixtures::fixture("zoo_resnet18");
  const fs::path src = test::onnx_fixtures::materialize(f, s.dir, true);
  auto m = io::onnx::import_onnx(src);
  m->replace_head(2);
  m->eval();
  const fs::path file = s.dir / "zoo_resnet18_2class.onnx";
  io::onnx::export_onnx(*m, file, {.preprocessing = {.input_size = {224, 224}, .class_names = {"ants", "bees"}}});
  NoGradGuard no_grad;
  const Tensor x = test::onnx_fixtures::rule_input(2);
  const Tensor want = m->forward(x);
  EXPECT_EQ(want.shape(), (Shape{2, 2}));
  auto back = io::onnx::import_onnx(file);
  back->eval();
  EXPECT_EQ(back->model().opset, 17);
  for (const auto& n : back->model().nodes) EXPECT_FALSE(n.find("spatial")) << n.describe();
  EXPECT_LT(rel(back->forward(x), want), 1e-6);
  EXPECT_EQ(io::onnx::read_preprocessing(back->model()).class_names, (std::vector<std::string>{"ants", "bees"}));
  keep_for_ort(file, x, want);
}

// Old-opset ops whose form changed by 17: Clip (attributes -> inputs), Softmax (2-D view
// -> one axis), Unsqueeze (attribute -> input), Dropout (dropped at inference).
TEST(OnnxExport, OldOpsetFormsAreRewritten) {
  Scratch s("old");
  ::onnx::ModelProto m;
  m.set_ir_version(3);
  m.add_opset_import()->set_version(6);
  auto* g = m.mutable_graph();
  auto value = [](auto* field, const std::string& name, std::vector<int64_t> dims) {
    auto* v = field->Add();
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
  };
  value(g->mutable_input(), "x", {2, 3, 4});
  value(g->mutable_output(), "y", {2, 3, 4, 1});
  auto node = [&](const char* op, std::vector<std::string> in, const char* out) {
    auto* n = g->add_node();
    n->set_op_type(op), n->set_name(out);
    for (auto& i : in) n->add_input(i);
    n->add_output(out);
    return n;
  };
  auto attr_f = [](::onnx::NodeProto* n, const char* name, float v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(::onnx::AttributeProto::FLOAT), a->set_f(v);
  };
  auto* clip = node("Clip", {"x"}, "c");
  attr_f(clip, "min", -0.5f), attr_f(clip, "max", 0.75f);
  attr_f(node("Dropout", {"c"}, "d"), "ratio", 0.5f);
  auto* sm = node("Softmax", {"d"}, "s");
  auto* ax = sm->add_attribute();
  ax->set_name("axis"), ax->set_type(::onnx::AttributeProto::INT), ax->set_i(1);  // over the 3x4 block
  auto* un = node("Unsqueeze", {"s"}, "y");
  auto* axes = un->add_attribute();
  axes->set_name("axes"), axes->set_type(::onnx::AttributeProto::INTS), axes->add_ints(3);
  const fs::path src = s.dir / "old.onnx";
  {
    std::ofstream out(src, std::ios::binary);
    m.SerializeToOstream(&out);
  }
  auto a = io::onnx::import_onnx(src);
  a->eval();
  const fs::path file = s.dir / "old_ops.onnx";
  io::onnx::export_onnx(*a, file, {.preprocessing = {}});
  auto b = io::onnx::import_onnx(file);
  b->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({2, 3, 4}, -2, 2);
  const Tensor want = a->forward(x);
  // Softmax over the whole 3x4 block of each row: every [n, :, :] sums to 1.
  const std::vector<float> v = want.contiguous().to_vector<float>();
  double sum0 = 0;
  for (int i = 0; i < 12; ++i) sum0 += v[size_t(i)];
  EXPECT_NEAR(sum0, 1.0, 1e-5);
  EXPECT_LT(rel(b->forward(x), want), 1e-6);
  for (const auto& n : b->model().nodes) {
    EXPECT_NE(n.op_type, "Dropout");
    EXPECT_FALSE(n.op_type == "Clip" && n.find("min")) << "Clip keeps its min attribute at opset 17";
    EXPECT_FALSE(n.op_type == "Unsqueeze" && n.find("axes"));
  }
  keep_for_ort(file, x, want);
}

}  // namespace
}  // namespace hone
