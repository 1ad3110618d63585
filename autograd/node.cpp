#include "autograd/node.h"

#include <atomic>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace hone {

namespace {
thread_local bool t_grad_enabled = true;
std::atomic<uint64_t> g_sequence{0};
}  // namespace

bool GradMode::is_enabled() { return t_grad_enabled; }
void GradMode::set_enabled(bool enabled) { t_grad_enabled = enabled; }

namespace autograd {

Tensor SavedTensor::unpack(const std::string& op) const {
  HONE_CHECK(!released_, op, ": trying to backward through the graph a second time (tensors saved for backward "
                             "were freed after the first backward); pass retain_graph=true to the first call");
  if (!data_.defined()) return data_;
  HONE_CHECK(data_.version() == version_, op, ": a tensor saved for backward was modified in place after it was "
             "saved (version ", version_, " at save, now ", data_.version(), "); shape ", data_.shape(),
             ", dtype ", dtype_name(data_.dtype()), ". Clone it before modifying, or modify a copy");
  return data_;
}

std::vector<Tensor> AccumulateGrad::apply(std::vector<Tensor>&& grads) {
  Tensor g = std::move(grads.at(0));
  if (!g.defined()) return {};
  HONE_CHECK(g.shape() == variable_.shape(), "AccumulateGrad: gradient of shape ", g.shape(),
             " for a leaf of shape ", variable_.shape(), " (an op's backward returned a wrong shape)");
  AutogradMeta& meta = variable_.autograd_meta();
  if (!meta.grad.defined()) {
    // Own the buffer: adopt the incoming tensor when nothing else holds it (the usual
    // case, and a 400 MB copy saved on VGG's first classifier layer); copy it otherwise,
    // since it may alias another node's gradient or a view of something else.
    if (!g.is_contiguous()) meta.grad = raw::contiguous(g);
    else meta.grad = g.is_unique() ? std::move(g) : g.clone();
  } else {
    meta.grad.add_(g);
  }
  return {};
}

std::string FunctionNode::name() const {
  std::string n = op_;
  if (!n.empty()) n[0] = char(std::toupper(n[0]));
  return n + "Backward";
}

std::vector<Tensor> FunctionNode::apply(std::vector<Tensor>&& grads) {
  HONE_CHECK(!released_, op_, ": trying to backward through the graph a second time (tensors saved for backward "
                              "were freed after the first backward); pass retain_graph=true to the first call");
  std::vector<Tensor> saved;
  saved.reserve(saved_.size());
  for (const auto& s : saved_) saved.push_back(s.unpack(op_));
  std::vector<bool> needs(next_edges.size());
  for (size_t i = 0; i < needs.size(); ++i) needs[i] = next_edges[i].valid();
  std::vector<Tensor> out = fn_(grads, saved, needs);
  HONE_CHECK(out.size() == next_edges.size(), op_, " backward returned ", out.size(), " gradients for ",
             next_edges.size(), " inputs");
  return out;
}

void FunctionNode::release() {
  for (auto& s : saved_) s.reset();
  released_ = true;
}

Edge gradient_edge(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  AutogradMeta& meta = t.autograd_meta();
  if (meta.grad_fn) return {meta.grad_fn, meta.output_nr};
  auto acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t);
    acc->sequence_nr = g_sequence.fetch_add(1);
    meta.grad_accumulator = acc;
  }
  return {acc, 0};
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const auto& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            const std::vector<Tensor>& saved, BackwardFn fn) {
  if (!any_requires_grad(inputs)) return;
  std::vector<SavedTensor> keep;
  keep.reserve(saved.size());
  for (const auto& s : saved) keep.emplace_back(s);
  auto node = std::make_shared<FunctionNode>(op, std::move(keep), std::move(fn));
  node->sequence_nr = g_sequence.fetch_add(1);
  for (const auto& t : inputs) node->next_edges.push_back(gradient_edge(t));
  node->num_outputs = uint32_t(outputs.size());
  for (size_t i = 0; i < outputs.size(); ++i) {
    AutogradMeta& meta = outputs[i].autograd_meta();
    meta.requires_grad = true;
    meta.grad_fn = node;
    meta.output_nr = uint32_t(i);
  }
}

}  // namespace autograd
}  // namespace hone
