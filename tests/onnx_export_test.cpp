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
#include "nn/layers.h"
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

// Blocks no exporter has heard of: export writes what forward runs, whatever the type.
class ScaledSkipBlock : public nn::Module {
 public:
  explicit ScaledSkipBlock(Generator* gen) : Module("ScaledSkipBlock") {
    conv1_ = register_module("conv1", std::make_shared<nn::Conv2d>(
                                          nn::Conv2dOptions{.in_channels = 3, .out_channels = 3, .kernel = {3, 3},
                                                            .padding = {1, 1, 1, 1}}, gen));
    conv2_ = register_module("conv2", std::make_shared<nn::Conv2d>(
                                          nn::Conv2dOptions{.in_channels = 3, .out_channels = 3, .kernel = {3, 3},
                                                            .padding = {1, 1, 1, 1}, .bias = false}, gen));
  }
  Tensor forward(const Tensor& x) override { return branch(x) * 0.5 + x; }

 protected:
  virtual Tensor branch(const Tensor& x) { return (*conv2_)(relu((*conv1_)(x))); }
  std::shared_ptr<nn::Conv2d> conv1_, conv2_;
};

// The same block with one more relu in its forward, and nothing else changed.
class ScaledSkipBlockWithRelu : public ScaledSkipBlock {
 public:
  using ScaledSkipBlock::ScaledSkipBlock;

 protected:
  Tensor branch(const Tensor& x) override { return relu(ScaledSkipBlock::branch(x)); }
};

std::shared_ptr<nn::Sequential> custom_net(std::shared_ptr<nn::Module> block, Generator* gen) {
  return std::make_shared<nn::Sequential>(std::initializer_list<std::shared_ptr<nn::Module>>{
      block, std::make_shared<nn::MaxPool2d>(Pool2dOptions{.kernel = {2, 2}}),
      std::make_shared<nn::AdaptiveAvgPool2d>(std::array<int64_t, 2>{2, 2}), std::make_shared<nn::Dropout>(0.5),
      std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(12, 4, true, gen)});
}

int count_ops(const io::onnx::Model& m, const std::string& op) {
  int n = 0;
  for (const auto& node : m.nodes) n += node.op_type == op;
  return n;
}

TEST(OnnxExport, CustomBlockRoundTripsThroughImport) {
  Scratch s("custom");
  Generator gen(11);
  auto net = custom_net(std::make_shared<ScaledSkipBlock>(&gen), &gen);
  const fs::path file = s.dir / "custom.onnx";
  io::onnx::export_onnx(*net, file, {.preprocessing = {.input_size = {12, 12}}});
  EXPECT_TRUE(net->is_training()) << "export must leave the model's mode as it was";
  net->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({3, 3, 12, 12}, -1, 1, {}, &gen);
  const Tensor want = net->forward(x);
  auto back = io::onnx::import_onnx(file);
  back->eval();
  EXPECT_LT(rel(back->forward(x), want), 1e-6);
  EXPECT_EQ(count_ops(back->model(), "Dropout"), 0);
  EXPECT_EQ(count_ops(back->model(), "Conv"), 2);
  // Initializers keep the module's state_dict names.
  for (const char* name : {"0.conv1.weight", "0.conv1.bias", "0.conv2.weight", "5.weight", "5.bias"})
    EXPECT_EQ(back->weights().count(name), 1u) << name;
  keep_for_ort(file, x, want);
}

TEST(OnnxExport, EditingAForwardChangesTheExport) {
  Scratch s("edited");
  Generator gen(12);
  auto plain = custom_net(std::make_shared<ScaledSkipBlock>(&gen), &gen);
  auto edited = custom_net(std::make_shared<ScaledSkipBlockWithRelu>(&gen), &gen);
  io::onnx::export_onnx(*plain, s.dir / "plain.onnx", {.preprocessing = {.input_size = {12, 12}}});
  io::onnx::export_onnx(*edited, s.dir / "edited.onnx", {.preprocessing = {.input_size = {12, 12}}});
  auto a = io::onnx::import_onnx(s.dir / "plain.onnx"), b = io::onnx::import_onnx(s.dir / "edited.onnx");
  EXPECT_EQ(count_ops(b->model(), "Relu"), count_ops(a->model(), "Relu") + 1);
  edited->eval();
  b->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({2, 3, 12, 12}, -1, 1, {}, &gen);
  EXPECT_LT(rel(b->forward(x), edited->forward(x)), 1e-6);
}

// batch_norm with a fused relu (one op in hone) exports as BatchNormalization then Relu.
class FusedBnReluBlock : public nn::Module {
 public:
  explicit FusedBnReluBlock(Generator* gen) : Module("FusedBnReluBlock") {
    conv_ = register_module("conv", std::make_shared<nn::Conv2d>(
                                        nn::Conv2dOptions{.in_channels = 3, .out_channels = 3, .kernel = {3, 3},
                                                          .padding = {1, 1, 1, 1}, .bias = false}, gen));
    bn_ = register_module("bn", std::make_shared<nn::BatchNorm2d>(nn::BatchNorm2dOptions{.num_features = 3}));
    NoGradGuard no_grad;  // statistics that make the relu cut: some channels mostly negative
    bn_->running_mean.copy_(from_vector<float>({0.3f, -0.2f, 0.1f}));
    bn_->running_var.copy_(from_vector<float>({0.5f, 1.5f, 0.8f}));
    bn_->bias.copy_(from_vector<float>({-0.4f, 0.2f, 0.0f}));
  }
  Tensor forward(const Tensor& x) override {
    return batch_norm((*conv_)(x), bn_->weight, bn_->bias, bn_->running_mean, bn_->running_var,
                      {.use_batch_stats = false, .update_running_stats = false, .fuse_relu = true});
  }
  std::shared_ptr<nn::Conv2d> conv_;
  std::shared_ptr<nn::BatchNorm2d> bn_;
};

TEST(OnnxExport, FusedBatchNormReluExportsAsBatchNormalizationAndRelu) {
  Scratch s("fused_bn_relu");
  Generator gen(14);
  auto net = custom_net(std::make_shared<FusedBnReluBlock>(&gen), &gen);
  const fs::path file = s.dir / "fused_bn_relu.onnx";
  io::onnx::export_onnx(*net, file, {.preprocessing = {.input_size = {12, 12}}});
  net->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({2, 3, 12, 12}, -1, 1, {}, &gen);
  const Tensor want = net->forward(x);
  auto back = io::onnx::import_onnx(file);
  back->eval();
  EXPECT_EQ(count_ops(back->model(), "BatchNormalization"), 1);
  EXPECT_EQ(count_ops(back->model(), "Relu"), 1);
  EXPECT_LT(rel(back->forward(x), want), 1e-6);
  keep_for_ort(file, x, want);
}

// An op the table has no entry for.
class LossInForward : public nn::Module {
 public:
  explicit LossInForward(Generator* gen) : Module("LossInForward") {
    stem_ = register_module("stem", std::make_shared<nn::Conv2d>(
                                        nn::Conv2dOptions{.in_channels = 3, .out_channels = 2, .kernel = {4, 4}}, gen));
  }
  Tensor forward(const Tensor& x) override {
    return cross_entropy((*stem_)(x).flatten(1), zeros({x.size(0)}, {.dtype = DType::Int64}));
  }
  std::shared_ptr<nn::Conv2d> stem_;
};

TEST(OnnxExport, AnOpWithoutAnOnnxMappingIsNamed) {
  Scratch s("unmapped");
  Generator gen(13);
  LossInForward net(&gen);
  const fs::path file = s.dir / "loss.onnx";
  test::expect_error([&] { io::onnx::export_onnx(net, file, {.preprocessing = {.input_size = {4, 4}}}); },
                     {"export_onnx", "cross_entropy", "after stem", "no ONNX mapping"});
  EXPECT_FALSE(fs::exists(file));
}

// sign() reports no trace event: its result would be frozen into the file as a constant.
class UntracedOpInForward : public nn::Module {
 public:
  UntracedOpInForward() : Module("UntracedOpInForward") {}
  Tensor forward(const Tensor& x) override { return relu(sign(x) * x); }
};

TEST(OnnxExport, AValueNoTracedOpComputedIsRefusedWhenItFollowsTheInput) {
  Scratch s("untraced");
  UntracedOpInForward net;
  test::expect_error([&] { io::onnx::export_onnx(net, s.dir / "u.onnx", {.preprocessing = {.input_size = {4, 4}}}); },
                     {"export_onnx", "mul", "no traced op computed"});
}

// Folding the batch into another dim: a Reshape to the traced [C*H*W] fails at batch 2.
class FlattensTheBatch : public nn::Module {
 public:
  FlattensTheBatch() : Module("FlattensTheBatch") {}
  Tensor forward(const Tensor& x) override { return relu(x.flatten(0)); }
};

TEST(OnnxExport, ShapesThatFollowTheBatchOutsideTheLeadingDimAreRefused) {
  Scratch s("batch");
  FlattensTheBatch net;
  test::expect_error([&] { io::onnx::export_onnx(net, s.dir / "b.onnx", {.preprocessing = {.input_size = {2, 2}}}); },
                     {"export_onnx", "reshape", "[12]", "[24]", "leading dim"});
}

TEST(OnnxExport, ExportLeavesModesAndStatisticsAlone) {
  Scratch s("modes");
  auto net = models::create("small_resnet");
  net->train();
  auto& bn = static_cast<nn::BatchNorm2d&>(net->module("bn1"));
  bn.set_mode(nn::BatchNormMode::Inference);  // apart from the module's training flag
  std::map<std::string, Tensor> before;
  for (const auto& [name, t] : net->state_dict()) before[name] = t.clone();
  io::onnx::export_onnx(*net, s.dir / "m.onnx", {.channels = 1, .preprocessing = {.input_size = {28, 28}}});
  EXPECT_TRUE(net->is_training());
  EXPECT_TRUE(net->module("layer1.0.bn1").is_training());
  EXPECT_EQ(bn.mode(), nn::BatchNormMode::Inference);
  EXPECT_EQ(static_cast<nn::BatchNorm2d&>(net->module("layer1.0.bn1")).mode(), nn::BatchNormMode::Train);
  for (const auto& [name, t] : net->state_dict())
    EXPECT_EQ(t.to(DType::Float64).contiguous().to_vector<double>(), before.at(name).to(DType::Float64).contiguous().to_vector<double>())
        << name;
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
