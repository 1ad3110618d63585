#pragma once
// Piggyback (Mallya, Davis & Lazebnik, 2018): a new task on a frozen backbone without
// changing a single backbone weight. Each masked weight W gets a real-valued score S of its
// shape; the forward uses W * threshold_mask(S), a binary mask (S > threshold) whose
// gradient passes straight through, so dL/dS = dL/dW_masked * W (the paper's rule). Only the
// scores and the new head train; after training the task is the backbone plus one binary
// mask per layer (1 bit per weight in the paper; one byte here, as uint8 tensors).
// Costs one score tensor per masked weight while training (as many numbers as the masked
// weights) and one elementwise product per masked layer per forward.
#include <map>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace hone::nn {

class Module;

// (scores > threshold) as scores' dtype (1 or 0). Its backward is the straight-through
// estimator: the incoming gradient unchanged, as if the mask were the identity of scores.
// scores must be floating; threshold finite.
Tensor threshold_mask(const Tensor& scores, double threshold);

struct PiggybackOptions {
  double init = 1e-2;       // every score starts here: above the threshold, all weights on
  double threshold = 5e-3;  // the paper's values
};

// Scores for the Conv2d and Linear weights of `net` whose dotted names ("layer1.0.conv1.weight")
// match one of `patterns` (glob, as Module::freeze; leave out the new head). The module must
// outlive this object and keep those layers (replace_module on one invalidates it); scores
// are made on each weight's device and dtype, so move the module first (Module::to does not
// move them; a scope names a weight whose scores sit elsewhere).
// Backbone weights are read through detach(): no gradient reaches them from a masked
// forward, whatever their requires_grad; freeze them so nothing else trains them either.
class Piggyback {
 public:
  Piggyback(Module& net, const std::vector<std::string>& patterns, const PiggybackOptions& opts = {});
  // Scores for weights held elsewhere than in Conv2d/Linear members (an imported graph's
  // initializers, io::onnx::OnnxModule::weight_slot): each handle is the tensor the forward
  // reads, swapped while a scope lives, by weight name.
  Piggyback(const std::vector<std::pair<std::string, Tensor*>>& weights, const PiggybackOptions& opts = {});
  Piggyback(const Piggyback&) = delete;
  Piggyback& operator=(const Piggyback&) = delete;

  // While alive, each masked layer's forward uses weight * mask instead of weight: the
  // layer's own handle is swapped and put back on destruction. The module's parameters,
  // state_dict and named tensors are the backbone's throughout. Scopes do not nest and
  // must not outlive their Piggyback.
  class Scope {
   public:
    Scope(Scope&& other) noexcept;
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;
    Scope& operator=(Scope&&) = delete;
    ~Scope();

   private:
    friend class Piggyback;
    explicit Scope(Piggyback* owner) : owner_(owner) {}
    Piggyback* owner_;
  };

  // Masks from the scores, differentiable in them: train with this scope open across the
  // forward and backward, one scope per step (each builds a fresh graph).
  [[nodiscard]] Scope train_scope();
  // Masks from stored binary masks (see masks()), for inference on a task: every masked
  // layer needs one, uint8 of its weight's shape; nothing else may be given.
  [[nodiscard]] Scope mask_scope(const std::map<std::string, Tensor>& masks);

  // The trainable scores (leaves requiring grad), for the optimizer, by weight name.
  std::vector<Tensor> scores() const;
  const std::map<std::string, Tensor>& named_scores() const { return scores_; }
  // The task's binary masks: (score > threshold) as uint8, by weight name.
  std::map<std::string, Tensor> masks() const;
  // "piggyback.<weight name>" -> scores, for checkpoints (io::CheckpointParts::piggyback);
  // load_state_dict copies values in and names every missing, unexpected, wrongly shaped or
  // typed entry, changing nothing then; check_state_dict makes the same checks only.
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;
  const PiggybackOptions& options() const { return opts_; }

 private:
  struct Slot {
    Tensor* handle;   // the layer's `weight` member
    Tensor backbone;  // the tensor the handle held when swapped out
  };
  void swap_in(const std::map<std::string, Tensor>& masked);
  void restore();

  PiggybackOptions opts_;
  std::map<std::string, Tensor> scores_;
  std::map<std::string, Slot> slots_;
  bool active_ = false;
};

}  // namespace hone::nn
