#include "nn/piggyback.h"

#include <cmath>
#include <sstream>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "nn/layers.h"
#include "nn/module.h"

namespace hone::nn {

Tensor threshold_mask(const Tensor& scores, double threshold) {
  HONE_CHECK(scores.defined(), "threshold_mask: scores must be defined");
  HONE_CHECK(is_floating(scores.dtype()), "threshold_mask: scores ", scores.shape(), " must be floating, got ",
             dtype_name(scores.dtype()));
  HONE_CHECK(std::isfinite(threshold), "threshold_mask: threshold must be finite, got ", threshold);
  const Tensor mask = gt(scores, scalar_like(threshold, scores)).to(scores.dtype());
  // Straight-through: the step function's true gradient is zero almost everywhere, which
  // would never move a score; the paper passes dL/dmask to the scores as it is.
  autograd::record("threshold_mask", {scores}, {mask}, {},
                   [](const auto& g, const auto&, const auto&) { return std::vector<Tensor>{g[0]}; });
  return mask;
}

Piggyback::Piggyback(Module& net, const std::vector<std::string>& patterns, const PiggybackOptions& opts)
    : opts_(opts) {
  HONE_CHECK(std::isfinite(opts.init) && std::isfinite(opts.threshold), "Piggyback: init (", opts.init,
             ") and threshold (", opts.threshold, ") must be finite");
  HONE_CHECK(!patterns.empty(), "Piggyback: no layer patterns given");
  for (auto& [name, m] : net.named_modules()) {
    Tensor* w = nullptr;
    if (auto* c = dynamic_cast<Conv2d*>(m)) w = &c->weight;
    else if (auto* l = dynamic_cast<Linear*>(m)) w = &l->weight;
    if (!w) continue;
    const std::string wname = name.empty() ? "weight" : name + ".weight";
    bool match = false;
    for (const auto& p : patterns) match = match || glob_match(p, wname);
    if (!match) continue;
    HONE_CHECK(w->defined() && is_floating(w->dtype()), "Piggyback: weight '", wname, "' must be a defined floating tensor");
    scores_[wname] = full(w->shape(), opts.init, {.dtype = w->dtype(), .device = w->device()}).set_requires_grad(true);
    slots_[wname] = Slot{w, Tensor()};
  }
  std::string joined;
  for (const auto& p : patterns) joined += (joined.empty() ? "'" : ", '") + p + "'";
  HONE_CHECK(!scores_.empty(), "Piggyback: no Conv2d or Linear weight of the ", net.type_name(), " matches ", joined);
}

Piggyback::Piggyback(const std::vector<std::pair<std::string, Tensor*>>& weights, const PiggybackOptions& opts)
    : opts_(opts) {
  HONE_CHECK(std::isfinite(opts.init) && std::isfinite(opts.threshold), "Piggyback: init (", opts.init,
             ") and threshold (", opts.threshold, ") must be finite");
  HONE_CHECK(!weights.empty(), "Piggyback: no weights given");
  for (const auto& [name, w] : weights) {
    HONE_CHECK(w && w->defined() && is_floating(w->dtype()), "Piggyback: weight '", name, "' must be a defined floating tensor");
    HONE_CHECK(!slots_.count(name), "Piggyback: weight '", name, "' given twice");
    scores_[name] = full(w->shape(), opts.init, {.dtype = w->dtype(), .device = w->device()}).set_requires_grad(true);
    slots_[name] = Slot{w, Tensor()};
  }
}

Piggyback::Scope::Scope(Scope&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }

Piggyback::Scope::~Scope() {
  if (owner_) owner_->restore();
}

void Piggyback::swap_in(const std::map<std::string, Tensor>& masked) {
  for (auto& [name, slot] : slots_) {
    slot.backbone = *slot.handle;
    *slot.handle = masked.at(name);
  }
  active_ = true;
}

void Piggyback::restore() {
  for (auto& [name, slot] : slots_) *slot.handle = std::move(slot.backbone), slot.backbone = Tensor();
  active_ = false;
}

Piggyback::Scope Piggyback::train_scope() {
  HONE_CHECK(!active_, "Piggyback: train_scope while another scope is open (scopes do not nest)");
  std::map<std::string, Tensor> masked;  // all built before any swap: a throw leaves the net as it was
  for (auto& [name, slot] : slots_) {
    const Tensor& w = *slot.handle;
    const Tensor& s = scores_.at(name);
    HONE_CHECK(w.shape() == s.shape(), "Piggyback: weight '", name, "' is ", w.shape(), ", its scores ", s.shape());
    HONE_CHECK(w.device() == s.device(), "Piggyback: weight '", name, "' is on ", w.device().str(), ", its scores on ",
               s.device().str());
    masked[name] = w.detach() * threshold_mask(s, opts_.threshold);
  }
  swap_in(masked);
  return Scope(this);
}

Piggyback::Scope Piggyback::mask_scope(const std::map<std::string, Tensor>& masks) {
  HONE_CHECK(!active_, "Piggyback: mask_scope while another scope is open (scopes do not nest)");
  std::vector<std::string> problems;
  for (auto& [name, slot] : slots_) {
    auto it = masks.find(name);
    if (it == masks.end()) problems.push_back("missing '" + name + "'");
    else if (!it->second.defined() || it->second.dtype() != DType::UInt8)
      problems.push_back("'" + name + "' must be uint8");
    else if (it->second.shape() != slot.handle->shape())
      problems.push_back("'" + name + "' is " + shape_str(it->second.shape()) + ", its weight " +
                         shape_str(slot.handle->shape()));
  }
  for (auto& [name, _] : masks)
    if (!slots_.count(name)) problems.push_back("unexpected '" + name + "'");
  if (!problems.empty()) {
    std::ostringstream os;
    os << "Piggyback: mask_scope:";
    for (const auto& p : problems) os << ' ' << p << ';';
    fail(os.str());
  }
  std::map<std::string, Tensor> masked;
  NoGradGuard ng;  // a stored mask is fixed: nothing to differentiate
  for (auto& [name, slot] : slots_) {
    const Tensor& m = masks.at(name);
    for (uint8_t v : m.to_vector<uint8_t>())
      HONE_CHECK(v <= 1, "Piggyback: mask '", name, "' holds ", int(v), "; a binary mask holds only 0 and 1");
    const Tensor& w = *slot.handle;
    // The same product as train_scope's, of the same values: outputs agree bit for bit.
    masked[name] = w.detach() * m.to(w.device()).to(w.dtype());
  }
  swap_in(masked);
  return Scope(this);
}

std::vector<Tensor> Piggyback::scores() const {
  std::vector<Tensor> out;
  for (auto& [_, s] : scores_) out.push_back(s);
  return out;
}

std::map<std::string, Tensor> Piggyback::masks() const {
  NoGradGuard ng;
  std::map<std::string, Tensor> out;
  for (auto& [name, s] : scores_) out[name] = gt(s, scalar_like(opts_.threshold, s)).to(DType::UInt8);
  return out;
}

std::map<std::string, Tensor> Piggyback::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [name, s] : scores_) out["piggyback." + name] = s;
  return out;
}

void Piggyback::check_state_dict(const std::map<std::string, Tensor>& state) const {
  const std::map<std::string, Tensor> mine = state_dict();
  std::vector<std::string> problems;
  for (auto& [key, s] : mine) {
    auto it = state.find(key);
    if (it == state.end()) problems.push_back("missing '" + key + "'");
    else if (!it->second.defined() || it->second.shape() != s.shape())
      problems.push_back("'" + key + "' is " + (it->second.defined() ? shape_str(it->second.shape()) : "undefined") +
                         ", expected " + shape_str(s.shape()));
    else if (it->second.dtype() != s.dtype())  // copy_ would convert silently
      problems.push_back("'" + key + "' is " + dtype_name(it->second.dtype()) + ", expected " + dtype_name(s.dtype()));
  }
  for (auto& [key, _] : state)
    if (!mine.count(key)) problems.push_back("unexpected '" + key + "'");
  if (!problems.empty()) {
    std::ostringstream os;
    os << "Piggyback: load_state_dict:";
    for (const auto& p : problems) os << ' ' << p << ';';
    fail(os.str());
  }
}

void Piggyback::load_state_dict(const std::map<std::string, Tensor>& state) {
  check_state_dict(state);
  NoGradGuard ng;
  for (auto& [key, s] : state_dict()) {
    Tensor dst = s;
    dst.copy_(state.at(key));
  }
}

}  // namespace hone::nn
