#pragma once
// PackNet (Mallya & Lazebnik, 2018): several tasks packed into one network's weights. After
// a task trains, magnitude pruning frees a fraction of the weights it took, per layer; the
// next task trains only those freed weights while the kept ones stay frozen by optimizer
// masks (nn/optim.h), so every earlier task can be run again, bitwise as it was, by zeroing
// the weights that later tasks took. Costs one byte per packed weight (its owner) and, while
// a task runs, one copy of the packed weights; no extra work per training step.
//
// The recipe, with a head per task kept by the caller (a Linear per task on the shared
// backbone, or the network's own fc swapped per task; name the head's parameters in
// PackNetOptions::exclude so they are neither packed nor frozen):
//   PackNet pack(net, {.exclude = {"fc.*"}});
//   pack.begin_task(1, opt1); train...; pack.prune(0.5); fine-tune...;      // task 1
//   pack.begin_task(2, opt2); train...; pack.prune(0.5); fine-tune...;      // task 2
//   { auto scope = pack.apply_task(1); net.eval(); y1 = head1(net(x)); }     // task 1 again
//
// What is packed: by default the weight of every Conv2d and Linear (the layers that hold
// nearly all parameters). Everything else that the module holds and `exclude` does not name
// (biases, batch-norm weight and bias, and batch-norm running statistics) is shared, as in
// the paper: it trains with task 1 and is frozen from task 2 on (all-zero optimizer masks,
// and batch-norm layers set to BatchNormMode::Frozen), so it stays what task 1 left.
//
// Use a fresh optimizer per task (or call begin_task again for a new one): a freed weight's
// momentum from the task that pruned it would otherwise carry into the next task's first steps.
//
// The owners are the masks: task t's mask of a packed weight is (owner != 0 && owner <= t),
// exactly what apply_task(t) keeps, so one byte per weight holds every task's mask.
// Checkpoints: state_dict() holds the owners of every packed weight as uint8 tensors
// "packnet.<weight name>" and the number of tasks begun as "packnet_tasks";
// io::CheckpointParts::packnet saves and restores them with the model and the optimizer
// (whose state carries the training masks). After loading, begin_task(tasks(), opt) makes
// the optimizer share the masks again and re-freezes batch norm from task 2 on (a mode, not
// state). Export of one task: apply_task(t), then export the backbone with that task's head
// (io/onnx/export.h), then let the scope end.
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hone::optim {
class Optimizer;
}

namespace hone::nn {

class Module;

struct PackNetOptions {
  // Glob patterns (nn/module.h) naming the parameters to pack; empty: the weight of every
  // Conv2d and Linear.
  std::vector<std::string> weights;
  // Parameters that PackNet leaves alone entirely: the caller's per-task heads.
  std::vector<std::string> exclude;
};

class PackNet {
 public:
  // Tasks are numbered 1..255 (the owners are one byte; 0 means free).
  static constexpr int kMaxTasks = 255;

  // Every packed weight starts free. The module must outlive this object.
  explicit PackNet(Module& net, PackNetOptions opts = {});

  // Makes task t the one that trains: t is the next task (the free weights become task t's)
  // or the current one again (only the masks are set, for a new optimizer). Sets the masks
  // of every parameter `opt` holds: a packed weight trains where task t owns it; from task 2
  // on, shared parameters get an all-zero mask and batch-norm layers are frozen.
  void begin_task(int t, optim::Optimizer& opt);

  // After the current task has trained: among the weights it owns, keeps the (1 - fraction)
  // largest in magnitude in each layer (round((1 - fraction) * n) of its n; ties keep the
  // earlier element) and frees the rest: they become 0 and owner 0. The masks set by
  // begin_task follow (they are the same tensors), so a post-prune fine-tune trains only the
  // kept weights. fraction in [0, 1).
  void prune(double fraction);

  // Runs the network as task t: while the returned scope lives, every packed weight owned
  // by a later task or free is 0, so task t's outputs are bitwise those it had when its
  // training ended. The real values come back when the scope ends. Run it under eval() (so
  // batch norm uses its running statistics) and do not train inside the scope.
  class TaskScope {
   public:
    TaskScope(TaskScope&& other) noexcept;
    TaskScope& operator=(TaskScope&&) = delete;
    TaskScope(const TaskScope&) = delete;
    ~TaskScope();

   private:
    friend class PackNet;
    TaskScope() = default;
    std::vector<std::pair<Tensor, Tensor>> saved_;  // (weight, its real values)
  };
  [[nodiscard]] TaskScope apply_task(int t);

  int tasks() const { return tasks_; }  // tasks begun so far
  // Packed weight names, in the module's order, and their owners (uint8, CPU).
  std::vector<std::string> weight_names() const;
  const Tensor& owners(const std::string& weight_name) const;

  // "packnet.<name>" (uint8 owners) per packed weight and "packnet_tasks" (0-d float64).
  std::map<std::string, Tensor> state_dict() const;
  // Takes the keys above, checking them all before it changes anything; other keys are
  // ignored (the state may share a map with the model's). Call begin_task(tasks(), opt)
  // afterwards to train on. check_state_dict makes the same checks and changes nothing.
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;

 private:
  struct Packed {
    std::string name;
    Tensor weight;
    Tensor owners;  // uint8, CPU, contiguous, the weight's shape
    Tensor mask;    // uint8 on the weight's device: owners == tasks_; given to optimizers
  };
  const Packed& find(const std::string& name, const char* op) const;
  // The checked task count and owners (host copies, in packed_'s order) of a state.
  std::pair<int, std::vector<Tensor>> checked_state(const std::map<std::string, Tensor>& state) const;
  void refresh_masks();
  void check_task(int t, const char* op) const;

  Module* net_;
  std::vector<Packed> packed_;
  std::vector<std::pair<std::string, Tensor>> shared_;  // frozen from task 2 on
  int tasks_ = 0;
};

}  // namespace hone::nn
