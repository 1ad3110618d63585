#include "nn/packnet.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "autograd/grad_mode.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/optim.h"

namespace hone::nn {
namespace {

bool matches_any(const std::vector<std::string>& patterns, const std::string& name) {
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return glob_match(p, name); });
}

bool holds(const optim::Optimizer& opt, const Tensor& p) {
  for (const auto& g : opt.groups())
    for (const auto& q : g.params)
      if (q.is_same(p)) return true;
  return false;
}

// A contiguous host copy of `w` that may be written without touching `w`.
Tensor host_copy(const Tensor& w) { return w.to(Device::cpu()).contiguous().clone(); }

// Writes +0 (all bits zero, in every floating dtype) where keep[i] is false.
void zero_where_not(Tensor& host, const std::vector<bool>& keep) {
  auto* bytes = static_cast<unsigned char*>(host.data_ptr());
  const size_t size = host.element_size();
  for (size_t i = 0; i < keep.size(); ++i)
    if (!keep[i]) std::memset(bytes + i * size, 0, size);
}

}  // namespace

PackNet::PackNet(Module& net, PackNetOptions opts) : net_(&net) {
  std::vector<std::string> patterns = opts.weights;
  if (patterns.empty())
    for (const auto& [name, m] : net.named_modules())
      if (m->type_name() == "Conv2d" || m->type_name() == "Linear") patterns.push_back(name.empty() ? "weight" : name + ".weight");
  for (const auto& [name, p] : net.named_parameters()) {
    if (matches_any(opts.exclude, name)) continue;
    if (!matches_any(patterns, name)) {
      shared_.emplace_back(name, p);
      continue;
    }
    HONE_CHECK(is_floating(p.dtype()), "PackNet: parameter '", name, "' has dtype ", dtype_name(p.dtype()),
               "; only floating weights can be packed");
    packed_.push_back({name, p, zeros(p.shape(), {.dtype = DType::UInt8}), Tensor()});
  }
  HONE_CHECK(!packed_.empty(), "PackNet: no parameter of the module is packed (weights patterns ",
             opts.weights.empty() ? std::string("default: Conv2d and Linear weights") : opts.weights.front() + ", ...",
             ", less the excluded ones)");
}

void PackNet::check_task(int t, const char* op) const {
  HONE_CHECK(t >= 1 && t <= kMaxTasks, "PackNet.", op, ": task ", t, " is not a task number; tasks are 1..", kMaxTasks,
             " (0 marks free weights)");
}

void PackNet::begin_task(int t, optim::Optimizer& opt) {
  check_task(t, "begin_task");
  HONE_CHECK(t == tasks_ || t == tasks_ + 1, "PackNet.begin_task: task ", t, " after ", tasks_,
             " tasks begun; begin the next task (", tasks_ + 1, ") or the current one again");
  if (t == tasks_ + 1) {
    for (auto& p : packed_) {
      auto* o = p.owners.data<uint8_t>();
      for (int64_t i = 0; i < p.owners.numel(); ++i)
        if (o[i] == 0) o[i] = uint8_t(t);
    }
    tasks_ = t;
  }
  refresh_masks();
  for (auto& p : packed_)
    if (holds(opt, p.weight)) opt.set_mask(p.weight, p.mask);
  if (t == 1) return;
  // The shared parameters are task 1's: frozen from now on, running statistics included.
  for (auto& [name, p] : shared_)
    if (holds(opt, p)) opt.set_mask(p, zeros(p.shape(), {.dtype = DType::UInt8, .device = p.device()}));
  for (const auto& [name, m] : net_->named_modules())
    if (auto* bn = dynamic_cast<BatchNorm2d*>(m)) bn->set_mode(BatchNormMode::Frozen);
}

void PackNet::refresh_masks() {
  NoGradGuard no_grad;
  for (auto& p : packed_) {
    Tensor host = zeros(p.weight.shape(), {.dtype = DType::UInt8});
    const auto* o = p.owners.data<uint8_t>();
    auto* m = host.data<uint8_t>();
    for (int64_t i = 0; i < host.numel(); ++i) m[i] = (tasks_ != 0 && o[i] == tasks_) ? 1 : 0;
    // In place, so every optimizer given the mask sees the change; anew after a move.
    if (!p.mask.defined() || p.mask.device() != p.weight.device())
      p.mask = host.to(p.weight.device());
    else
      p.mask.copy_(host);
  }
}

void PackNet::prune(double fraction) {
  HONE_CHECK(fraction >= 0 && fraction < 1, "PackNet.prune: fraction ", fraction,
             " is outside [0, 1): it is the share of the task's weights to free in each layer");
  HONE_CHECK(tasks_ >= 1, "PackNet.prune: no task begun yet (call begin_task first)");
  NoGradGuard no_grad;
  for (auto& p : packed_) {
    auto* o = p.owners.data<uint8_t>();
    std::vector<int64_t> mine;
    for (int64_t i = 0; i < p.owners.numel(); ++i)
      if (o[i] == tasks_) mine.push_back(i);
    const auto keep = static_cast<size_t>(std::llround((1.0 - fraction) * double(mine.size())));
    if (keep == mine.size()) continue;
    Tensor host = host_copy(p.weight);
    const std::vector<double> w = host.to(DType::Float64).to_vector<double>();
    // Largest magnitudes first; equal magnitudes keep the earlier element (stable sort).
    std::stable_sort(mine.begin(), mine.end(), [&](int64_t a, int64_t b) { return std::fabs(w[size_t(a)]) > std::fabs(w[size_t(b)]); });
    std::vector<bool> kept(w.size(), true);
    for (size_t j = keep; j < mine.size(); ++j) kept[size_t(mine[j])] = false, o[mine[j]] = 0;
    zero_where_not(host, kept);
    p.weight.copy_(host);
  }
  refresh_masks();
}

PackNet::TaskScope PackNet::apply_task(int t) {
  check_task(t, "apply_task");
  HONE_CHECK(t <= tasks_, "PackNet.apply_task: task ", t, " has not been begun (", tasks_, " tasks so far)");
  NoGradGuard no_grad;
  TaskScope scope;
  for (auto& p : packed_) {
    const auto* o = p.owners.data<uint8_t>();
    std::vector<bool> keep(size_t(p.owners.numel()));
    bool all = true;
    for (size_t i = 0; i < keep.size(); ++i) keep[i] = o[i] != 0 && o[i] <= t, all = all && keep[i];
    if (all) continue;
    Tensor host = host_copy(p.weight);
    scope.saved_.emplace_back(p.weight, p.weight.clone());
    zero_where_not(host, keep);
    p.weight.copy_(host);
  }
  return scope;
}

PackNet::TaskScope::TaskScope(TaskScope&& other) noexcept : saved_(std::move(other.saved_)) { other.saved_.clear(); }

PackNet::TaskScope::~TaskScope() {
  NoGradGuard no_grad;
  for (auto& [weight, real] : saved_) weight.copy_(real);
}

std::vector<std::string> PackNet::weight_names() const {
  std::vector<std::string> out;
  for (const auto& p : packed_) out.push_back(p.name);
  return out;
}

const PackNet::Packed& PackNet::find(const std::string& name, const char* op) const {
  for (const auto& p : packed_)
    if (p.name == name) return p;
  fail("PackNet.", op, ": '", name, "' is not a packed weight (", packed_.size(), " packed, the first '",
       packed_.front().name, "')");
}

const Tensor& PackNet::owners(const std::string& weight_name) const { return find(weight_name, "owners").owners; }

std::map<std::string, Tensor> PackNet::state_dict() const {
  std::map<std::string, Tensor> out;
  for (const auto& p : packed_) out["packnet." + p.name] = p.owners.clone();
  out["packnet_tasks"] = full({}, double(tasks_), {.dtype = DType::Float64});
  return out;
}

std::pair<int, std::vector<Tensor>> PackNet::checked_state(const std::map<std::string, Tensor>& state) const {
  auto it = state.find("packnet_tasks");
  HONE_CHECK(it != state.end() && it->second.defined() && it->second.numel() == 1,
             "PackNet.load_state_dict: the state has no 'packnet_tasks' (a single number)");
  const double tasks = it->second.to(Device::cpu()).to(DType::Float64).item<double>();
  HONE_CHECK(tasks >= 0 && tasks <= kMaxTasks && tasks == std::floor(tasks), "PackNet.load_state_dict: packnet_tasks ",
             tasks, " is not a task count in 0..", kMaxTasks);
  std::vector<Tensor> loaded;
  for (const auto& p : packed_) {
    const std::string key = "packnet." + p.name;
    auto e = state.find(key);
    HONE_CHECK(e != state.end(), "PackNet.load_state_dict: '", key, "' is missing");
    const Tensor& o = e->second;
    HONE_CHECK(o.defined() && o.dtype() == DType::UInt8 && o.shape() == p.weight.shape(), "PackNet.load_state_dict: '",
               key, "' must be uint8 of shape ", p.weight.shape(), ", got ",
               o.defined() ? dtype_name(o.dtype()) + std::string(" ") + shape_str(o.shape()) : std::string("undefined"));
    Tensor host = o.to(Device::cpu()).contiguous().clone();
    const auto* v = host.data<uint8_t>();
    for (int64_t i = 0; i < host.numel(); ++i)
      HONE_CHECK(v[i] <= tasks, "PackNet.load_state_dict: '", key, "' names task ", int(v[i]), " at element ", i,
                 " but only ", tasks, " tasks were begun");
    loaded.push_back(host);
  }
  for (const auto& [key, value] : state)
    if (key.rfind("packnet.", 0) == 0) find(key.substr(8), "load_state_dict");  // throws on an unknown weight
  return {int(tasks), std::move(loaded)};
}

void PackNet::check_state_dict(const std::map<std::string, Tensor>& state) const { (void)checked_state(state); }

void PackNet::load_state_dict(const std::map<std::string, Tensor>& state) {
  auto [tasks, loaded] = checked_state(state);
  for (size_t i = 0; i < packed_.size(); ++i) packed_[i].owners = loaded[i];
  tasks_ = tasks;
  refresh_masks();
}

}  // namespace hone::nn
