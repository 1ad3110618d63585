// The optimizers' updates follow torch.optim 1.13 line by line (its _single_tensor_sgd,
// _single_tensor_adam and _single_tensor_adamw), including the order of the in-place
// operations, so results match PyTorch to rounding. They are written with tensor ops, so
// they run wherever those ops run.
#include "nn/optim.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"

namespace hone::optim {

namespace {

Tensor cpu_scalar(double v) { return scalar_tensor(v, {.dtype = DType::Float64, .device = Device::cpu()}); }

std::string group_label(const ParamGroup& g, size_t index) {
  return "group " + std::to_string(index) + (g.name.empty() ? "" : " (\"" + g.name + "\")");
}

// A finite, non-negative hyper-parameter (NaN fails too).
void check_non_negative(const char* kind, const char* what, double v, const std::string& where = "") {
  HONE_CHECK(v >= 0 && std::isfinite(v), kind, ": invalid ", what, " ", v, where, " (must be a finite value >= 0)");
}

// Sum of squares of every element, accumulated in double in storage order.
double sum_of_squares(const Tensor& g) {
  if (g.numel() == 0) return 0;
  if (g.device().is_cpu() && (g.dtype() == DType::Float32 || g.dtype() == DType::Float64)) {
    Tensor c = raw::contiguous(g);
    double s = 0;
    if (c.dtype() == DType::Float32) {
      const float* p = c.data<float>();
      for (int64_t i = 0; i < c.numel(); ++i) s += double(p[i]) * double(p[i]);
    } else {
      const double* p = c.data<double>();
      for (int64_t i = 0; i < c.numel(); ++i) s += p[i] * p[i];
    }
    return s;
  }
  Tensor d = g.to(DType::Float64);
  return (d * d).sum().item<double>();
}

// Parses "group.G.param.I.name"; false when the key has another form.
bool parse_param_key(const std::string& key, size_t& g, size_t& i, std::string& name) {
  auto number = [&](size_t& pos, size_t& out) {
    const char* begin = key.data() + pos;
    auto [end, ec] = std::from_chars(begin, key.data() + key.size(), out);
    if (ec != std::errc() || end == begin) return false;
    pos += size_t(end - begin);
    return true;
  };
  auto literal = [&](size_t& pos, const std::string& text) {
    if (key.compare(pos, text.size(), text) != 0) return false;
    pos += text.size();
    return true;
  };
  size_t pos = 0;
  if (!literal(pos, "group.") || !number(pos, g) || !literal(pos, ".param.") || !number(pos, i) || !literal(pos, "."))
    return false;
  name = key.substr(pos);
  return !name.empty();
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Optimizer

Optimizer::~Optimizer() = default;

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double weight_decay, const char* kind)
    : kind_(kind), lr_(lr), initial_lr_(lr), weight_decay_(weight_decay) {
  check_non_negative(kind, "learning rate", lr);
  check_non_negative(kind, "weight_decay", weight_decay);
  size_t count = 0;
  for (auto& g : groups) {
    count += g.params.size();
    add_param_group(std::move(g));
  }
  // An empty list is almost always a pattern that matched nothing; say so now rather
  // than train nothing quietly.
  HONE_CHECK(count > 0, kind, ": got no parameters (", groups_.size(),
             " groups, all empty); check the parameter name patterns passed to parameters()");
}

void Optimizer::check_group(const ParamGroup& group, size_t index) const {
  const std::string where = " in " + group_label(group, index);
  check_non_negative(kind_, "lr_mult", group.lr_mult, where);
  check_non_negative(kind_, "decay_mult", group.decay_mult, where);
  if (group.lr) check_non_negative(kind_, "learning rate", *group.lr, where);
  if (group.weight_decay) check_non_negative(kind_, "weight_decay", *group.weight_decay, where);
  std::set<const TensorImpl*> seen;
  for (const auto& g : groups_)
    for (const Tensor& p : g.params) seen.insert(p.unsafe_impl());
  for (size_t i = 0; i < group.params.size(); ++i) {
    const Tensor& p = group.params[i];
    HONE_CHECK(p.defined(), kind_, ": parameter ", i, where, " is an undefined tensor");
    HONE_CHECK(is_floating(p.dtype()), kind_, ": parameter ", i, where, " has dtype ", dtype_name(p.dtype()),
               "; only floating-point tensors can be optimized");
    HONE_CHECK(seen.insert(p.unsafe_impl()).second, kind_, ": parameter ", i, where, " (shape ", p.shape(),
               ") appears more than once across the parameter groups");
  }
}

void Optimizer::add_param_group(ParamGroup group) {
  check_group(group, groups_.size());
  state_.emplace_back(group.params.size());
  groups_.push_back(std::move(group));
}

void Optimizer::zero_grad(bool set_to_none) {
  NoGradGuard no_grad;
  for (auto& g : groups_)
    for (Tensor& p : g.params) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (set_to_none) p.set_grad(Tensor());
      else grad.zero_();
    }
}

void Optimizer::set_lr(double base_lr) {
  check_non_negative(kind_, "learning rate", base_lr);
  lr_ = base_lr;
}

double Optimizer::group_lr(size_t group) const {
  const ParamGroup& g = groups_.at(group);
  // A group's own lr moves with the base lr in proportion, so schedules reach it too.
  const double base = g.lr ? *g.lr * (initial_lr_ > 0 ? lr_ / initial_lr_ : 1.0) : lr_;
  return base * g.lr_mult;
}

double Optimizer::group_weight_decay(size_t group) const {
  const ParamGroup& g = groups_.at(group);
  return (g.weight_decay ? *g.weight_decay : weight_decay_) * g.decay_mult;
}

ParamState& Optimizer::state(size_t group, size_t index) {
  // Parameters appended to a group after construction get fresh state here.
  if (state_[group].size() < groups_[group].params.size()) state_[group].resize(groups_[group].params.size());
  return state_[group][index];
}

std::map<std::string, Tensor> Optimizer::state_dict() const {
  NoGradGuard no_grad;
  std::map<std::string, Tensor> out;
  out["step"] = cpu_scalar(double(step_count_));
  out["lr"] = cpu_scalar(lr_);
  for (size_t g = 0; g < state_.size(); ++g)
    for (size_t i = 0; i < state_[g].size(); ++i) {
      const ParamState& st = state_[g][i];
      if (st.buffers.empty() && (!saves_param_step() || st.step == 0)) continue;
      const std::string prefix = "group." + std::to_string(g) + ".param." + std::to_string(i) + ".";
      for (const auto& [name, buf] : st.buffers) out[prefix + name] = buf.clone();
      if (saves_param_step()) out[prefix + "step"] = cpu_scalar(double(st.step));
    }
  return out;
}

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  const std::string who = std::string(kind_) + ".load_state_dict: ";
  auto scalar_value = [&](const std::string& key) {
    auto it = state.find(key);
    HONE_CHECK(it != state.end(), who, "missing key \"", key, "\"");
    HONE_CHECK(it->second.defined() && it->second.numel() == 1, who, "key \"", key, "\" must hold one number");
    return it->second.item<double>();
  };
  const double step = scalar_value("step"), lr = scalar_value("lr");
  HONE_CHECK(step >= 0 && step == std::floor(step), who, "key \"step\" holds ", step, ", not a count");
  HONE_CHECK(lr >= 0 && std::isfinite(lr), who, "key \"lr\" holds ", lr, ", not a learning rate >= 0");

  // Check every key before changing anything, so a bad checkpoint leaves us intact.
  const std::vector<std::string> names = buffer_names();
  std::map<std::pair<size_t, size_t>, std::map<std::string, Tensor>> per_param;
  for (const auto& [key, value] : state) {
    if (key == "step" || key == "lr") continue;
    size_t g = 0, i = 0;
    std::string name;
    HONE_CHECK(parse_param_key(key, g, i, name), who, "unknown key \"", key,
               "\" (expected \"step\", \"lr\" or \"group.G.param.I.<buffer>\")");
    HONE_CHECK(g < groups_.size(), who, "key \"", key, "\" names group ", g, " but this optimizer has ",
               groups_.size(), " groups");
    HONE_CHECK(i < groups_[g].params.size(), who, "key \"", key, "\" names parameter ", i, " but ",
               group_label(groups_[g], g), " has ", groups_[g].params.size(), " parameters");
    const bool is_step = saves_param_step() && name == "step";
    const bool is_buffer = std::find(names.begin(), names.end(), name) != names.end();
    if (!is_step && !is_buffer) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      if (saves_param_step()) known += (known.empty() ? "" : ", ") + std::string("step");
      fail(who, "unknown key \"", key, "\": ", kind_, " with these options keeps ",
           known.empty() ? std::string("no per-parameter state") : known);
    }
    HONE_CHECK(value.defined(), who, "key \"", key, "\" holds an undefined tensor");
    const Tensor& p = groups_[g].params[i];
    if (is_step) {
      HONE_CHECK(value.numel() == 1, who, "key \"", key, "\" must hold one number, got shape ", value.shape());
      const double s = value.item<double>();
      HONE_CHECK(s >= 0 && s == std::floor(s), who, "key \"", key, "\" holds ", s, ", not a count");
    } else {
      HONE_CHECK(value.shape() == p.shape(), who, "key \"", key, "\" has shape ", value.shape(),
                 " but the parameter has shape ", p.shape());
    }
    per_param[{g, i}][name] = value;
  }
  for (const auto& [where, entries] : per_param) {
    const std::string prefix = "group." + std::to_string(where.first) + ".param." + std::to_string(where.second) + ".";
    for (const auto& n : names)
      HONE_CHECK(entries.count(n), who, "missing key \"", prefix + n, "\" (the parameter's other state is present)");
    if (saves_param_step())
      HONE_CHECK(entries.count("step"), who, "missing key \"", prefix + "step", "\" (the parameter's other state is present)");
  }

  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) state_[g].assign(groups_[g].params.size(), ParamState{});
  for (const auto& [where, entries] : per_param) {
    const Tensor& p = groups_[where.first].params[where.second];
    ParamState& st = state_[where.first][where.second];
    for (const auto& [name, value] : entries) {
      if (name == "step" && saves_param_step()) {
        st.step = int64_t(value.item<double>());
        continue;
      }
      Tensor buf = empty_like(p);  // the parameter's dtype and device; a copy, not an alias
      buf.copy_(value);
      st.buffers[name] = buf;
    }
  }
  step_count_ = int64_t(step);
  lr_ = lr;
}

// ---------------------------------------------------------------------------------------
// SGD

namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups(1);
  groups[0].params = std::move(params);
  return groups;
}
}  // namespace

SGD::SGD(std::vector<ParamGroup> groups, SGDOptions opts)
    : Optimizer(std::move(groups), opts.lr, opts.weight_decay, "SGD"), opts_(opts) {
  check_non_negative("SGD", "momentum", opts.momentum);
  HONE_CHECK(std::isfinite(opts.dampening), "SGD: invalid dampening ", opts.dampening);
  HONE_CHECK(!opts.nesterov || (opts.momentum > 0 && opts.dampening == 0),
             "SGD: Nesterov momentum requires a momentum > 0 and zero dampening (got momentum ", opts.momentum,
             ", dampening ", opts.dampening, ")");
}

SGD::SGD(std::vector<Tensor> params, SGDOptions opts) : SGD(one_group(std::move(params)), opts) {}

std::vector<std::string> SGD::buffer_names() const {
  if (opts_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void SGD::step() {
  for_each_update([this](Tensor& p, const Tensor& grad, ParamState& st, double lr, double wd) {
    Tensor d_p = wd != 0 ? add(grad, p, wd) : grad;
    if (opts_.momentum != 0) {
      auto it = st.buffers.find("momentum_buffer");
      if (it == st.buffers.end()) {
        it = st.buffers.emplace("momentum_buffer", d_p.clone()).first;  // the first gradient, as PyTorch
      } else {
        it->second.mul_(opts_.momentum).add_(d_p, 1 - opts_.dampening);
      }
      d_p = opts_.nesterov ? add(d_p, it->second, opts_.momentum) : it->second;
    }
    p.add_(d_p, -lr);
    ++st.step;
  });
}

// ---------------------------------------------------------------------------------------
// Adam, AdamW

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts, bool decoupled, const char* kind)
    : Optimizer(std::move(groups), opts.lr, opts.weight_decay, kind), opts_(opts), decoupled_(decoupled) {
  check_non_negative(kind, "eps", opts.eps);
  HONE_CHECK(opts.beta1 >= 0 && opts.beta1 < 1, kind, ": invalid beta1 ", opts.beta1, " (must be in [0, 1))");
  HONE_CHECK(opts.beta2 >= 0 && opts.beta2 < 1, kind, ": invalid beta2 ", opts.beta2, " (must be in [0, 1))");
}

Adam::Adam(std::vector<ParamGroup> groups, AdamOptions opts) : Adam(std::move(groups), opts, false, "Adam") {}
Adam::Adam(std::vector<Tensor> params, AdamOptions opts) : Adam(one_group(std::move(params)), opts) {}

namespace {
AdamOptions as_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay};
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : Adam(std::move(groups), as_adam(opts), true, "AdamW") {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions opts) : AdamW(one_group(std::move(params)), opts) {}

void Adam::step() {
  for_each_update([this](Tensor& p, const Tensor& grad_in, ParamState& st, double lr, double wd) {
    const double b1 = opts_.beta1, b2 = opts_.beta2;
    Tensor grad = grad_in;
    auto m_it = st.buffers.find("exp_avg");
    if (m_it == st.buffers.end()) {
      m_it = st.buffers.emplace("exp_avg", zeros_like(p)).first;
      st.buffers["exp_avg_sq"] = zeros_like(p);
    }
    Tensor& m = m_it->second;
    Tensor& v = st.buffers.at("exp_avg_sq");
    ++st.step;
    if (decoupled_) {
      if (lr * wd != 0) p.mul_(1 - lr * wd);  // multiplying by 1 would change nothing
    } else if (wd != 0) {
      grad = add(grad, p, wd);
    }
    m.mul_(b1).add_(grad, 1 - b1);
    v.mul_(b2).add_(grad * grad, 1 - b2);
    const double step = double(st.step);
    const double bias_correction1 = 1 - std::pow(b1, step);
    const double bias_correction2 = 1 - std::pow(b2, step);
    const double step_size = lr / bias_correction1;
    Tensor denom = sqrt(v) / std::sqrt(bias_correction2);
    denom.add_(opts_.eps);
    p.add_(m / denom, -step_size);
  });
}

// ---------------------------------------------------------------------------------------
// Gradient clipping

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  HONE_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  double sum = 0;
  for (const Tensor& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (g.defined()) sum += sum_of_squares(g);
  }
  const double norm = std::sqrt(sum);
  const double coef = max_norm / (norm + 1e-6);
  if (coef < 1.0 || std::isnan(coef)) {  // PyTorch clamps the coefficient at 1 (nan stays nan)
    for (const Tensor& p : params) {
      Tensor g = p.defined() ? p.grad() : Tensor();
      if (g.defined()) g.mul_(coef);
    }
  }
  return norm;
}

double clip_grad_norm(const Optimizer& opt, double max_norm) {
  std::vector<Tensor> all;
  for (const auto& g : opt.groups()) all.insert(all.end(), g.params.begin(), g.params.end());
  return clip_grad_norm(all, max_norm);
}

}  // namespace hone::optim
