// ONNX graphs built to hurt: attributes that divide by zero or loop for ever, shapes that
// ask for more memory than the machine has, nodes with missing inputs or outputs. Each must
// be a hone::Error naming the node and what is wrong -- when the module is built (so
// `hone inspect` refuses it too) where the node alone decides it, in the forward otherwise,
// and always before any allocation or loop of that size.
#include <chrono>
#include <future>

#include "autograd/grad_mode.h"
#include "io/onnx/import.h"
#include "io/onnx/weights.h"
#include "onnx_builders.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using namespace test::onnx_builders;
using test::expect_error;

// x [1, 1, 6, 6] -> op -> y, with the node edited by `edit`.
::onnx::ModelProto one_node(const std::string& op, const std::function<void(::onnx::NodeProto*)>& edit,
                            int opset = 13) {
  ::onnx::ModelProto m = graph_model({1, 1, 6, 6}, opset);
  std::vector<std::string> inputs = {"x"};
  if (op == "Conv") {
    *m.mutable_graph()->add_initializer() = float_tensor("w", {1, 1, 3, 3}, std::vector<float>(9, 0.1f));
    inputs.push_back("w");
  }
  auto* n = add_node(m, op, inputs, {"y"}, "bad_" + op);
  if (op == "MaxPool" || op == "AveragePool") set_ints(n, "kernel_shape", {3, 3});
  edit(n);
  return m;
}

// The module is refused when built, with every part of `parts` in the message.
void refused_at_import(const ::onnx::ModelProto& m, const std::vector<std::string>& parts) {
  test::TempDir dir;
  const fs::path file = write(dir.path / "bad.onnx", m);
  expect_error([&] { io::onnx::import_onnx(file); }, parts);
}

TEST(OnnxHostile, ZeroStridesWithSamePaddingAreRefusedWhenTheModuleIsBuilt) {
  // Was SIGFPE in the first forward (SAME padding divides by the stride).
  for (const char* op : {"Conv", "MaxPool", "AveragePool"}) {
    SCOPED_TRACE(op);
    refused_at_import(one_node(op, [](auto* n) {
      set_ints(n, "strides", {0, 1});
      set_string(n, "auto_pad", "SAME_UPPER");
    }), {std::string("bad_") + op, "strides", "0", "outside [1, 2^31-1]"});
  }
}

TEST(OnnxHostile, EveryWindowAttributeIsChecked) {
  refused_at_import(one_node("Conv", [](auto* n) { set_ints(n, "dilations", {1, 0}); }), {"bad_Conv", "dilations"});
  refused_at_import(one_node("Conv", [](auto* n) { set_ints(n, "pads", {0, -1, 0, 0}); }), {"bad_Conv", "pads", "-1"});
  refused_at_import(one_node("Conv", [](auto* n) { set_ints(n, "pads", {0, 0}); }), {"bad_Conv", "pads", "4 entries"});
  refused_at_import(one_node("Conv", [](auto* n) { set_ints(n, "kernel_shape", {3, 0}); }), {"bad_Conv", "kernel_shape"});
  refused_at_import(one_node("Conv", [](auto* n) { set_int(n, "group", 0); }), {"bad_Conv", "group"});
  refused_at_import(one_node("Conv", [](auto* n) { set_string(n, "auto_pad", "SAME_SIDEWAYS"); }),
                    {"bad_Conv", "auto_pad", "SAME_SIDEWAYS"});
  refused_at_import(one_node("Conv", [](auto* n) { set_ints(n, "strides", {int64_t(1) << 40, 1}); }),
                    {"bad_Conv", "strides", "2^31-1"});
  refused_at_import(one_node("MaxPool", [](auto* n) { set_ints(n, "pads", {3, 0, 0, 0}); }),
                    {"bad_MaxPool", "pad 3 is not smaller than the kernel (3)"});
  refused_at_import(one_node("MaxPool", [](auto* n) { set_int(n, "ceil_mode", 2); }), {"bad_MaxPool", "ceil_mode"});
  refused_at_import(one_node("MaxPool", [](auto* n) { set_int(n, "storage_order", 1); }), {"bad_MaxPool", "storage_order"});
  refused_at_import(one_node("AveragePool", [](auto* n) { set_int(n, "count_include_pad", 7); }),
                    {"bad_AveragePool", "count_include_pad"});
  // kernel_shape is required for pooling.
  ::onnx::ModelProto m = graph_model({1, 1, 6, 6});
  add_node(m, "MaxPool", {"x"}, {"y"}, "pool");
  refused_at_import(m, {"pool", "kernel_shape", "required"});
}

TEST(OnnxHostile, OtherAttributesAreChecked) {
  refused_at_import(one_node("Gemm", [](auto* n) {
    n->add_input("x");
    set_float(n, "alpha", std::numeric_limits<float>::quiet_NaN());
  }), {"bad_Gemm", "alpha", "finite"});
  refused_at_import(one_node("Gemm", [](auto* n) {
    n->add_input("x");
    set_int(n, "transB", 3);
  }), {"bad_Gemm", "transB", "0 or 1"});
  refused_at_import(one_node("Dropout", [](auto* n) { set_float(n, "ratio", 1.5f); }), {"bad_Dropout", "ratio"});
  refused_at_import(one_node("Unsqueeze", [](auto* n) { set_ints(n, "axes", {0, 0}); }, 11), {"bad_Unsqueeze", "repeats"});
  refused_at_import(one_node("ReduceMean", [](auto* n) { set_ints(n, "axes", {1, -3, 1}); }), {"bad_ReduceMean", "repeats"});
  refused_at_import(one_node("Concat", [](auto*) {}), {"bad_Concat", "'axis' is required"});
  // Two values in one Constant.
  ::onnx::ModelProto c = graph_model({1});
  auto* k = add_node(c, "Constant", {}, {"y"}, "two_values");
  set_float(k, "value_float", 1), set_ints(k, "value_ints", {1});
  refused_at_import(c, {"two_values", "exactly one value attribute, got 2"});
}

TEST(OnnxHostile, MissingInputsAndOutputsAreErrorsNotOutOfRange) {
  // Was std::out_of_range from .at(0) in import.cpp and weights.cpp.
  refused_at_import(one_node("Conv", [](auto* n) { n->clear_input(); n->add_input("x"); }),
                    {"bad_Conv", "takes 2 to 3 inputs, got 1"});
  ::onnx::ModelProto silent = one_node("Relu", [](auto* n) { n->set_output(0, "unused"); });
  add_node(silent, "Relu", {"x"}, {}, "no_outputs");
  add_node(silent, "Identity", {"x"}, {"y"});
  refused_at_import(silent, {"no_outputs", "must have 1 outputs, the first named, got 0"});
  refused_at_import(one_node("Relu", [](auto* n) { n->set_input(0, ""); }), {"bad_Relu", "required input 0 is empty"});
  refused_at_import(one_node("MaxPool", [](auto* n) { n->add_output("indices"); }),
                    {"bad_MaxPool", "output 1 ('indices') is not supported"});
  // A graph with no outputs.
  ::onnx::ModelProto m = one_node("Relu", [](auto*) {});
  m.mutable_graph()->clear_output();
  refused_at_import(m, {"no outputs"});
  // load_onnx_weights walks the same nodes: a MatMul without outputs beside a weight.
  test::TempDir dir;
  ::onnx::ModelProto w = graph_model({1, 4});
  *w.mutable_graph()->add_initializer() = float_tensor("fc.weight", {4, 2}, std::vector<float>(8, 0.5f));
  add_node(w, "MatMul", {"x", "fc.weight"}, {}, "headless");
  add_node(w, "Relu", {"x"}, {"y"});
  const fs::path file = write(dir.path / "w.onnx", w);
  nn::Linear lin(4, 2);
  expect_error([&] { io::onnx::load_onnx_weights(lin, file); }, {"headless", "outputs"});
}

TEST(OnnxHostile, ClipAndDropoutScalarsMustHoldOneValue) {
  ::onnx::ModelProto m = graph_model({2, 3}, 13);
  *m.mutable_graph()->add_initializer() = float_tensor("lo", {0}, {});
  add_node(m, "Clip", {"x", "lo"}, {"y"}, "clip");
  test::TempDir dir;
  auto mod = io::onnx::import_onnx(write(dir.path / "clip.onnx", m));
  expect_error([&] { mod->forward(zeros({2, 3})); }, {"clip", "input 1 must hold one value, got 0"});
}

// Runs `fn` on another thread and fails (instead of hanging the suite) if it takes longer
// than `seconds`.
void within(double seconds, const std::function<void()>& fn) {
  auto done = std::async(std::launch::async, fn);
  ASSERT_EQ(done.wait_for(std::chrono::duration<double>(seconds)), std::future_status::ready)
      << "still running after " << seconds << " s";
  done.get();
}

TEST(OnnxHostile, AHugePoolWindowIsRefusedNotLoopedOver) {
  // kernel 2^62 with pads just below it: the window check used to loop ~2^62 times.
  refused_at_import(one_node("MaxPool", [](auto* n) {
    n->clear_attribute();
    set_ints(n, "kernel_shape", {int64_t(1) << 62, 1});
    set_ints(n, "pads", {(int64_t(1) << 62) - 1, 0, (int64_t(1) << 62) - 1, 0});
  }), {"bad_MaxPool", "kernel_shape", "2^31-1"});
  // Within int32, the largest legal window still asks for a 2^31 x 2^31 output: refused by
  // the memory budget before the window loop.
  test::TempDir dir;
  const int64_t k = INT32_MAX;
  auto mod = io::onnx::import_onnx(write(dir.path / "pool.onnx", one_node("MaxPool", [&](auto* n) {
    n->clear_attribute();
    set_ints(n, "kernel_shape", {k, k});
    set_ints(n, "pads", {k - 1, k - 1, k - 1, k - 1});
  })));
  NoGradGuard no_grad;
  within(10, [&] { expect_error([&] { mod->forward(zeros({1, 1, 6, 6})); }, {"bad_MaxPool", "memory budget"}); });
}

TEST(OnnxHostile, ZeroSizeInitializersCannotAskForAHugeResult) {
  // [2^17, 0] x [0, 2^17] holds nothing, and its product is 64 GiB.
  test::TempDir dir;
  ::onnx::ModelProto m = graph_model({1});
  *m.mutable_graph()->add_initializer() = float_tensor("a", {int64_t(1) << 17, 0}, {});
  *m.mutable_graph()->add_initializer() = float_tensor("b", {0, int64_t(1) << 17}, {});
  add_node(m, "MatMul", {"a", "b"}, {"p"}, "outer");
  add_node(m, "Add", {"p", "x"}, {"y"}, "plus");
  auto mod = io::onnx::import_onnx(write(dir.path / "matmul.onnx", m));
  NoGradGuard no_grad;
  within(10, [&] { expect_error([&] { mod->forward(zeros({1})); }, {"outer", "memory budget"}); });
  // The reader refuses zero-size tensors whose other dims pass the element limit.
  ::onnx::ModelProto r = graph_model({1});
  *r.mutable_graph()->add_initializer() = float_tensor("wide", {0, int64_t(1) << 30, int64_t(1) << 30}, {});
  add_node(r, "Identity", {"x"}, {"y"});
  expect_error([&] { io::onnx::read_model(write(dir.path / "wide.onnx", r)); }, {"wide", "too many elements"});
}

TEST(OnnxHostile, TheMemoryBudgetIsOneSettingForEverything) {
  const size_t saved = memory_budget();
  set_memory_budget(size_t(64) << 20);
  // A conv whose output alone (8 x 64 x 256 x 256 floats, 128 MiB) is past a 64 MiB budget.
  test::TempDir dir;
  ::onnx::ModelProto m = graph_model({8, 1, 256, 256});
  *m.mutable_graph()->add_initializer() = float_tensor("w", {64, 1, 1, 1}, std::vector<float>(64, 1.0f));
  add_node(m, "Conv", {"x", "w"}, {"y"}, "wide_conv");
  auto mod = io::onnx::import_onnx(write(dir.path / "conv.onnx", m));
  NoGradGuard no_grad;
  expect_error([&] { mod->forward(zeros({8, 1, 256, 256})); }, {"wide_conv", "memory budget of 64 MiB", "HONE_MEMORY_LIMIT_MB"});
  expect_error([] { (void)empty({int64_t(1) << 30}); }, {"cpu_alloc", "memory budget"});
  set_memory_budget(saved);
  EXPECT_EQ(mod->forward(zeros({1, 1, 256, 256})).size(1), 64);  // within the default budget it runs
  expect_error([] { set_memory_budget(0); }, "positive");
}

TEST(OnnxHostile, InspectRefusesWhatTheForwardWouldRefuse) {
  test::TempDir dir;
  const fs::path file = write(dir.path / "zero_stride.onnx", one_node("AveragePool", [](auto* n) {
    set_ints(n, "strides", {1, 0});
    set_string(n, "auto_pad", "SAME_LOWER");
  }));
  const test::CommandResult r = test::run_command(std::string(HONE_CLI_PATH) + " inspect " + file.string() + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.output;  // an error, not a signal (136 was SIGFPE)
  EXPECT_NE(r.output.find("bad_AveragePool"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("strides"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace hone
