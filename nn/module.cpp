#include "nn/module.h"

#include <functional>
#include <iomanip>
#include <set>
#include <sstream>

#include "autograd/grad_mode.h"

namespace hone::nn {

bool glob_match(const std::string& pattern, const std::string& name) {
  // Iterative wildcard match with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {
// Per-thread trace of module outputs while summary() runs a forward.
thread_local std::map<const Module*, Shape>* t_trace = nullptr;
}  // namespace

bool Module::summarizing() { return t_trace != nullptr; }

Tensor Module::operator()(const Tensor& x) {
  Tensor y = forward(x);
  if (t_trace && y.defined()) (*t_trace)[this] = y.shape();
  return y;
}

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  HONE_CHECK(!name.empty() && name.find('.') == std::string::npos, type_, ": bad parameter name '", name, "'");
  for (auto& [n, _] : params_) HONE_CHECK(n != name, type_, ": parameter '", name, "' registered twice");
  if (t.defined() && !t.requires_grad()) t.set_requires_grad(true);
  params_.emplace_back(name, t);
  return t;
}

Tensor Module::register_buffer(const std::string& name, Tensor t) {
  HONE_CHECK(!name.empty() && name.find('.') == std::string::npos, type_, ": bad buffer name '", name, "'");
  buffers_.emplace_back(name, t);
  return t;
}

void Module::unregister_tensor(const std::string& name) {
  std::erase_if(params_, [&](const auto& p) { return p.first == name; });
  std::erase_if(buffers_, [&](const auto& p) { return p.first == name; });
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  HONE_CHECK(m != nullptr, type_, ": child '", name, "' is null");
  HONE_CHECK(!name.empty() && name.find('.') == std::string::npos, type_, ": bad child name '", name, "'");
  for (auto& [n, _] : children_) HONE_CHECK(n != name, type_, ": child '", name, "' registered twice");
  children_.emplace_back(name, std::move(m));
}

void Module::collect(const std::string& prefix, bool params, std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : params ? params_ : buffers_)
    if (t.defined()) out.emplace_back(prefix + n, t);
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", params, out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", true, out);
  return out;
}

std::vector<std::pair<std::string, Tensor>> Module::named_buffers() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", false, out);
  return out;
}

std::vector<Tensor> Module::parameters(const std::string& pattern) const {
  std::vector<Tensor> out;
  for (auto& [n, t] : named_parameters())
    if (glob_match(pattern, n)) out.push_back(t);
  return out;
}

std::vector<std::pair<std::string, Module*>> Module::named_modules() const {
  std::vector<std::pair<std::string, Module*>> out;
  std::function<void(const std::string&, const Module&)> walk = [&](const std::string& prefix, const Module& m) {
    out.emplace_back(prefix, const_cast<Module*>(&m));
    for (const auto& [n, c] : m.children_) walk(prefix.empty() ? n : prefix + "." + n, *c);
  };
  walk("", *this);
  return out;
}

Module& Module::module(const std::string& dotted) const {
  const Module* m = this;
  std::string done;
  std::istringstream parts(dotted);
  std::string part;
  while (std::getline(parts, part, '.')) {
    const Module* next = nullptr;
    for (const auto& [n, c] : m->children_)
      if (n == part) next = c.get();
    HONE_CHECK(next != nullptr, "module '", dotted, "': ", done.empty() ? type_ : done, " has no child '", part, "'");
    m = next;
    done += (done.empty() ? "" : ".") + part;
  }
  return const_cast<Module&>(*m);
}

void Module::replace_module(const std::string& dotted, std::shared_ptr<Module> replacement) {
  HONE_CHECK(replacement != nullptr, "replace_module: replacement for '", dotted, "' is null");
  const size_t dot = dotted.rfind('.');
  Module& parent = dot == std::string::npos ? *this : module(dotted.substr(0, dot));
  const std::string leaf = dot == std::string::npos ? dotted : dotted.substr(dot + 1);
  for (auto& [n, c] : parent.children_)
    if (n == leaf) {
      c = replacement;
      return;
    }
  fail("replace_module: no module named '", dotted, "'");
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [_, c] : children_) c->train(on);
}

void Module::freeze(const std::vector<std::string>& patterns) {
  for (auto& [n, t] : named_parameters())
    for (const auto& p : patterns)
      if (glob_match(p, n)) {
        t.set_requires_grad(false);
        t.set_grad(Tensor());
      }
}

void Module::unfreeze(const std::vector<std::string>& patterns) {
  for (auto& [n, t] : named_parameters())
    for (const auto& p : patterns)
      if (glob_match(p, n)) t.set_requires_grad(true);
}

void Module::freeze_through(const std::string& child) {
  bool found = false;
  for (const auto& [n, _] : children_) found = found || n == child;
  HONE_CHECK(found, "freeze_through: ", type_, " has no top-level child '", child, "'");
  for (const auto& [n, _] : children_) {
    freeze({n + ".*"});
    if (n == child) break;
  }
}

Module::ParameterCount Module::count_parameters() const {
  ParameterCount c;
  for (auto& [_, t] : named_parameters()) {
    c.total += t.numel();
    if (t.requires_grad()) c.trainable += t.numel();
  }
  return c;
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, t] : named_parameters()) out[n] = t;
  for (auto& [n, t] : named_buffers()) out[n] = t;
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> mine = state_dict();
  std::vector<std::string> missing, unexpected, mismatched;
  for (auto& [n, t] : mine) {
    auto it = state.find(n);
    if (it == state.end()) missing.push_back(n);
    else if (it->second.shape() != t.shape())
      mismatched.push_back(n + " (expected " + shape_str(t.shape()) + ", got " + shape_str(it->second.shape()) + ")");
  }
  for (auto& [n, _] : state)
    if (!mine.count(n)) unexpected.push_back(n);
  if (strict && (!missing.empty() || !unexpected.empty() || !mismatched.empty())) {
    std::ostringstream os;
    os << "load_state_dict (" << type_ << "): ";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      os << v.size() << ' ' << what << ":";
      for (const auto& s : v) os << ' ' << s << ';';
      os << ' ';
    };
    list("missing", missing);
    list("unexpected", unexpected);
    list("wrongly shaped", mismatched);
    fail(os.str());
  }
  NoGradGuard no_grad;
  for (auto& [n, t] : mine) {
    auto it = state.find(n);
    if (it == state.end() || it->second.shape() != t.shape()) continue;
    Tensor dst = t;
    dst.copy_(it->second);
  }
}

void Module::to(Device device) {
  auto move = [&](Tensor& t) {
    if (!t.defined() || t.device() == device) return;
    Tensor moved = raw::to_device(t, device);
    TensorImpl* impl = t.unsafe_impl();  // every handle to this parameter sees the move
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    if (impl->autograd) impl->autograd->grad = Tensor();
  };
  for (auto& [_, t] : params_) move(t);
  for (auto& [_, t] : buffers_) move(t);
  for (auto& [_, c] : children_) c->to(device);
}

std::string Module::summary(const Shape& input_shape) {
  std::map<const Module*, Shape> trace;
  const bool was_training = training_;
  {
    NoGradGuard no_grad;
    eval();
    t_trace = &trace;
    try {
      (*this)(zeros(input_shape));
    } catch (...) {
      t_trace = nullptr;
      train(was_training);
      throw;
    }
    t_trace = nullptr;
    train(was_training);
  }
  std::ostringstream os;
  os << std::left << std::setw(28) << "layer" << std::setw(20) << "type" << std::setw(20) << "output" << std::right
     << std::setw(12) << "params" << "  state\n";
  for (auto& [name, m] : named_modules()) {
    if (name.empty() || !m->children().empty()) continue;  // leaves only
    int64_t n = 0;
    bool trainable = false, any = false;
    for (auto& [_, p] : m->params_)
      if (p.defined()) {
        n += p.numel();
        any = true;
        trainable = trainable || p.requires_grad();
      }
    auto it = trace.find(m);
    os << std::left << std::setw(28) << name << std::setw(20) << m->type_name() << std::setw(20)
       << (it == trace.end() ? std::string("-") : shape_str(it->second)) << std::right << std::setw(12) << n << "  "
       << (any ? (trainable ? "trainable" : "frozen") : "") << "\n";
  }
  const ParameterCount c = count_parameters();
  os << "parameters: " << c.total << " total, " << c.trainable << " trainable, " << c.total - c.trainable << " frozen\n";
  return os.str();
}

}  // namespace hone::nn
