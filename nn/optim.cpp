// The optimizers' updates follow torch.optim 1.13 line by line (its _single_tensor_sgd,
// _single_tensor_adam and _single_tensor_adamw), including the order of the in-place
// operations, so results match PyTorch to rounding. Each parameter's update is one fused
// kernel (kernels/optim.h) reached through the dispatch point, so it runs on whatever
// device has one; tests/optim_fused_test.cpp holds it bitwise to the tensor-op version.
#include "nn/optim.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "nn/module.h"

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

// Counts are saved as float64: past 2^53 they are no longer exact, far past it no int64
// holds them (casting 1e30 would be undefined behaviour).
constexpr double kMaxCount = 9007199254740992.0;

bool is_count(double v) { return v >= 0 && v <= kMaxCount && v == std::floor(v); }

// "a, b, c" of at most 8 names, then how many more.
std::string name_list(const std::vector<std::string>& names) {
  constexpr size_t kShown = 8;
  std::string out;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kShown) out += " and " + std::to_string(names.size() - kShown) + " more";
  return out;
}

// What the fused update kernels read: the gradient in the parameter's dtype, device and
// shape, contiguous (a strided one is copied); the parameter itself contiguous, since it is
// written through one pointer. `who` names the parameter, only when something is wrong.
template <typename Who>
Tensor fused_grad(const char* kind, const Tensor& p, const Tensor& grad, Who&& who) {
  HONE_CHECK(p.is_contiguous(), kind, ".step: parameter ", who(), " is not contiguous (strides ", p.strides(),
             "); the fused update writes it through one pointer: make the parameter contiguous before building "
             "the optimizer");
  HONE_CHECK(grad.dtype() == p.dtype() && grad.device() == p.device() && grad.shape() == p.shape(), kind,
             ".step: the gradient of parameter ", who(), " is ", dtype_name(grad.dtype()), " ", grad.shape(), " on ",
             grad.device(), " but the parameter is ", dtype_name(p.dtype()), " ", p.shape(), " on ", p.device());
  return grad.is_contiguous() ? grad : raw::contiguous(grad);
}

// A state buffer as the fused kernels read it: the parameter's dtype, device and shape,
// contiguous (a state made on another device, or loaded oddly, is refused, not converted).
template <typename Who>
void check_buffer(const char* kind, const Tensor& p, const Tensor& buf, const char* name, Who&& who) {
  HONE_CHECK(buf.dtype() == p.dtype() && buf.device() == p.device() && buf.shape() == p.shape() && buf.is_contiguous(),
             kind, ".step: the ", name, " of parameter ", who(), " is ", dtype_name(buf.dtype()), " ", buf.shape(),
             buf.is_contiguous() ? "" : " (strided)", " on ", buf.device(), " but the parameter is ",
             dtype_name(p.dtype()), " ", p.shape(), " on ", p.device(),
             " (moved after its state was made? move the optimizer state with it, or start it afresh)");
}

bool is_mask_dtype(DType t) { return t == DType::UInt8 || t == DType::Bool; }

template <typename Who>
void check_mask(const char* op, const Tensor& p, const Tensor& mask, Who&& who) {
  HONE_CHECK(mask.defined(), op, ": the mask of parameter ", who(), " is an undefined tensor (clear_mask removes one)");
  HONE_CHECK(is_mask_dtype(mask.dtype()), op, ": the mask of parameter ", who(), " has dtype ", dtype_name(mask.dtype()),
             "; a mask is uint8 (0 or 1) or bool, one byte per element");
  HONE_CHECK(mask.shape() == p.shape(), op, ": the mask of parameter ", who(), " has shape ", mask.shape(),
             " but the parameter has shape ", p.shape());
  HONE_CHECK(mask.device() == p.device(), op, ": the mask of parameter ", who(), " is on ", mask.device(),
              " but the parameter is on ", p.device(), " (set_mask again with mask.to(device))");
}

// The mask as the kernels read it: nullptr (every element trains) or one byte per element.
template <typename Who>
const uint8_t* mask_data(const char* kind, const Tensor& p, const Tensor& mask, Who&& who) {
  if (!mask.defined()) return nullptr;
  check_mask((std::string(kind) + ".step").c_str(), p, mask, who);
  return static_cast<const uint8_t*>(mask.data_ptr());
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
  // Names key the saved state: each one must be there and tell its parameter apart.
  HONE_CHECK(group.param_names.empty() || group.param_names.size() == group.params.size(), kind_, ": ",
             group.param_names.size(), " param_names for ", group.params.size(), " parameters", where);
  std::set<std::string> names;
  for (const auto& g : groups_) names.insert(g.param_names.begin(), g.param_names.end());
  for (size_t i = 0; i < group.param_names.size(); ++i) {
    const std::string& name = group.param_names[i];
    HONE_CHECK(!name.empty(), kind_, ": parameter ", i, where, " has an empty name");
    HONE_CHECK(names.insert(name).second, kind_, ": the name \"", name, "\" is given to more than one parameter");
  }
}

const std::string& Optimizer::param_name(size_t group, size_t index, const char* needed_by) const {
  const ParamGroup& g = groups_[group];
  HONE_CHECK(index < g.param_names.size(), kind_, ".", needed_by, ": parameter ", index, " of ",
             group_label(g, group), " has no name; build the optimizer from module.named_parameters() or call "
             "name_parameters(module), so that its state is saved and matched by parameter name");
  return g.param_names[index];
}

void Optimizer::name_parameters(const nn::Module& module) {
  std::map<const TensorImpl*, std::string> names;
  for (const auto& [name, t] : module.named_parameters()) names.emplace(t.unsafe_impl(), name);
  std::vector<std::vector<std::string>> found(groups_.size());
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      auto it = names.find(groups_[g].params[i].unsafe_impl());
      HONE_CHECK(it != names.end(), kind_, ".name_parameters: parameter ", i, " of ", group_label(groups_[g], g),
                 " (shape ", groups_[g].params[i].shape(), ") is not a parameter of the ", module.type_name());
      found[g].push_back(it->second);
    }
  for (size_t g = 0; g < groups_.size(); ++g) groups_[g].param_names = std::move(found[g]);
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

std::pair<size_t, size_t> Optimizer::locate(const Tensor& param, const char* op) const {
  HONE_CHECK(param.defined(), kind_, ".", op, ": got an undefined tensor instead of a parameter");
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      if (groups_[g].params[i].unsafe_impl() == param.unsafe_impl()) return {g, i};
  fail(kind_, ".", op, ": the tensor of shape ", param.shape(), " is not a parameter of this optimizer");
}

std::string Optimizer::describe(const Tensor& param) const {
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      if (groups_[g].params[i].unsafe_impl() != param.unsafe_impl()) continue;
      if (i < groups_[g].param_names.size()) return "\"" + groups_[g].param_names[i] + "\"";
      return std::to_string(i) + " of " + group_label(groups_[g], g) + " (shape " + shape_str(param.shape()) + ")";
    }
  return "(not in this optimizer, shape " + shape_str(param.shape()) + ")";
}

void Optimizer::set_mask(const Tensor& param, Tensor mask) {
  const auto [g, i] = locate(param, "set_mask");
  check_mask((std::string(kind_) + ".set_mask").c_str(), param, mask, [&] { return describe(param); });
  state(g, i).mask = raw::contiguous(mask);
}

void Optimizer::clear_mask(const Tensor& param) {
  const auto [g, i] = locate(param, "clear_mask");
  state(g, i).mask = Tensor();
}

Tensor Optimizer::mask(const Tensor& param) const {
  const auto [g, i] = locate(param, "mask");
  return i < state_[g].size() ? state_[g][i].mask : Tensor();
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
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) {
      const std::string prefix = "param." + param_name(g, i, "state_dict") + ".";
      HONE_CHECK(out.emplace(prefix + "group", cpu_scalar(double(g))).second, kind_, ".state_dict: the name \"",
                 groups_[g].param_names[i], "\" is given to more than one parameter");
      if (i >= state_[g].size()) continue;  // appended after the last step: no state yet
      const ParamState& st = state_[g][i];
      if (st.mask.defined()) out[prefix + "mask"] = raw::to_dtype(st.mask, DType::UInt8).to(Device::cpu()).clone();
      if (st.buffers.empty() && (!saves_param_step() || st.step == 0)) continue;
      for (const auto& [name, buf] : st.buffers) out[prefix + name] = buf.clone();
      if (saves_param_step()) out[prefix + "step"] = cpu_scalar(double(st.step));
    }
  return out;
}

Optimizer::CheckedState Optimizer::check_state(const std::map<std::string, Tensor>& state) const {
  const std::string who = std::string(kind_) + ".load_state_dict: ";
  auto number = [&](const std::string& key, const Tensor& value) {
    HONE_CHECK(value.defined() && value.numel() == 1, who, "key \"", key, "\" must hold one number, got ",
               value.defined() ? shape_str(value.shape()) : std::string("an undefined tensor"));
    return value.item<double>();
  };
  auto scalar_value = [&](const std::string& key) {
    auto it = state.find(key);
    HONE_CHECK(it != state.end(), who, "missing key \"", key, "\"");
    return number(key, it->second);
  };
  CheckedState out;
  const double step = scalar_value("step");
  out.lr = scalar_value("lr");
  HONE_CHECK(is_count(step), who, "key \"step\" holds ", step, ", not a count in [0, 2^53]");
  HONE_CHECK(out.lr >= 0 && std::isfinite(out.lr), who, "key \"lr\" holds ", out.lr, ", not a learning rate >= 0");
  out.step = int64_t(step);

  // Sort the keys by parameter name, then match the names with this optimizer's.
  std::map<std::string, std::pair<size_t, size_t>> here;  // name -> (group, index)
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i) here[param_name(g, i, "load_state_dict")] = {g, i};
  std::map<std::string, size_t> saved_group;
  std::map<std::string, std::map<std::string, Tensor>> entries;  // name -> field -> value
  for (const auto& [key, value] : state) {
    if (key == "step" || key == "lr") continue;
    HONE_CHECK(key.rfind("group.", 0) != 0, who, "key \"", key, "\" is keyed by position, as hone saved optimizer "
               "state before it used parameter names; positions cannot be matched to parameters safely, so this "
               "state cannot be resumed (start a new run from the saved model weights)");
    const size_t dot = key.rfind('.');
    HONE_CHECK(key.rfind("param.", 0) == 0 && dot > 6 && dot + 1 < key.size(), who, "unknown key \"", key,
               "\" (expected \"step\", \"lr\" or \"param.<parameter name>.<field>\")");
    const std::string name = key.substr(6, dot - 6), field = key.substr(dot + 1);
    if (field == "group") {
      const double g = number(key, value);
      HONE_CHECK(is_count(g), who, "key \"", key, "\" holds ", g, ", not a group index");
      saved_group[name] = size_t(g);
    } else {
      entries[name][field] = value;
    }
  }
  for (const auto& [name, _] : entries)
    HONE_CHECK(saved_group.count(name) || !here.count(name), who, "missing key \"param.", name,
               ".group\" (the parameter's other state is present)");
  std::vector<std::string> only_saved, only_here, moved;
  for (const auto& [name, g] : saved_group) {
    auto it = here.find(name);
    if (it == here.end()) only_saved.push_back(name);
    else if (it->second.first != g)
      moved.push_back(name + " (saved in group " + std::to_string(g) + ", here in " +
                      group_label(groups_[it->second.first], it->second.first) + ")");
  }
  for (const auto& [name, _] : entries)
    if (!saved_group.count(name) && !here.count(name)) only_saved.push_back(name);
  for (const auto& [name, _] : here)
    if (!saved_group.count(name)) only_here.push_back(name);
  if (!only_saved.empty() || !only_here.empty() || !moved.empty()) {
    std::string text;
    auto add = [&](const char* what, const std::vector<std::string>& names) {
      if (!names.empty()) text += "; " + std::to_string(names.size()) + " " + what + ": " + name_list(names);
    };
    add("saved but not in this optimizer", only_saved);
    add("in this optimizer but not saved", only_here);
    add("in another group", moved);
    fail(who, "the state was saved for other parameters than this optimizer's (another freeze pattern or other "
         "parameter groups?)", text);
  }

  const std::vector<std::string> names = buffer_names();
  for (auto& [name, fields] : entries) {
    const auto [g, i] = here.at(name);
    const Tensor& p = groups_[g].params[i];
    // A mask stands alone: it may be saved for a parameter that has no other state yet.
    if (auto mask = fields.find("mask"); mask != fields.end()) {
      const std::string key = "param." + name + ".mask";
      HONE_CHECK(mask->second.defined() && is_mask_dtype(mask->second.dtype()) && mask->second.shape() == p.shape(),
                 who, "key \"", key, "\" must be a uint8 or bool tensor of the parameter's shape ", p.shape(), ", got ",
                 mask->second.defined() ? dtype_name(mask->second.dtype()) + std::string(" ") + shape_str(mask->second.shape())
                                        : std::string("an undefined tensor"));
      out.masks[{g, i}] = mask->second;
      fields.erase(mask);
      if (fields.empty()) continue;
    }
    for (const auto& [field, value] : fields) {
      const std::string key = "param." + name + "." + field;
      const bool is_step = saves_param_step() && field == "step";
      const bool is_buffer = std::find(names.begin(), names.end(), field) != names.end();
      if (!is_step && !is_buffer) {
        std::string known;
        for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
        if (saves_param_step()) known += (known.empty() ? "" : ", ") + std::string("step");
        fail(who, "unknown key \"", key, "\": ", kind_, " with these options keeps ",
             known.empty() ? std::string("no per-parameter state") : known);
      }
      HONE_CHECK(value.defined(), who, "key \"", key, "\" holds an undefined tensor");
      if (is_step) {
        const double s = number(key, value);
        HONE_CHECK(is_count(s), who, "key \"", key, "\" holds ", s, ", not a count in [0, 2^53]");
      } else {
        HONE_CHECK(value.shape() == p.shape(), who, "key \"", key, "\" has shape ", value.shape(),
                   " but the parameter has shape ", p.shape());
      }
    }
    const std::string prefix = "param." + name + ".";
    for (const auto& n : names)
      HONE_CHECK(fields.count(n), who, "missing key \"", prefix + n, "\" (the parameter's other state is present)");
    if (saves_param_step())
      HONE_CHECK(fields.count("step"), who, "missing key \"", prefix + "step", "\" (the parameter's other state is present)");
    out.per_param[{g, i}] = fields;
  }
  return out;
}

void Optimizer::check_state_dict(const std::map<std::string, Tensor>& state) const { check_state(state); }

void Optimizer::load_state_dict(const std::map<std::string, Tensor>& state) {
  // Everything is checked before anything changes, so a bad checkpoint leaves us intact.
  const CheckedState checked = check_state(state);
  NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    std::vector<ParamState> fresh(groups_[g].params.size());
    for (size_t i = 0; i < fresh.size() && i < state_[g].size(); ++i) fresh[i].mask = state_[g][i].mask;
    state_[g] = std::move(fresh);
  }
  for (const auto& [where, saved] : checked.masks) {
    const Tensor& p = groups_[where.first].params[where.second];
    Tensor mask = empty(p.shape(), {.dtype = DType::UInt8, .device = p.device()});
    mask.copy_(saved);
    state_[where.first][where.second].mask = mask;
  }
  for (const auto& [where, entries] : checked.per_param) {
    const Tensor& p = groups_[where.first].params[where.second];
    ParamState& st = state_[where.first][where.second];
    for (const auto& [name, value] : entries) {
      if (name == "step") {
        st.step = int64_t(value.item<double>());
        continue;
      }
      Tensor buf = empty_like(p);  // the parameter's dtype and device; a copy, not an alias
      buf.copy_(value);
      st.buffers[name] = buf;
    }
  }
  step_count_ = checked.step;
  lr_ = checked.lr;
}

// ---------------------------------------------------------------------------------------
// SGD

namespace {
std::vector<ParamGroup> one_group(std::vector<Tensor> params) {
  std::vector<ParamGroup> groups(1);
  groups[0].params = std::move(params);
  return groups;
}
std::vector<ParamGroup> one_group(NamedParameters params) {
  std::vector<ParamGroup> groups(1);
  for (auto& [name, t] : params) {
    groups[0].params.push_back(std::move(t));
    groups[0].param_names.push_back(std::move(name));
  }
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
SGD::SGD(NamedParameters params, SGDOptions opts) : SGD(one_group(std::move(params)), opts) {}

std::vector<std::string> SGD::buffer_names() const {
  if (opts_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void SGD::step() {
  for_each_update([this](Tensor& p, const Tensor& grad_in, ParamState& st, double lr, double wd) {
    auto who = [&] { return describe(p); };
    const Tensor grad = fused_grad(kind_, p, grad_in, who);
    kernels::SgdUpdateArgs a{.dtype = p.dtype(), .n = p.numel(), .param = p.data_ptr(), .grad = grad.data_ptr(),
                             .momentum_buffer = nullptr, .mask = mask_data(kind_, p, st.mask, who), .lr = lr,
                             .weight_decay = wd, .momentum = opts_.momentum, .dampening = opts_.dampening,
                             .nesterov = opts_.nesterov};
    Tensor buf;
    if (opts_.momentum != 0) {
      auto it = st.buffers.find("momentum_buffer");
      if (it == st.buffers.end()) {
        // The first update copies d_p into the buffer, as PyTorch; a masked-out entry is
        // never written, so it starts (and stays) 0.
        buf = a.mask ? zeros_like(p) : empty_like(p);
        a.first_update = true;
        st.buffers.emplace("momentum_buffer", buf);
      } else {
        buf = it->second;
        check_buffer(kind_, p, buf, "momentum_buffer", who);
      }
      a.momentum_buffer = buf.data_ptr();
    }
    detail::run_kernel(detail::kernel_registry().sgd_update, "SGD.step", p.device(), p.dtype(), a);
    p.storage()->bump_version();
    if (buf.defined()) buf.storage()->bump_version();
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
Adam::Adam(NamedParameters params, AdamOptions opts) : Adam(one_group(std::move(params)), opts) {}

namespace {
AdamOptions as_adam(const AdamWOptions& o) {
  return {.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps, .weight_decay = o.weight_decay};
}
}  // namespace

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opts) : Adam(std::move(groups), as_adam(opts), true, "AdamW") {}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions opts) : AdamW(one_group(std::move(params)), opts) {}
AdamW::AdamW(NamedParameters params, AdamWOptions opts) : AdamW(one_group(std::move(params)), opts) {}

void Adam::step() {
  for_each_update([this](Tensor& p, const Tensor& grad_in, ParamState& st, double lr, double wd) {
    auto who = [&] { return describe(p); };
    const Tensor grad = fused_grad(kind_, p, grad_in, who);
    const uint8_t* mask = mask_data(kind_, p, st.mask, who);
    auto m_it = st.buffers.find("exp_avg");
    if (m_it == st.buffers.end()) {
      m_it = st.buffers.emplace("exp_avg", zeros_like(p)).first;
      st.buffers["exp_avg_sq"] = zeros_like(p);
    }
    Tensor& m = m_it->second;
    Tensor& v = st.buffers.at("exp_avg_sq");
    check_buffer(kind_, p, m, "exp_avg", who);
    check_buffer(kind_, p, v, "exp_avg_sq", who);
    ++st.step;
    const kernels::AdamUpdateArgs a{.dtype = p.dtype(), .n = p.numel(), .param = p.data_ptr(),
                                    .grad = grad.data_ptr(), .exp_avg = m.data_ptr(), .exp_avg_sq = v.data_ptr(),
                                    .mask = mask, .lr = lr, .weight_decay = wd, .beta1 = opts_.beta1,
                                    .beta2 = opts_.beta2, .eps = opts_.eps, .step = st.step, .decoupled = decoupled_};
    detail::run_kernel(detail::kernel_registry().adam_update, decoupled_ ? "AdamW.step" : "Adam.step", p.device(),
                       p.dtype(), a);
    for (const Tensor* t : {&p, &m, &v}) t->storage()->bump_version();
  });
}

// ---------------------------------------------------------------------------------------
// Gradient clipping

Tensor clip_grad_norm_(const std::vector<Tensor>& params, double max_norm) {
  HONE_CHECK(max_norm >= 0, "clip_grad_norm: max_norm must be >= 0, got ", max_norm);
  NoGradGuard no_grad;
  std::vector<Tensor> grads;  // the gradients as the kernels read them: contiguous
  std::vector<Tensor> strided;  // grads[i]'s tensor when it had to be copied, else undefined
  for (const Tensor& p : params) {
    Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined()) continue;
    HONE_CHECK(grads.empty() || g.device() == grads[0].device(), "clip_grad_norm: the gradients are on ",
               grads[0].device(), " and ", g.device(), " (shape ", g.shape(), "); clip each device's on its own");
    grads.push_back(g.is_contiguous() ? g : raw::contiguous(g));
    strided.push_back(g.is_contiguous() ? Tensor() : g);
  }
  if (grads.empty()) return zeros({}, {.dtype = DType::Float64, .device = Device::cpu()});
  const Device device = grads[0].device();
  // The first gradient's sum starts the total: no fill (a host round trip on CUDA).
  Tensor total = empty({}, {.dtype = DType::Float64, .device = device});
  double* total_data = static_cast<double*>(total.data_ptr());
  const auto& registry = detail::kernel_registry();
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    detail::run_kernel(registry.sum_of_squares, "clip_grad_norm", device, g.dtype(),
                       kernels::SumOfSquaresArgs{g.dtype(), g.numel(), g.data_ptr(), total_data, i > 0});
  }
  for (size_t i = 0; i < grads.size(); ++i) {
    const Tensor& g = grads[i];
    detail::run_kernel(registry.clip_scale, "clip_grad_norm", device, g.dtype(),
                       kernels::ClipScaleArgs{g.dtype(), g.numel(), g.data_ptr(), total_data, max_norm});
    if (strided[i].defined()) raw::copy(strided[i], g);
    (strided[i].defined() ? strided[i] : g).storage()->bump_version();
  }
  return sqrt(total);
}

Tensor clip_grad_norm_(const Optimizer& opt, double max_norm) {
  std::vector<Tensor> all;
  for (const auto& g : opt.groups()) all.insert(all.end(), g.params.begin(), g.params.end());
  return clip_grad_norm_(all, max_norm);
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  return clip_grad_norm_(params, max_norm).item<double>();
}

double clip_grad_norm(const Optimizer& opt, double max_norm) { return clip_grad_norm_(opt, max_norm).item<double>(); }

}  // namespace hone::optim
