#include "nn/layers.h"

#include <cmath>

#include "autograd/grad_mode.h"
#include "nn/init.h"

namespace hone::nn {

namespace {
// PyTorch's default for Conv and Linear: kaiming_uniform(a = sqrt(5)) on the weight, which
// is U(+-1/sqrt(fan_in)), and the same bound for the bias.
void default_init(Tensor& weight, Tensor* bias, Generator* gen) {
  init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::In, gen);
  if (bias && bias->defined()) {
    const double bound = 1.0 / std::sqrt(double(init::fans(weight).first));
    init::uniform_(*bias, -bound, bound, gen);
  }
}
}  // namespace

Conv2d::Conv2d(const Conv2dOptions& o, Generator* gen, bool initialize) : Module("Conv2d"), o_(o) {
  HONE_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.groups > 0 && o.in_channels % o.groups == 0 &&
                 o.out_channels % o.groups == 0,
             "Conv2d: channels ", o.in_channels, " -> ", o.out_channels, " do not fit groups=", o.groups);
  weight = register_parameter("weight", empty({o.out_channels, o.in_channels / o.groups, o.kernel[0], o.kernel[1]}));
  if (o.bias) bias = register_parameter("bias", empty({o.out_channels}));
  if (initialize) default_init(weight, &bias, gen);
}

Tensor Conv2d::forward(const Tensor& x) {
  return conv2d(x, weight, bias,
                {.stride = o_.stride, .padding = o_.padding, .dilation = o_.dilation, .groups = o_.groups});
}

BatchNorm2d::BatchNorm2d(const BatchNorm2dOptions& o) : Module("BatchNorm2d"), o_(o) {
  HONE_CHECK(o.num_features > 0, "BatchNorm2d: num_features must be positive, got ", o.num_features);
  if (o.affine) {
    weight = register_parameter("weight", ones({o.num_features}));
    bias = register_parameter("bias", zeros({o.num_features}));
  }
  running_mean = register_buffer("running_mean", zeros({o.num_features}));
  running_var = register_buffer("running_var", ones({o.num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, {.dtype = DType::Int64}));
}

void BatchNorm2d::train(bool on) {
  Module::train(on);
  if (mode_ != BatchNormMode::Frozen) mode_ = on ? BatchNormMode::Train : BatchNormMode::Inference;
}

void BatchNorm2d::set_mode(BatchNormMode m) { mode_ = m; }

Tensor BatchNorm2d::forward(const Tensor& x) { return run(x, false); }
Tensor BatchNorm2d::forward_relu(const Tensor& x) { return run(x, true); }

Tensor BatchNorm2d::run(const Tensor& x, bool fuse_relu) {
  HONE_CHECK(x.dim() == 4 && x.size(1) == o_.num_features, "BatchNorm2d(", o_.num_features,
             "): expected input [N, ", o_.num_features, ", H, W], got ", x.shape());
  const bool batch = mode_ == BatchNormMode::Train;
  if (batch) {
    NoGradGuard ng;
    num_batches_tracked.add_(1.0);
  }
  return batch_norm(x, weight, bias, running_mean, running_var,
                    {.use_batch_stats = batch, .update_running_stats = batch, .momentum = o_.momentum, .eps = o_.eps,
                     .convention = o_.convention, .fuse_relu = fuse_relu});
}

Linear::Linear(int64_t in, int64_t out, bool with_bias, Generator* gen, bool initialize)
    : Module("Linear"), in_(in), out_(out) {
  HONE_CHECK(in > 0 && out > 0, "Linear: features must be positive, got ", in, " -> ", out);
  weight = register_parameter("weight", empty({out, in}));
  if (with_bias) bias = register_parameter("bias", empty({out}));
  if (initialize) default_init(weight, &bias, gen);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

Dropout::Dropout(double p, Generator* gen) : Module("Dropout"), p_(p), gen_(gen) {
  HONE_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got ", p);
}

Sequential::Sequential(std::initializer_list<std::shared_ptr<Module>> modules) : Module("Sequential") {
  for (auto& m : modules) push_back(m);
}

void Sequential::push_back(std::shared_ptr<Module> m) { register_module(std::to_string(children().size()), std::move(m)); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& [_, c] : children()) y = (*c)(y);
  return y;
}

Tensor mse_loss(const Tensor& prediction, const Tensor& target, Reduction reduction) {
  HONE_CHECK(prediction.shape() == target.shape(), "mse_loss: prediction ", prediction.shape(), " and target ",
             target.shape(), " differ in shape");
  Tensor d = prediction - target;
  Tensor sq = d * d;
  return reduction == Reduction::None ? sq : reduction == Reduction::Sum ? sum(sq) : mean(sq);
}

}  // namespace hone::nn
