// The backward walk: count, for every node reachable from the roots, how many edges lead
// into it; then run nodes whose count has dropped to zero, latest-created first, summing
// the gradients that arrive for each of their outputs. Each node runs once, after all its
// consumers, so a tensor used several times receives the sum of its gradients.
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"

namespace hone::autograd {

void backward(const std::vector<Tensor>& roots, const std::vector<Tensor>& grads, bool retain_graph) {
  HONE_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(), " gradients");
  NoGradGuard no_grad;

  std::unordered_map<Node*, std::vector<Tensor>> buffers;  // incoming gradient per forward output
  std::unordered_map<Node*, int> dependencies;
  std::unordered_map<Node*, std::shared_ptr<Node>> keep_alive;

  auto accumulate = [&](const Edge& e, const Tensor& g) {
    auto& buf = buffers[e.node.get()];
    if (buf.size() < e.node->num_outputs) buf.resize(e.node->num_outputs);
    Tensor& slot = buf[e.input_nr];
    slot = slot.defined() ? add(slot, g) : g;
  };

  std::vector<Edge> root_edges;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    HONE_CHECK(r.requires_grad(), "backward: tensor ", i, " of shape ", r.shape(),
               " does not require grad and has no grad_fn (did you forget set_requires_grad, or compute it "
               "under NoGradGuard?)");
    HONE_CHECK(grads[i].defined() && grads[i].shape() == r.shape(), "backward: gradient of shape ",
               grads[i].defined() ? grads[i].shape() : Shape{}, " for a tensor of shape ", r.shape());
    root_edges.push_back(gradient_edge(r));
  }

  // Count dependencies by a depth-first walk over the reachable graph.
  std::vector<Node*> stack;
  for (const Edge& e : root_edges) {
    if (keep_alive.emplace(e.node.get(), e.node).second) stack.push_back(e.node.get());
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.valid()) continue;
      ++dependencies[e.node.get()];
      if (keep_alive.emplace(e.node.get(), e.node).second) stack.push_back(e.node.get());
    }
  }

  for (size_t i = 0; i < roots.size(); ++i) accumulate(root_edges[i], grads[i].to(roots[i].dtype()));

  auto later_first = [](Node* a, Node* b) { return a->sequence_nr < b->sequence_nr; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later_first)> ready(later_first);
  for (auto& [node, _] : buffers)
    if (dependencies[node] == 0) ready.push(node);

  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    std::vector<Tensor> in = std::move(buffers[n]);
    buffers.erase(n);
    in.resize(n->num_outputs);
    bool any = false;
    for (const Tensor& g : in) any = any || g.defined();
    // A node whose outputs all received no gradient contributes none: skip its formula.
    std::vector<Tensor> out = any ? n->apply(std::move(in)) : std::vector<Tensor>{};
    if (!retain_graph) n->release();
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const Edge& e = n->next_edges[i];
      if (!e.valid()) continue;
      if (i < out.size() && out[i].defined()) accumulate(e, out[i]);
      if (--dependencies[e.node.get()] == 0) ready.push(e.node.get());
    }
  }
}

}  // namespace hone::autograd

namespace hone {

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  Tensor g = gradient;
  if (!g.defined()) {
    HONE_CHECK(numel() == 1, "backward: implicit gradient needs a scalar output, got shape ", shape(),
               "; pass a gradient of that shape");
    g = ones(shape(), {.dtype = dtype(), .device = device()});
  }
  HONE_CHECK(g.shape() == shape() && g.device() == device() && g.dtype() == dtype(),
             "backward: the gradient must match the output (shape ", shape(), ", ", dtype_name(dtype()), " on ",
             device().str(), "), got ", g.shape(), ", ", dtype_name(g.dtype()), " on ", g.device().str());
  autograd::backward({*this}, {g}, retain_graph);
}

}  // namespace hone
