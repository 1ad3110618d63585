#pragma once
// The backward graph. Each differentiable op that sees an input requiring grad records a
// Node: it knows where each input's gradient goes (next_edges) and how to turn the
// gradients of the op's outputs into gradients of its inputs (apply). Leaves end in an
// AccumulateGrad node that adds into tensor.grad().
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hone::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> node;  // null: this input needs no gradient
  uint32_t input_nr = 0;       // which of node's outputs-of-forward this gradient is for
  bool valid() const { return node != nullptr; }
};

// A tensor kept for backward, with the storage version it had when saved. unpack()
// throws if anything wrote to it in place since, naming the op that saved it.
class SavedTensor {
 public:
  SavedTensor() = default;
  explicit SavedTensor(const Tensor& t) : data_(t.defined() ? t.detach() : Tensor()),
                                          version_(t.defined() ? t.version() : 0) {}
  Tensor unpack(const std::string& op) const;
  void reset() { data_ = Tensor(); released_ = true; }

 private:
  Tensor data_;  // detached: holding the graph here would make reference cycles
  uint64_t version_ = 0;
  bool released_ = false;
};

class Node {
 public:
  virtual ~Node() = default;
  virtual std::string name() const = 0;  // "MulBackward"
  // grads[i] is the gradient of forward output i (undefined means zero). Returns one
  // gradient per next_edges entry (undefined where no gradient is needed).
  virtual std::vector<Tensor> apply(std::vector<Tensor>&& grads) = 0;
  // Frees what was saved for backward; a later apply() must fail clearly.
  virtual void release() {}

  std::vector<Edge> next_edges;
  uint32_t num_outputs = 1;
  uint64_t sequence_nr = 0;  // creation order: the engine runs later nodes first
};

// The gradient sink of a leaf tensor.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const Tensor& variable) : variable_(variable) {}
  std::string name() const override { return "AccumulateGrad"; }
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;

 private:
  Tensor variable_;
};

// The node for an op whose backward is a function of the output gradients and tensors
// saved at forward time. Ops build these through record() below.
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grads,
                                                     const std::vector<Tensor>& saved,
                                                     const std::vector<bool>& needs_grad)>;

class FunctionNode final : public Node {
 public:
  FunctionNode(std::string op, std::vector<SavedTensor> saved, BackwardFn fn)
      : op_(std::move(op)), saved_(std::move(saved)), fn_(std::move(fn)) {}
  std::string name() const override;
  std::vector<Tensor> apply(std::vector<Tensor>&& grads) override;
  void release() override;

 private:
  std::string op_;
  std::vector<SavedTensor> saved_;
  BackwardFn fn_;
  bool released_ = false;
};

// Where a gradient for `t` must go: its grad_fn, its leaf accumulator, or nowhere.
Edge gradient_edge(const Tensor& t);

// True when grad mode is on and any input requires grad: the op must record a node.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Records `fn` as the backward of an op that read `inputs` and produced `outputs` (only
// the differentiable ones), saving `saved` for backward. No-op when nothing needs grad.
// `op` is the user-facing op name used in errors ("mul").
void record(const std::string& op, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            const std::vector<Tensor>& saved, BackwardFn fn);

}  // namespace hone::autograd
