// OnnxModule's blocked fast path (io/onnx/blocked_run.h) against the same module with it
// turned off: the imported ResNet-18 files in eval mode, the frozen stages of a partial
// fine-tune (outputs and gradients), weights changed between forwards, and small graphs
// where a node must fall back to the ordinary ops.
#include <thread>

#include "autograd/trace.h"
#include "io/onnx/blocked_run.h"
#include "io/onnx/weights.h"
#include "models/resnet.h"
#include "nn/optim.h"
#include "onnx_builders.h"
#include "onnx_fixtures.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;

double rel_err(const Tensor& a, const Tensor& b) {
  return test::onnx_fixtures::relative_error(a.contiguous().to_vector<float>(), b.contiguous().to_vector<float>());
}

struct Imported {
  fs::path dir;
  std::shared_ptr<io::onnx::OnnxModule> m;
  explicit Imported(const std::string& name) {
    const auto f = test::onnx_fixtures::fixture(name);
    dir = fs::temp_directory_path() / ("hone_blocked_" + std::to_string(::getpid()) + "_" + name);
    fs::create_directories(dir);
    m = io::onnx::import_onnx(test::onnx_fixtures::materialize(f, dir, true));
  }
  ~Imported() { fs::remove_all(dir); }
};

size_t count_ops(const io::onnx::Model& m, std::initializer_list<const char*> ops) {
  size_t n = 0;
  for (const auto& node : m.nodes)
    for (const char* op : ops) n += node.op_type == op;
  return n;
}

#define REQUIRE_BLOCKED() \
  if (!io::onnx::BlockedRunner::available()) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2 + FMA: no blocked path"

// Every conv, batch norm, ReLU, residual add, max pool and the global average pool of the
// torchvision exports runs blocked, and the output is the ordinary path's to rounding.
TEST(OnnxBlocked, ResNet18ExportsMatchTheOrdinaryPath) {
  REQUIRE_BLOCKED();
  using kernels::cpu::CpuIsa;
  for (const char* name : {"tv_resnet18_op17_bn_kept", "tv_resnet18_op13_bn_folded", "zoo_resnet18"})
    for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2}) {
    if (!kernels::cpu::cpu_isa_supported(isa)) continue;
    SCOPED_TRACE(std::string(name) + " " + kernels::cpu::cpu_isa_name(isa));
    Imported f(name);
    f.m->eval();
    f.m->set_blocked_inference(true, isa);
    NoGradGuard no_grad;
    const Tensor x = uniform({3, 3, 224, 224}, -1, 1);
    const Tensor fast = f.m->forward(x);
    const size_t blocked = f.m->last_blocked_nodes();
    f.m->set_blocked_inference(false);
    const Tensor slow = f.m->forward(x);
    EXPECT_EQ(f.m->last_blocked_nodes(), 0u);
    EXPECT_LT(rel_err(fast, slow), 1e-5);
    const auto& model = f.m->model();
    EXPECT_EQ(blocked, count_ops(model, {"Conv", "BatchNormalization", "Relu", "Add", "MaxPool", "GlobalAveragePool"}))
        << "a node of the backbone fell back to the ordinary ops";
  }
}

// A partial fine-tune (layer4 and the head train): the
// frozen stages run blocked while gradients flow as before through the trained ones.
TEST(OnnxBlocked, FrozenStagesOfAPartialFineTuneRunBlocked) {
  REQUIRE_BLOCKED();
  Imported f("tv_resnet18_op17_bn_kept");
  f.m->replace_head(3);
  f.m->freeze_before("layer4");
  // Batch norm frozen throughout (what hone finetune does below batch 8): with batch
  // statistics over 2 images of 7x7, layer4 would amplify the paths' rounding differences
  // a hundredfold and the comparison would test that instead.
  f.m->freeze_batchnorm(true);
  f.m->train();
  Generator gen(11);
  const Tensor x = uniform({2, 3, 224, 224}, -1, 1, {}, &gen);
  const Tensor y = from_vector(std::vector<int64_t>{0, 2}, {2}, {.dtype = DType::Int64});
  std::vector<Tensor> grads[2], outs;
  size_t blocked = 0;
  for (bool on : {true, false}) {
    f.m->set_blocked_inference(on);
    for (auto& p : f.m->parameters()) p.set_grad(Tensor());
    Tensor out = f.m->forward(x);
    if (on) blocked = f.m->last_blocked_nodes();
    cross_entropy(out, y).backward();
    outs.push_back(out.detach());
    for (auto& p : f.m->parameters())
      if (p.requires_grad()) grads[on ? 0 : 1].push_back(p.grad().clone());
  }
  EXPECT_LT(rel_err(outs[0], outs[1]), 1e-5);
  ASSERT_EQ(grads[0].size(), grads[1].size());
  ASSERT_FALSE(grads[0].empty());
  for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_LT(rel_err(grads[0][i], grads[1][i]), 1e-4) << i;
  // Everything before layer4 (the stem, the pool, layer1-3: 15 convs with their batch
  // norms and the ReLUs and adds they fuse) ran blocked; nothing of layer4 did.
  const auto& nodes = f.m->model().nodes;
  size_t layer4 = 0;
  auto in_layer4 = [](const io::onnx::Node& n) {
    for (const auto& in : n.inputs)
      if (in.rfind("layer4.", 0) == 0) return true;
    return false;
  };
  while (layer4 < nodes.size() && !in_layer4(nodes[layer4])) ++layer4;
  size_t backbone = 0;
  for (size_t i = 0; i < layer4; ++i)
    for (const char* op : {"Conv", "BatchNormalization", "Relu", "Add", "MaxPool"}) backbone += nodes[i].op_type == op;
  EXPECT_GT(backbone, 40u);
  EXPECT_EQ(blocked, backbone);
}

// Packed weights are kept between forwards only while the tensors they came from are
// unchanged: an in-place update (an optimizer step on a frozen-then-unfrozen stage, a
// weight load) is seen by the next forward.
TEST(OnnxBlocked, AChangedWeightIsRepacked) {
  REQUIRE_BLOCKED();
  Imported f("tv_resnet18_op13_bn_folded");
  f.m->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({1, 3, 224, 224}, -1, 1);
  const Tensor first = f.m->forward(x);
  Tensor w;
  int convs = 0;
  for (const auto& n : f.m->model().nodes)
    if (n.op_type == "Conv" && ++convs == 6) w = f.m->weights().at(n.inputs[1]);  // layer2.0.conv1
  ASSERT_EQ(w.dim(), 4);
  w.mul_(0.5);
  const Tensor fast = f.m->forward(x);
  f.m->set_blocked_inference(false);
  const Tensor slow = f.m->forward(x);
  EXPECT_GT(rel_err(fast, first), 1e-3) << "the change was not seen";
  EXPECT_LT(rel_err(fast, slow), 1e-5);
}

// Two threads running the same module at once share its packed-weight cache; each gets
// what a forward alone gives.
TEST(OnnxBlocked, ConcurrentForwardsAgree) {
  REQUIRE_BLOCKED();
  Imported f("tv_resnet18_op13_bn_folded");
  f.m->eval();
  Generator gen(5);
  const Tensor a = uniform({1, 3, 224, 224}, -1, 1, {}, &gen), b = uniform({1, 3, 224, 224}, -1, 1, {}, &gen);
  Tensor want_a, want_b, got_a, got_b;
  {
    NoGradGuard no_grad;
    want_a = f.m->forward(a), want_b = f.m->forward(b);
  }
  std::thread t([&] {
    NoGradGuard no_grad;
    got_b = f.m->forward(b);
  });
  {
    NoGradGuard no_grad;
    got_a = f.m->forward(a);
  }
  t.join();
  EXPECT_EQ(got_a.to_vector<float>(), want_a.to_vector<float>());
  EXPECT_EQ(got_b.to_vector<float>(), want_b.to_vector<float>());
}

// Small graphs: what the fast path must not fuse or run, and still get right.
TEST(OnnxBlocked, NodesItCannotRunFallBack) {
  REQUIRE_BLOCKED();
  namespace b = test::onnx_builders;
  const fs::path dir = fs::temp_directory_path() / ("hone_blocked_small_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  Generator gen(3);
  auto rnd = [&](int64_t n) { return uniform({n}, -1, 1, {}, &gen).to_vector<float>(); };
  auto pos = [&](int64_t n) { return uniform({n}, 0.5, 2, {}, &gen).to_vector<float>(); };
  // x -> conv a (also a graph output) -> bn -> relu -> grouped conv -> add -> 1x1 conv ->
  // max pool (ceil mode) -> dilated conv -> SAME_UPPER conv -> y
  auto m = b::graph_model({2, 8, 11, 11});
  auto* g = m.mutable_graph();
  *g->add_initializer() = b::float_tensor("wa", {16, 8, 3, 3}, rnd(16 * 8 * 9));
  *g->add_initializer() = b::float_tensor("ba", {16}, rnd(16));
  for (const char* p : {"s", "t", "mu"}) *g->add_initializer() = b::float_tensor(p, {16}, rnd(16));
  *g->add_initializer() = b::float_tensor("var", {16}, pos(16));
  *g->add_initializer() = b::float_tensor("wg", {16, 8, 3, 3}, rnd(16 * 8 * 9));
  *g->add_initializer() = b::float_tensor("w1", {16, 16, 1, 1}, rnd(16 * 16));
  *g->add_initializer() = b::float_tensor("wd", {16, 16, 3, 3}, rnd(16 * 16 * 9));
  *g->add_initializer() = b::float_tensor("ws", {8, 16, 2, 2}, rnd(8 * 16 * 4));
  auto* a = b::add_node(m, "Conv", {"x", "wa", "ba"}, {"a"});
  b::set_ints(a, "pads", {1, 1, 1, 1});
  b::add_node(m, "BatchNormalization", {"a", "s", "t", "mu", "var"}, {"bn"});
  b::add_node(m, "Relu", {"bn"}, {"r"});
  auto* gc = b::add_node(m, "Conv", {"r", "wg"}, {"gc"});
  b::set_int(gc, "group", 2);
  b::set_ints(gc, "pads", {1, 1, 1, 1});
  b::add_node(m, "Add", {"gc", "r"}, {"sum"});
  b::add_node(m, "Conv", {"sum", "w1"}, {"c1"});
  auto* mp = b::add_node(m, "MaxPool", {"c1"}, {"p"});
  b::set_ints(mp, "kernel_shape", {3, 3}), b::set_ints(mp, "strides", {2, 2}), b::set_int(mp, "ceil_mode", 1);
  auto* dc = b::add_node(m, "Conv", {"p", "wd"}, {"d"});
  b::set_ints(dc, "dilations", {2, 2}), b::set_ints(dc, "pads", {2, 2, 2, 2});
  auto* sc = b::add_node(m, "Conv", {"d", "ws"}, {"y"});
  b::set_string(sc, "auto_pad", "SAME_UPPER");
  b::add_value(g->mutable_output(), "a", {});
  auto mod = io::onnx::import_onnx(b::write(dir / "small.onnx", m));
  mod->eval();
  NoGradGuard no_grad;
  const Tensor x = uniform({2, 8, 11, 11}, -1, 1);
  const std::vector<Tensor> fast = mod->run({x});
  // conv a (its output is read twice: batch norm is not folded), the 1x1 conv and the max
  // pool run blocked; the grouped, dilated and SAME-padded convs do not.
  EXPECT_EQ(mod->last_blocked_nodes(), 3u);
  mod->set_blocked_inference(false);
  const std::vector<Tensor> slow = mod->run({x});
  ASSERT_EQ(fast.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    ASSERT_EQ(fast[i].shape(), slow[i].shape());
    EXPECT_LT(rel_err(fast[i], slow[i]), 1e-5) << i;
  }
  fs::remove_all(dir);
}

// The trained stages (ordinary ops) fuse each ReLU into the BatchNormalization or Add before
// it, as a built-in ResNet's blocks do: in training mode the imported ResNet-18 records no
// separate relu, 9 batch norms with fuse_relu and 8 add_relus; and its outputs and
// gradients are the built-in ResNet-18's, loaded with the same weights, to rounding.
TEST(OnnxBlocked, TrainedStagesFuseTheReluIntoBatchNormAndAdd) {
  Imported f("tv_resnet18_op17_bn_kept");
  // Batch norm frozen (as in FrozenStagesOfAPartialFineTuneRunBlocked, so that batch
  // statistics of 2 images do not amplify rounding); every weight trains, so nothing of the
  // backbone is inference and all of it runs the ordinary ops.
  f.m->freeze_batchnorm(true);
  f.m->train();
  Generator gen(21);
  const Tensor x = uniform({2, 3, 224, 224}, -1, 1, {}, &gen);
  autograd::Tracer tracer;
  Tensor out;
  {
    autograd::TraceGuard guard(tracer);
    out = f.m->forward(x);
  }
  size_t relus = 0, bn_relus = 0, add_relus = 0;
  for (const auto& e : tracer.events()) {
    relus += e.op == "relu";
    add_relus += e.op == "add_relu";
    bn_relus += e.op == "batch_norm" && e.i("fuse_relu") == 1;
  }
  EXPECT_EQ(relus, 0u);
  EXPECT_EQ(bn_relus, 9u);  // the stem's and each block's first
  EXPECT_EQ(add_relus, 8u);

  auto net = models::resnet18(1000);
  io::onnx::load_onnx_weights(*net, f.m->model().path);
  net->freeze_batchnorm(true);
  net->train();
  const Tensor ref = net->forward(x);
  EXPECT_LT(rel_err(out, ref), 1e-5);
  cross_entropy(out, from_vector(std::vector<int64_t>{1, 7}, {2}, {.dtype = DType::Int64})).backward();
  cross_entropy(ref, from_vector(std::vector<int64_t>{1, 7}, {2}, {.dtype = DType::Int64})).backward();
  const auto mine = f.m->named_parameters(), theirs = net->named_parameters();
  std::map<std::string, Tensor> by_name(theirs.begin(), theirs.end());
  size_t compared = 0;
  for (const auto& [name, p] : mine)
    if (auto it = by_name.find(name); it != by_name.end() && p.grad().defined()) {
      EXPECT_LT(rel_err(p.grad(), it->second.grad()), 1e-4) << name;
      ++compared;
    }
  EXPECT_EQ(compared, by_name.size());
}

}  // namespace
}  // namespace hone
