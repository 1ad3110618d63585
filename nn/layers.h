#pragma once
// The layers ResNet and VGG are made of, named and shaped as PyTorch's so weights map one
// to one. Each layer owns handles to its parameters; the Module registry holds the same
// tensors under their dotted names.
#include <array>
#include <initializer_list>

#include "autograd/ops.h"
#include "autograd/ops/conv2d.h"
#include "autograd/ops/nn.h"
#include "autograd/ops/pooling.h"
#include "nn/module.h"

namespace hone::nn {

struct Conv2dOptions {
  int64_t in_channels, out_channels;
  std::array<int64_t, 2> kernel;
  std::array<int64_t, 2> stride{1, 1};
  Padding2d padding;  // 1, {h, w} (both sides) or {top, left, bottom, right}
  std::array<int64_t, 2> dilation{1, 1};
  int64_t groups = 1;
  bool bias = true;
};

// Initialised as PyTorch's default (kaiming uniform, a = sqrt(5); bias U(+-1/sqrt(fan_in))).
class Conv2d : public Module {
 public:
  // initialize = false leaves the weights uninitialised, for a caller that sets them next.
  explicit Conv2d(const Conv2dOptions& o, Generator* gen = nullptr, bool initialize = true);
  Tensor forward(const Tensor& x) override;
  const Conv2dOptions& options() const { return o_; }
  Tensor weight, bias;

 private:
  Conv2dOptions o_;
};

// BatchNorm's behaviour, set per layer:
//   Train:     batch statistics, running statistics updated (train()).
//   Inference: running statistics (eval()).
//   Frozen:    running statistics, never updated, whatever train()/eval() say; gradients
//              still flow to the input and to weight/bias if they are trainable.
enum class BatchNormMode { Train, Inference, Frozen };

struct BatchNorm2dOptions {
  int64_t num_features;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  BatchNormConvention convention = BatchNormConvention::PyTorch;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(const BatchNorm2dOptions& o);
  Tensor forward(const Tensor& x) override;
  // relu(forward(x)) in one pass over the output, the same numbers bit for bit (ResNet's
  // blocks use it; traced and exported as BatchNormalization then Relu).
  Tensor forward_relu(const Tensor& x);
  void train(bool on = true) override;  // leaves a Frozen layer frozen
  void set_mode(BatchNormMode m);
  BatchNormMode mode() const { return mode_; }
  const BatchNorm2dOptions& options() const { return o_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  Tensor run(const Tensor& x, bool fuse_relu);
  BatchNorm2dOptions o_;
  BatchNormMode mode_ = BatchNormMode::Train;
};

// Initialised as PyTorch's default (kaiming uniform, a = sqrt(5); bias U(+-1/sqrt(in))).
class Linear : public Module {
 public:
  // initialize = false leaves the weights uninitialised, for a caller that sets them next.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, Generator* gen = nullptr, bool initialize = true);
  Tensor forward(const Tensor& x) override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  Tensor weight, bias;

 private:
  int64_t in_, out_;
};

class ReLU : public Module {
 public:
  ReLU() : Module("ReLU") {}
  Tensor forward(const Tensor& x) override { return relu(x); }
};

class MaxPool2d : public Module {
 public:
  explicit MaxPool2d(const Pool2dOptions& o) : Module("MaxPool2d"), o_(o) {}
  Tensor forward(const Tensor& x) override { return max_pool2d(x, o_); }
  const Pool2dOptions& options() const { return o_; }

 private:
  Pool2dOptions o_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(const Pool2dOptions& o) : Module("AvgPool2d"), o_(o) {}
  Tensor forward(const Tensor& x) override { return avg_pool2d(x, o_); }
  const Pool2dOptions& options() const { return o_; }

 private:
  Pool2dOptions o_;
};

class AdaptiveAvgPool2d : public Module {
 public:
  explicit AdaptiveAvgPool2d(std::array<int64_t, 2> size) : Module("AdaptiveAvgPool2d"), size_(size) {}
  Tensor forward(const Tensor& x) override { return adaptive_avg_pool2d(x, size_); }
  std::array<int64_t, 2> output_size() const { return size_; }

 private:
  std::array<int64_t, 2> size_;
};

// Drops with probability p in training mode; the generator is the context's unless given.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training(), gen_); }

 private:
  double p_;
  Generator* gen_;
};

class Flatten : public Module {
 public:
  explicit Flatten(int64_t start_dim = 1, int64_t end_dim = -1) : Module("Flatten"), start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_, end_); }
  int64_t start_dim() const { return start_; }
  int64_t end_dim() const { return end_; }

 private:
  int64_t start_, end_;
};

class Identity : public Module {
 public:
  Identity() : Module("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Children named "0", "1", ... run in order.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<std::shared_ptr<Module>> modules);
  void push_back(std::shared_ptr<Module> m);
  size_t size() const { return children().size(); }
  Tensor forward(const Tensor& x) override;
};

// Losses.
Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction = Reduction::Mean);

}  // namespace hone::nn
