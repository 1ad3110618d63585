#pragma once
// Module: a node of a network with named parameters, buffers and children. Every
// parameter and buffer has a dotted name (layer1.0.conv1.weight, layer1.0.bn1.running_mean)
// that is the key in state_dict(), the pattern freeze()/unfreeze() match, and the name an
// importer maps weights onto.
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hone::nn {

// Glob match on dotted names: '*' matches any run of characters (dots included), '?' one.
bool glob_match(const std::string& pattern, const std::string& name);

class Module {
 public:
  explicit Module(std::string type_name) : type_(std::move(type_name)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  virtual Tensor forward(const Tensor& x) = 0;
  // Runs forward; call children this way (not forward() directly) so summaries see them.
  Tensor operator()(const Tensor& x);
  const std::string& type_name() const { return type_; }

  // ---- traversal (registration order, recursive, dotted names) ----
  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<std::pair<std::string, Tensor>> named_buffers() const;
  std::vector<Tensor> parameters(const std::string& pattern = "*") const;  // matching names
  std::vector<std::pair<std::string, Module*>> named_modules() const;       // "" is this module
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  Module& module(const std::string& dotted_name) const;  // throws naming the missing part
  // Replaces the child at a dotted path (e.g. "classifier.6") with a new module. Modules
  // look their children up by name when they run (none keeps its own pointer), so the new
  // one is what forward runs from then on.
  void replace_module(const std::string& dotted_name, std::shared_ptr<Module> replacement);

  // ---- modes ----
  // train(true) puts every layer in training mode, except that a BatchNorm2d set to
  // Frozen stays frozen: a parent's train() never silently unfreezes a frozen BN.
  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }

  // ---- freezing ----
  // Frozen parameters have requires_grad false: they get no gradient, and autograd records
  // nothing for a layer whose inputs and parameters all need none.
  void freeze(const std::vector<std::string>& patterns = {"*"});
  void unfreeze(const std::vector<std::string>& patterns = {"*"});
  // Freezes every top-level child up to and including `child` (in registration order):
  // "everything up to stage X", e.g. freeze_through("layer3") for a ResNet.
  void freeze_through(const std::string& child);
  struct ParameterCount {
    int64_t total = 0, trainable = 0;
  };
  ParameterCount count_parameters() const;

  // ---- state ----
  std::map<std::string, Tensor> state_dict() const;  // parameters and buffers by dotted name
  // Copies values in. Strict: every name must match, and the error lists every missing,
  // unexpected and wrongly shaped entry by name. Not strict: loads what matches in shape.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  void to(Device device);  // moves parameters and buffers (the same tensors, new storage)

  // One line per layer: name, type, output shape, parameters, trainable or frozen; runs a
  // forward on zeros of `input_shape` under NoGradGuard (in eval mode, then restores).
  std::string summary(const Shape& input_shape);
  // True on this thread while summary() records each layer's output: a forward must then
  // run its layers one by one (not fused, models/blocked.h).
  static bool summarizing();

 protected:
  // Parameters are created requiring grad; layers keep their own handle to the same tensor.
  Tensor register_parameter(const std::string& name, Tensor t);
  Tensor register_buffer(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  // Removes this module's own parameter or buffer `name` (no-op if absent).
  void unregister_tensor(const std::string& name);

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void collect(const std::string& prefix, bool params, std::vector<std::pair<std::string, Tensor>>& out) const;

  std::string type_;
  std::vector<std::pair<std::string, Tensor>> params_, buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

}  // namespace hone::nn
