#pragma once
// Classifier: what fine-tuning asks of a network, whoever built it (a built-in ResNet or
// VGG, or a graph imported from ONNX), so the command line and embedders treat them alike:
//   - the head: its parameter names, a fresh one for N classes, the features it takes;
//   - stages, input to output, to freeze "everything before layer3";
//   - batch norm frozen where the weights are frozen (running statistics only).
#include <atomic>
#include <string>
#include <vector>

#include "kernels/cpu/isa.h"
#include "nn/module.h"
#include "tensor/generator.h"

namespace hone::models {

class Classifier : public nn::Module {
 public:
  using nn::Module::Module;

  // Penultimate activations, the head's input: [N, feature_dim()].
  virtual Tensor forward_features(const Tensor& x) = 0;
  // The head alone on features from forward_features (a cached-feature run trains this).
  virtual Tensor forward_head(const Tensor& features) = 0;
  // forward_head(forward_features(x)).
  Tensor forward(const Tensor& x) override { return forward_head(forward_features(x)); }
  // A fresh head for `num_classes` outputs (PyTorch's default Linear init).
  virtual void replace_head(int64_t num_classes, Generator* gen = nullptr) = 0;
  virtual int64_t num_classes() const = 0;
  virtual int64_t feature_dim() const = 0;
  // Parameter-name patterns that select the head ({"fc.*"} for a ResNet).
  virtual std::vector<std::string> head_patterns() const = 0;
  // Names one can pass to freeze_before, input to output. By default the first part of
  // the parameters' stage paths in order (conv1, bn1, layer1, ..., fc); VGG lists features.N.
  virtual std::vector<std::string> stages() const;
  // Where a parameter sits, as a dotted module path that stages and freeze_before match:
  // its own name here; an imported graph whose exporter named weights "onnx::Conv_193"
  // derives it from the node that reads the weight ("/layer3/layer3.0/conv1/Conv").
  virtual std::string stage_path(const std::string& parameter) const { return parameter; }

  // Partial fine-tuning: freezes every parameter that comes before `stage` (a stage name,
  // or any dotted prefix of a stage path) in graph order. Throws naming the stages
  // when no parameter has that prefix.
  void freeze_before(const std::string& stage);
  // Feature extraction: freezes everything but the head.
  void freeze_backbone();
  // Batch norm whose scale is frozen uses (and keeps) its running statistics; with
  // `all`, every batch norm does (small batches). Call after freezing; train() keeps it.
  virtual void freeze_batchnorm(bool all);
  // Training from scratch: every weight drawn afresh as PyTorch initialises its layers
  // (conv and linear kaiming-uniform a=sqrt(5), biases U(+-1/sqrt(fan_in)); batch norm
  // weight 1, bias 0, running mean 0, variance 1).
  virtual void reset_parameters(Generator* gen);
  // Parameters that still learn, split into the head's and the rest (for lr_mult).
  std::vector<Tensor> head_parameters() const;
  std::vector<Tensor> body_parameters(bool trainable_only = true) const;
  bool is_head_parameter(const std::string& name) const;

  // The blocked inference path of the frozen part (models/blocked.h for the built-in
  // networks, io/onnx/blocked_run.h for imported graphs), on by default where the CPU has
  // it; off runs every layer through the ordinary ops. `isa` forces the AVX-512 or AVX2
  // kernels (tests run each the CPU supports).
  void set_blocked_inference(bool on, kernels::cpu::CpuIsa isa = kernels::cpu::CpuIsa::Auto) {
    blocked_enabled_ = on, blocked_isa_ = isa;
  }
  bool blocked_inference() const { return blocked_enabled_; }
  // How many convs the last forward of a built-in network ran blocked (with what they
  // fused); for tests and benchmarks. An imported graph counts its nodes instead
  // (OnnxModule::last_blocked_nodes).
  size_t last_blocked_convs() const { return last_blocked_convs_; }

 protected:
  bool blocked_enabled_ = true;
  kernels::cpu::CpuIsa blocked_isa_ = kernels::cpu::CpuIsa::Auto;
  std::atomic<size_t> last_blocked_convs_{0};
};

// The initialisers reset_parameters uses, for other Classifiers (an imported graph).
void reset_linear_like(Tensor weight, Tensor bias, Generator* gen);  // weight [out, in, ...]
void reset_batchnorm(Tensor weight, Tensor bias, Tensor mean, Tensor var);

}  // namespace hone::models
