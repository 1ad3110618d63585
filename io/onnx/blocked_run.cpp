// OnnxModule's blocked fast path (blocked_run.h): which nodes run blocked, what each conv
// fuses, the packed-weight cache, and when activations go back to tensors.
#include "io/onnx/blocked_run.h"

#include <cmath>
#include <memory>

#include "autograd/grad_mode.h"
#include "kernels/context_exec.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace nc = kernels::cpu::nchwc;

bool BlockedRunner::available() { return models::BlockedForward::available(); }

namespace {

using Blocked = models::BlockedActivation;

bool is_cpu_float(const Tensor& t) {
  return t.defined() && t.device().is_cpu() && t.dtype() == DType::Float32;
}

}  // namespace

// One run(): the values in blocked form and how many reads of each are still to come.
struct BlockedPass {
  BlockedRunner& runner;
  const Model& m;
  BlockedRunner::Values& values;
  size_t end;
  BlockedRunner::Mode mode;
  const bool grad = GradMode::is_enabled();
  const kernels::cpu::CpuIsa isa = mode.isa;
  const int64_t B = nc::lanes(isa);
  const kernels::ContextExec exec;
  std::unordered_map<std::string, Blocked> blocked;
  BlockedRunner::Reads reads;  // by later nodes and graph outputs, counted down as they run

  // A tensor the fast path may read: CPU float32, and no gradient wanted through it.
  bool usable(const Tensor& t) const { return is_cpu_float(t) && !(grad && t.requires_grad()); }
  const Tensor* value(const std::string& name) const {
    auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second;
  }

  Tensor& materialize(const std::string& name) {
    auto v = values.find(name);
    if (v != values.end()) return v->second;
    const Blocked& b = blocked.at(name);
    Tensor t = empty({b.l.n, b.l.c, b.l.h, b.l.w});
    nc::from_blocked(b.data(), b.l, t.data<float>(), exec);
    return values[name] = t;
  }

  // x in blocked form with at least `border`; an image of fewer channels than a block is
  // laid out with its channels as the lanes.
  const Blocked* blocked_input(const std::string& name, int64_t border) {
    auto it = blocked.find(name);
    if (it != blocked.end() && it->second.l.border >= border) return &it->second;
    const Tensor* t = value(name);
    if (!t && it != blocked.end()) t = &materialize(name);
    if (!t || !usable(*t) || t->dim() != 4) return nullptr;
    const Tensor x = t->contiguous();
    const nc::Layout l{.n = x.size(0), .c = x.size(1), .h = x.size(2), .w = x.size(3), .lanes = x.size(1) < B ? x.size(1) : B,
                       .border = border};
    Blocked b = Blocked::allocate(l);
    nc::to_blocked(x.data<float>(), l, b.data(), exec);
    return &(blocked[name] = b);
  }

  void consumed(const Node& n) {
    for (const std::string& in : n.inputs) {
      auto it = reads.find(in);
      if (it != reads.end() && --it->second == 0) blocked.erase(in);
    }
  }

  // The node at j, if it is op_type and reads `name` (read nowhere else) as input `slot`
  // (-1: any slot).
  const Node* fusable(size_t j, const char* op_type, const std::string& name) const {
    if (j >= end || m.nodes[j].op_type != op_type || reads.at(name) != 1) return nullptr;
    for (const std::string& in : m.nodes[j].inputs)
      if (in == name) return &m.nodes[j];
    return nullptr;
  }

  // Batch norm that uses its running statistics (eval mode or frozen), all float32 [c].
  bool foldable_bn(const Node& bn, int64_t c) const {
    if (bn.inputs.size() < 5 || bn.outputs.size() != 1) return false;
    for (size_t k = 1; k < 5; ++k) {
      const Tensor* t = value(bn.inputs[k]);
      if (!t || !usable(*t) || t->dim() != 1 || t->size(0) != c) return false;
    }
    const bool frozen = mode.bn_policy == 2 || (mode.bn_policy == 1 && !value(bn.inputs[1])->requires_grad());
    return !(mode.training && !frozen);
  }

  // pads [top, left, bottom, right] of a node with explicit padding (auto_pad NOTSET or
  // VALID); empty for SAME_* (the ordinary op works those out from the input).
  std::vector<int64_t> explicit_pads(const Node& n) const {
    const std::string mode = n.attr_string("auto_pad", "NOTSET");
    if (mode == "VALID") return {0, 0, 0, 0};
    if (mode != "NOTSET") return {};
    return n.attr_ints("pads", {0, 0, 0, 0});
  }

  size_t conv(size_t i);
  size_t max_pool(size_t i);
  size_t global_avg_pool(size_t i);
  nc::PackedConv packed(size_t i, const Tensor& w, const Tensor* bias, const Node* bn, int64_t in_lanes);
};

nc::PackedConv BlockedPass::packed(size_t i, const Tensor& w, const Tensor* bias, const Node* bn, int64_t in_lanes) {
  if (!bn) return runner.cache_.get(i, w, bias, nullptr, in_lanes, isa);
  const models::FoldedBatchNorm fold{.scale = value(bn->inputs[1]), .shift = value(bn->inputs[2]),
                                     .mean = value(bn->inputs[3]), .var = value(bn->inputs[4]),
                                     .eps = bn->attr_float("epsilon", 1e-5)};
  return runner.cache_.get(i, w, bias, &fold, in_lanes, isa);
}

size_t BlockedPass::conv(size_t i) {
  const Node& n = m.nodes[i];
  const std::vector<int64_t> p = explicit_pads(n);
  if (n.inputs.size() < 2 || n.outputs.size() != 1 || p.empty() || n.attr_int("group", 1) != 1) return 0;
  const Tensor* w = value(n.inputs[1]);
  const Tensor* bias = n.inputs.size() > 2 && !n.inputs[2].empty() ? value(n.inputs[2]) : nullptr;
  if (!w || !usable(*w) || w->dim() != 4 || (n.inputs.size() > 2 && !n.inputs[2].empty() && (!bias || !usable(*bias))))
    return 0;
  if (bias && (bias->dim() != 1 || bias->size(0) != w->size(0))) return 0;
  if (n.attr_ints("dilations", {1, 1}) != std::vector<int64_t>{1, 1}) return 0;
  if (n.attr_ints("kernel_shape", {w->size(2), w->size(3)}) != std::vector<int64_t>{w->size(2), w->size(3)}) return 0;
  const std::vector<int64_t> s = n.attr_ints("strides", {1, 1});
  if (s.size() != 2 || p.size() != 4) return 0;
  const int64_t border = std::max({p[0], p[1], p[2], p[3]});
  const Blocked* x = blocked_input(n.inputs[0], border);
  if (!x || x->l.c != w->size(1) || (x->l.lanes != B && x->l.lanes != x->l.c)) return 0;
  kernels::Conv2dGeometry g{.n = x->l.n, .c_in = x->l.c, .h = x->l.h, .w = x->l.w, .c_out = w->size(0), .kh = w->size(2),
                            .kw = w->size(3), .stride_h = s[0], .stride_w = s[1], .pad_top = p[0], .pad_left = p[1],
                            .pad_bottom = p[2], .pad_right = p[3]};
  if (g.out_h() <= 0 || g.out_w() <= 0) return 0;

  // What follows: batch norm, then a residual add, then ReLU, each read by nothing else.
  size_t j = i + 1;
  std::string out = n.outputs[0];
  const Node* bn = fusable(j, "BatchNormalization", out);
  if (bn && bn->inputs[0] == out && foldable_bn(*bn, g.c_out)) out = bn->outputs[0], ++j;
  else bn = nullptr;
  const nc::Layout yl{.n = g.n, .c = g.c_out, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = 1};
  const Blocked* residual = nullptr;
  if (const Node* add = fusable(j, "Add", out); add && add->inputs.size() == 2 && add->outputs.size() == 1) {
    const std::string& other = add->inputs[0] == out ? add->inputs[1] : add->inputs[0];
    auto it = blocked.find(other);
    if (other != out && it != blocked.end() && it->second.l.same_shape(yl)) residual = &it->second, out = add->outputs[0], ++j;
  }
  bool relu = false;
  if (const Node* r = fusable(j, "Relu", out); r && r->inputs.size() == 1 && r->outputs.size() == 1)
    relu = true, out = r->outputs[0], ++j;

  const nc::PackedConv pw = packed(i, *w, bias, bn, x->l.lanes);
  Blocked y = Blocked::allocate(yl);
  nc::zero_border(y.data(), yl, exec);
  nc::conv({.g = g, .x = x->data(), .xl = x->l, .w = &pw, .y = y.data(), .yl = yl,
            .residual = residual ? residual->data() : nullptr, .relu = relu},
           exec, isa);
  blocked[out] = y;
  return j - i;
}

size_t BlockedPass::max_pool(size_t i) {
  const Node& n = m.nodes[i];
  auto it = blocked.find(n.inputs.at(0));
  const std::vector<int64_t> p = explicit_pads(n);
  if (it == blocked.end() || it->second.l.lanes != B || p.empty() || n.attr_int("storage_order", 0) != 0) return 0;
  if (n.outputs.size() > 1 && !n.outputs[1].empty()) return 0;  // the indices
  const std::vector<int64_t> k = n.attr_ints("kernel_shape", {}), s = n.attr_ints("strides", {1, 1}),
                             d = n.attr_ints("dilations", {1, 1});
  if (k.size() != 2 || s.size() != 2 || d.size() != 2 || p.size() != 4) return 0;
  const nc::Layout& xl = it->second.l;
  const kernels::Pool2dGeometry g{.n = xl.n, .c = xl.c, .h = xl.h, .w = xl.w, .kh = k[0], .kw = k[1], .stride_h = s[0],
                                  .stride_w = s[1], .pad_top = p[0], .pad_left = p[1], .pad_bottom = p[2], .pad_right = p[3],
                                  .dilation_h = d[0], .dilation_w = d[1], .ceil_mode = n.attr_int("ceil_mode", 0) != 0};
  if (g.out_h() <= 0 || g.out_w() <= 0) return 0;
  const nc::Layout yl{.n = g.n, .c = g.c, .h = g.out_h(), .w = g.out_w(), .lanes = B, .border = 1};
  Blocked y = Blocked::allocate(yl);
  nc::zero_border(y.data(), yl, exec);
  nc::max_pool(g, it->second.data(), xl, y.data(), yl, exec, isa);
  blocked[n.outputs[0]] = y;
  return 1;
}

size_t BlockedPass::global_avg_pool(size_t i) {
  const Node& n = m.nodes[i];
  auto it = blocked.find(n.inputs.at(0));
  if (it == blocked.end() || it->second.l.lanes != B || n.outputs.size() != 1) return 0;
  const nc::Layout& l = it->second.l;
  Tensor y = empty({l.n, l.c, 1, 1});
  nc::global_avg_pool(it->second.data(), l, y.data<float>(), exec);
  values[n.outputs[0]] = y;
  return 1;
}

void BlockedRunner::run(const Model& m, Values& values, size_t begin, size_t end, Mode mode, const Reads& reads,
                        const std::function<size_t(size_t)>& run_node) {
  BlockedPass pass{*this, m, values, end, mode};
  pass.reads = reads;
  size_t blocked_nodes = 0;
  for (size_t i = begin; i < end;) {
    const Node& n = m.nodes[i];
    size_t done = 0;
    if (n.domain.empty() || n.domain == "ai.onnx") {
      try {
        if (n.op_type == "Conv") done = pass.conv(i);
        else if (n.op_type == "MaxPool") done = pass.max_pool(i);
        else if (n.op_type == "GlobalAveragePool") done = pass.global_avg_pool(i);
      } catch (const Error& e) {  // an allocation over the memory budget, say: name the node
        fail(m.path.string(), ": ", n.describe(), ": ", e.what());
      }
    }
    if (done == 0) {
      for (const std::string& in : n.inputs)
        if (!in.empty() && !values.count(in) && pass.blocked.count(in)) pass.materialize(in);
      done = run_node(i);
    } else {
      blocked_nodes += done;
    }
    for (size_t k = i; k < i + done; ++k) pass.consumed(m.nodes[k]);
    i += done;
  }
  for (const auto& [name, b] : pass.blocked)
    if (pass.reads[name] > 0) pass.materialize(name);
  last_blocked_ = blocked_nodes;
}

}  // namespace hone::io::onnx
