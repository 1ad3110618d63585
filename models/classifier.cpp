#include "models/classifier.h"

#include <algorithm>

#include <cmath>

#include "autograd/grad_mode.h"
#include "nn/init.h"
#include "nn/layers.h"

namespace hone::models {

namespace {
bool has_prefix(const std::string& name, const std::string& prefix) {
  return name == prefix || (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0 &&
                            name[prefix.size()] == '.');
}
}  // namespace

std::vector<std::string> Classifier::stages() const {
  std::vector<std::string> out;
  for (const auto& [name, t] : named_parameters()) {
    const std::string path = stage_path(name), first = path.substr(0, path.find('.'));
    if (std::find(out.begin(), out.end(), first) == out.end()) out.push_back(first);
  }
  return out;
}

void Classifier::freeze_before(const std::string& stage) {
  const auto params = named_parameters();
  size_t first = params.size();
  for (size_t i = 0; i < params.size() && first == params.size(); ++i)
    if (has_prefix(stage_path(params[i].first), stage)) first = i;
  if (first == params.size()) {
    std::string names;
    for (const auto& s : stages()) names += (names.empty() ? "" : ", ") + s;
    fail("freeze_before: ", type_name(), " has no stage '", stage, "' (stages: ", names, ")");
  }
  for (size_t i = 0; i < first; ++i) {
    Tensor t = params[i].second;
    t.set_requires_grad(false);
    t.set_grad(Tensor());
  }
}

void Classifier::freeze_backbone() {
  freeze();
  unfreeze(head_patterns());
}

bool Classifier::is_head_parameter(const std::string& name) const {
  for (const auto& p : head_patterns())
    if (nn::glob_match(p, name)) return true;
  return false;
}

std::vector<Tensor> Classifier::head_parameters() const {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named_parameters())
    if (is_head_parameter(name) && t.requires_grad()) out.push_back(t);
  return out;
}

std::vector<Tensor> Classifier::body_parameters(bool trainable_only) const {
  std::vector<Tensor> out;
  for (const auto& [name, t] : named_parameters())
    if (!is_head_parameter(name) && (!trainable_only || t.requires_grad())) out.push_back(t);
  return out;
}

void Classifier::freeze_batchnorm(bool all) {
  for (const auto& [name, m] : named_modules())
    if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      const bool frozen = !bn->weight.defined() || !bn->weight.requires_grad();
      if (all || frozen) bn->set_mode(nn::BatchNormMode::Frozen);
    }
}

void reset_linear_like(Tensor weight, Tensor bias, Generator* gen) {
  NoGradGuard no_grad;
  nn::init::kaiming_uniform_(weight, std::sqrt(5.0), nn::init::FanMode::In, gen);
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(double(nn::init::fans(weight).first));
    nn::init::uniform_(bias, -bound, bound, gen);
  }
}

void reset_batchnorm(Tensor weight, Tensor bias, Tensor mean, Tensor var) {
  NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1.0);
  if (bias.defined()) bias.fill_(0.0);
  if (mean.defined()) mean.fill_(0.0);
  if (var.defined()) var.fill_(1.0);
}

void Classifier::reset_parameters(Generator* gen) {
  for (const auto& [name, m] : named_modules()) {
    if (auto* c = dynamic_cast<nn::Conv2d*>(m)) reset_linear_like(c->weight, c->bias, gen);
    else if (auto* l = dynamic_cast<nn::Linear*>(m)) reset_linear_like(l->weight, l->bias, gen);
    else if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) {
      reset_batchnorm(bn->weight, bn->bias, bn->running_mean, bn->running_var);
      if (bn->num_batches_tracked.defined()) bn->num_batches_tracked.fill_(0.0);
    }
  }
}

}  // namespace hone::models
