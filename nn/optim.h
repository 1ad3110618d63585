#pragma once
// Optimizers: SGD (momentum, dampening, Nesterov), Adam and AdamW, each the exact update
// of PyTorch 1.13 (torch.optim, single-tensor path, amsgrad off), so a fine-tuning recipe
// carries over with the same numbers. Parameters come in groups with Caffe's lr_mult and
// decay_mult, so a new head can learn 10x faster than the backbone it sits on.
//
// Steps run under NoGradGuard and update parameters in place. A parameter is skipped when
// it does not require grad or its grad() is undefined (frozen, or unused by this batch);
// its optimizer state (momentum, moments, Adam's step count) stays as it was.
// Gradient accumulation needs no API: backward() adds into grad() until zero_grad().
//
// Optimizer state is saved and restored by parameter name, so a resume can tell whether
// it has the same parameters: build the optimizer from module.named_parameters(), give a
// group its param_names, or call name_parameters(module) once it is built.
//
// Each update is one fused kernel per parameter (kernels/optim.h, through the kernel
// registry: family "optimizer", on the CPU and CUDA), computing bit for bit what the
// former composition of tensor ops computed: every intermediate rounded to the parameter's
// dtype, in torch's order. The fused kernel reads the parameter, its gradient and its
// buffers through one pointer each: they must share the parameter's dtype and device, and
// the parameter must be contiguous (a strided gradient is made contiguous first); anything
// else is a hone::Error naming the parameter.
//
// Masks (set_mask): a parameter may carry a mask of its shape; where the mask is 0 the
// weight and its momentum / exp_avg / exp_avg_sq entries are never changed (bitwise), and
// weight decay does not touch it, so pruned or frozen weights stay exactly as they are
// (PackNet). The mask is one byte per element (uint8 0/1, or bool): a quarter of a float32
// mask's memory traffic per step, the same mask serves float32 and float64 parameters, and
// "nonzero trains" has no in-between values to define. Masks are saved in state_dict() as
// "param.<name>.mask" (uint8), so a checkpoint resumes with the weights it protected.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "autograd/grad_mode.h"
#include "tensor/tensor.h"

namespace hone::nn {
class Module;
}

namespace hone::optim {

// What module.named_parameters() returns.
using NamedParameters = std::vector<std::pair<std::string, Tensor>>;

// Parameters that share hyper-parameters. Effective values for the group:
//   lr           = (lr ? *lr : the optimizer's lr()) * lr_mult
//   weight decay = (weight_decay ? *weight_decay : the options' weight_decay) * decay_mult
// A group's own `lr` follows schedules too: set_lr(x) scales it by x / (the options' lr)
// (left as it is when that lr is 0).
struct ParamGroup {
  std::vector<Tensor> params;
  double lr_mult = 1.0;
  std::optional<double> lr;
  std::optional<double> weight_decay;
  double decay_mult = 1.0;
  std::string name;  // for error messages and logs ("fc", "layer4")
  // The parameters' names ("layer4.0.conv1.weight"), one per entry of params, or empty
  // until name_parameters() fills them: state_dict() keys each parameter's state by it.
  std::vector<std::string> param_names;
};

// Optimizer state of one parameter. Empty until the parameter's first update.
struct ParamState {
  int64_t step = 0;                       // updates applied to this parameter
  std::map<std::string, Tensor> buffers;  // "momentum_buffer", "exp_avg", "exp_avg_sq"
  Tensor mask;                            // see set_mask; undefined: every element trains
};

class Optimizer {
 public:
  virtual ~Optimizer();
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Clears every parameter's gradient. set_to_none (the default, as PyTorch 2) leaves
  // grad() undefined, so a parameter the next batch does not reach is skipped by step();
  // false zeroes the gradient tensors in place (PyTorch 1.13's default).
  void zero_grad(bool set_to_none = true);
  virtual void step() = 0;

  // The base learning rate, before each group's own lr and lr_mult. Schedules call
  // set_lr; groups keep their multipliers.
  double lr() const { return lr_; }
  void set_lr(double base_lr);
  // The learning rate and weight decay `group` actually uses now.
  double group_lr(size_t group) const;
  double group_weight_decay(size_t group) const;

  // In memory, state belongs to params[i] of groups()[g]: adding parameters to a group is
  // fine; reordering or removing them mismatches the state (a saved state is matched by name).
  std::vector<ParamGroup>& groups() { return groups_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }
  void add_param_group(ParamGroup group);
  int64_t step_count() const { return step_count_; }  // step() calls so far

  // Masks (see the top of this file). `mask` has the parameter's shape and device, dtype
  // uint8 or bool; it is kept as given (a contiguous() view of it), so later writes into
  // it change what trains. Throws naming the parameter for a wrong shape, dtype or device,
  // or a tensor that is not one of this optimizer's parameters. clear_mask lets every
  // element train again; mask() is the parameter's mask, or an undefined tensor.
  void set_mask(const Tensor& param, Tensor mask);
  void clear_mask(const Tensor& param);
  Tensor mask(const Tensor& param) const;

  // Names every parameter of every group by its name in `module` (found by identity), for
  // groups built from plain tensor lists such as Classifier::head_parameters(). Throws
  // naming a parameter that is not one of the module's.
  void name_parameters(const nn::Module& module);

  // Checkpoint state, as tensors (copies, so later steps do not change them):
  //   "step"  0-d float64: step() calls;  "lr"  0-d float64: the base lr
  //   "param.<name>.group"     0-d float64: the parameter's group, for every parameter
  //   "param.<name>.<buffer>"  a buffer of that parameter, its shape and dtype
  //   "param.<name>.step"      0-d float64: that parameter's updates (Adam, AdamW)
  //   "param.<name>.mask"      the parameter's mask as uint8, when it has one
  // Parameters never updated have no buffer keys. Every parameter needs a name (see the
  // top of this file). load_state_dict sets the masks it finds and leaves a parameter
  // without a saved mask with the mask it has (a state saved before masks existed never
  // unprotects weights); clear_mask removes one. load_state_dict takes only a state saved by an optimizer with the
  // same parameters in the same groups; it checks everything before it changes anything
  // and throws hone::Error naming the parameters that differ, or any missing, unknown or
  // mis-shaped key. check_state_dict makes the same checks and changes nothing.
  virtual std::map<std::string, Tensor> state_dict() const;
  virtual void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;

 protected:
  Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* kind);

  // Names of the per-parameter buffers this optimizer keeps, given its options.
  virtual std::vector<std::string> buffer_names() const = 0;
  // Whether ParamState::step is saved (Adam's bias correction needs it).
  virtual bool saves_param_step() const = 0;
  // Calls fn(param, grad, state, effective lr, effective weight decay) for every parameter
  // that takes part in this step, under NoGradGuard, and counts the step.
  template <typename Fn> void for_each_update(Fn&& fn);

  ParamState& state(size_t group, size_t index);
  // "\"layer4.0.conv1.weight\"" or "parameter 3 of group 0 (shape [...])", for errors.
  std::string describe(const Tensor& param) const;
  const char* kind_;

 private:
  // A state dict checked against this optimizer: the counts and, per parameter, its entries.
  struct CheckedState {
    int64_t step = 0;
    double lr = 0;
    std::map<std::pair<size_t, size_t>, std::map<std::string, Tensor>> per_param;
    std::map<std::pair<size_t, size_t>, Tensor> masks;
  };
  CheckedState check_state(const std::map<std::string, Tensor>& state) const;
  void check_group(const ParamGroup& group, size_t index) const;
  const std::string& param_name(size_t group, size_t index, const char* needed_by) const;
  std::pair<size_t, size_t> locate(const Tensor& param, const char* op) const;

  std::vector<ParamGroup> groups_;
  std::vector<std::vector<ParamState>> state_;  // parallel to groups_[g].params
  double lr_;
  double initial_lr_;
  double weight_decay_;
  int64_t step_count_ = 0;
};

struct SGDOptions {
  double lr = 0.01;
  double momentum = 0;
  double dampening = 0;
  double weight_decay = 0;  // L2: weight_decay * param added to the gradient
  bool nesterov = false;
};

// torch.optim.SGD: g = grad + wd*p; buf = g at the first update, then
// buf = momentum*buf + (1-dampening)*g; step along g + momentum*buf (Nesterov) or buf.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamGroup> groups, SGDOptions opts = {});
  SGD(std::vector<Tensor> params, SGDOptions opts = {});
  SGD(NamedParameters params, SGDOptions opts = {});  // one group, named
  void step() override;
  const SGDOptions& options() const { return opts_; }

 protected:
  std::vector<std::string> buffer_names() const override;
  bool saves_param_step() const override { return false; }

 private:
  SGDOptions opts_;
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0;  // Adam: L2 added to the gradient
};

// AdamW's options differ only in the default decay, which AdamW applies decoupled.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;  // AdamW: p *= 1 - lr * weight_decay before the Adam step
};

// torch.optim.Adam with bias correction: m = b1*m + (1-b1)*g, v = b2*v + (1-b2)*g^2,
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps), t counted per parameter.
class Adam : public Optimizer {
 public:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts = {});
  Adam(std::vector<Tensor> params, AdamOptions opts = {});
  Adam(NamedParameters params, AdamOptions opts = {});  // one group, named
  void step() override;
  const AdamOptions& options() const { return opts_; }

 protected:
  Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled, const char* kind);
  std::vector<std::string> buffer_names() const override { return {"exp_avg", "exp_avg_sq"}; }
  bool saves_param_step() const override { return true; }

 private:
  AdamOptions opts_;
  bool decoupled_;  // AdamW
};

class AdamW : public Adam {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opts = {});
  AdamW(std::vector<Tensor> params, AdamWOptions opts = {});
  AdamW(NamedParameters params, AdamWOptions opts = {});  // one group, named
};

// torch.nn.utils.clip_grad_norm_: the L2 norm of all gradients together (accumulated in
// double, parameters in order); when it exceeds max_norm every gradient is scaled in
// place by max_norm / (norm + 1e-6). Parameters without a gradient are ignored. Returns
// the norm before clipping. As PyTorch: an inf norm scales gradients by 0, a nan norm
// makes them nan (check the returned norm to skip such a step).
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);
// The same over every parameter of an optimizer's groups.
double clip_grad_norm(const Optimizer& opt, double max_norm);
// The same on the gradients' device, without a host round trip: the norm comes back as a
// 0-d float64 tensor on that device, and the coefficient is computed and applied there
// (kernel family "clip_grad_norm"). All gradients must be on one device. The sum of squares
// is float64, each gradient summed in storage order, added in parameter order: on the
// CPU exactly clip_grad_norm's number (which calls this and reads the norm).
Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm);
Tensor clip_grad_norm_(const Optimizer& opt, double max_norm);

// Defined here so that optimizers written outside nn/optim.cpp can use it.
template <typename Fn>
void Optimizer::for_each_update(Fn&& fn) {
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    const double lr = group_lr(g), wd = group_weight_decay(g);
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      Tensor p = groups_[g].params[i];
      if (!p.requires_grad()) continue;  // frozen
      Tensor grad = p.grad();
      if (!grad.defined()) continue;     // not reached by this batch's backward
      fn(p, grad, state(g, i), lr, wd);
    }
  }
  ++step_count_;
}

}  // namespace hone::optim
