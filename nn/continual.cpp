#include "nn/continual.h"

#include <cmath>
#include <vector>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/nn.h"
#include "nn/module.h"

namespace hone::nn {

Tensor distillation_loss(const Tensor& logits, const Tensor& recorded, double temperature) {
  HONE_CHECK(logits.defined() && recorded.defined(), "distillation_loss: logits and recorded must be defined");
  HONE_CHECK(logits.dim() == 2 && logits.shape() == recorded.shape(), "distillation_loss: logits ", logits.shape(),
             " and the recorded old-head outputs ", recorded.shape(), " must both be [N, C] of one shape");
  HONE_CHECK(is_floating(logits.dtype()) && logits.dtype() == recorded.dtype(), "distillation_loss: logits (",
             dtype_name(logits.dtype()), ") and recorded (", dtype_name(recorded.dtype()), ") must be one floating dtype");
  HONE_CHECK(logits.device() == recorded.device(), "distillation_loss: logits on ", logits.device().str(),
             ", recorded on ", recorded.device().str());
  HONE_CHECK(temperature > 0 && std::isfinite(temperature), "distillation_loss: temperature must be > 0, got ", temperature);
  HONE_CHECK(logits.size(0) > 0, "distillation_loss: no rows");
  const Tensor target = softmax(recorded.detach() * (1.0 / temperature), 1);
  const Tensor log_prob = log_softmax(logits * (1.0 / temperature), 1);
  return -sum(target * log_prob) * (1.0 / double(logits.size(0)));
}

ElasticWeightConsolidation::ElasticWeightConsolidation(std::map<std::string, Tensor> fisher,
                                                       std::map<std::string, Tensor> anchor)
    : fisher_(std::move(fisher)), anchor_(std::move(anchor)) {
  HONE_CHECK(fisher_.size() == anchor_.size(), "ElasticWeightConsolidation: ", fisher_.size(), " Fisher diagonals for ",
             anchor_.size(), " anchor parameters");
  for (const auto& [name, f] : fisher_) {
    auto it = anchor_.find(name);
    HONE_CHECK(it != anchor_.end(), "ElasticWeightConsolidation: parameter '", name, "' has a Fisher diagonal but no anchor");
    HONE_CHECK(f.defined() && it->second.defined() && f.shape() == it->second.shape(), "ElasticWeightConsolidation: '",
               name, "': Fisher ", f.defined() ? shape_str(f.shape()) : "undefined", " and anchor ",
               it->second.defined() ? shape_str(it->second.shape()) : "undefined", " differ in shape");
    HONE_CHECK(is_floating(f.dtype()) && f.dtype() == it->second.dtype(), "ElasticWeightConsolidation: '", name,
               "': Fisher (", dtype_name(f.dtype()), ") and anchor (", dtype_name(it->second.dtype()),
               ") must be one floating dtype");
  }
}

ElasticWeightConsolidation ElasticWeightConsolidation::estimate(Module& net,
                                                                const std::function<Tensor(const Tensor&)>& forward,
                                                                const std::function<FisherBatch()>& next,
                                                                const FisherOptions& opts) {
  HONE_CHECK(opts.max_samples >= 0, "EWC: max_samples must be >= 0, got ", opts.max_samples);
  std::vector<std::pair<std::string, Tensor>> tracked;
  for (auto& [name, p] : net.named_parameters())
    if (p.requires_grad()) tracked.emplace_back(name, p);
  HONE_CHECK(!tracked.empty(), "EWC: the module has no trainable parameter to track");
  // Gradients and mode are the caller's: keep them aside and put them back.
  const bool was_training = net.is_training();
  std::vector<Tensor> saved_grads;
  for (auto& [name, p] : tracked) saved_grads.push_back(p.grad()), p.set_grad(Tensor());
  std::map<std::string, Tensor> fisher;
  for (auto& [name, p] : tracked) {
    NoGradGuard ng;
    fisher[name] = zeros_like(p);
  }
  net.eval();  // per-sample passes: batch statistics of one sample would be meaningless
  Generator gen(opts.seed);
  int64_t count = 0;
  auto restore = [&] {
    for (size_t i = 0; i < tracked.size(); ++i) tracked[i].second.set_grad(saved_grads[i]);
    net.train(was_training);
  };
  try {
    while (opts.max_samples == 0 || count < opts.max_samples) {
      FisherBatch b = next();
      if (!b) break;
      const Tensor& x = b->first;
      HONE_CHECK(x.defined() && x.dim() >= 1, "EWC: a batch's images must be [N, ...]");
      for (int64_t i = 0; i < x.size(0) && (opts.max_samples == 0 || count < opts.max_samples); ++i) {
        const Tensor logits = forward(x.narrow(0, i, 1));
        HONE_CHECK(logits.dim() == 2 && logits.size(0) == 1, "EWC: forward must give [1, C] logits per sample, got ",
                   logits.shape());
        int64_t y = 0;
        if (opts.labels == FisherLabels::Empirical) {
          HONE_CHECK(b->second.defined() && b->second.numel() == x.size(0), "EWC: empirical Fisher needs one label per image");
          y = b->second.to_vector<int64_t>()[size_t(i)];
        } else {
          // y ~ p(y | x): the first class whose cumulative probability passes a uniform draw.
          std::vector<double> p;
          {
            NoGradGuard ng;
            p = softmax(logits, 1).to_vector<double>();
          }
          const double u = uniform({1}, 0.0, 1.0, {.dtype = DType::Float64}, &gen).item<double>();
          double c = 0;
          y = int64_t(p.size()) - 1;
          for (size_t k = 0; k < p.size(); ++k)
            if ((c += p[k]) > u) {
              y = int64_t(k);
              break;
            }
        }
        // -log p(y | x): its gradient squared is the sample's Fisher contribution.
        const Tensor target = from_vector<int64_t>({y}, {1}).to(logits.device());
        for (auto& [name, p] : tracked) p.set_grad(Tensor());
        cross_entropy(logits, target).backward();
        NoGradGuard ng;
        for (auto& [name, p] : tracked)
          if (p.grad().defined()) fisher[name].add_(p.grad() * p.grad());
        ++count;
      }
    }
  } catch (...) {
    restore();
    throw;
  }
  restore();
  HONE_CHECK(count > 0, "EWC: no old-task sample arrived to estimate the Fisher information from");
  std::map<std::string, Tensor> anchor;
  NoGradGuard ng;
  for (auto& [name, p] : tracked) {
    fisher[name].mul_(1.0 / double(count));
    anchor[name] = p.detach().clone();
  }
  ElasticWeightConsolidation ewc(std::move(fisher), std::move(anchor));
  ewc.samples_ = count;
  return ewc;
}

Tensor ElasticWeightConsolidation::penalty(const Module& net) const {
  HONE_CHECK(!fisher_.empty(), "EWC: penalty() before estimate(): nothing is tracked");
  std::map<std::string, Tensor> params;
  for (auto& [name, p] : net.named_parameters()) params.emplace(name, p);
  Tensor total;
  for (const auto& [name, f] : fisher_) {
    auto it = params.find(name);
    HONE_CHECK(it != params.end(), "EWC: tracked parameter '", name, "' is not a parameter of the ", net.type_name());
    const Tensor& p = it->second;
    HONE_CHECK(p.shape() == f.shape(), "EWC: parameter '", name, "' is ", p.shape(), ", its Fisher diagonal ", f.shape());
    HONE_CHECK(f.device() == p.device(), "EWC: parameter '", name, "' is on ", p.device().str(),
               ", its Fisher diagonal on ", f.device().str(), "; call to(device) once after moving the model");
    const Tensor d = p - anchor_.at(name);
    const Tensor term = sum(f * d * d) * 0.5;
    total = total.defined() ? total + term : term;
  }
  return total;
}

void ElasticWeightConsolidation::to(Device device) {
  for (auto& [name, f] : fisher_) f = f.to(device), anchor_.at(name) = anchor_.at(name).to(device);
}

std::map<std::string, Tensor> ElasticWeightConsolidation::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& [name, f] : fisher_) out["fisher." + name] = f, out["anchor." + name] = anchor_.at(name);
  out["samples"] = full({}, double(samples_), {.dtype = DType::Float64});
  return out;
}

ElasticWeightConsolidation ElasticWeightConsolidation::from_state_dict(const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> fisher, anchor;
  double samples = 0;
  for (const auto& [key, t] : state) {
    if (key.rfind("fisher.", 0) == 0) fisher[key.substr(7)] = t;
    else if (key.rfind("anchor.", 0) == 0) anchor[key.substr(7)] = t;
    else if (key == "samples") {
      HONE_CHECK(t.defined() && t.numel() == 1, "EWC: state key 'samples' must be a single number");
      samples = t.to(Device::cpu()).to(DType::Float64).item<double>();
      HONE_CHECK(samples >= 0 && samples <= 9e15 && samples == std::floor(samples), "EWC: state 'samples' is ", samples,
                 "; it must be a count >= 0");
    } else HONE_CHECK(false, "EWC: unknown state key '", key, "' (expected fisher.<name>, anchor.<name> or samples)");
  }
  ElasticWeightConsolidation ewc(std::move(fisher), std::move(anchor));
  ewc.samples_ = int64_t(samples);
  return ewc;
}

}  // namespace hone::nn
