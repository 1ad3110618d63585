#include "models/multi_head.h"

#include <algorithm>

#include "nn/layers.h"

namespace hone::models {

namespace {

// Holds the heads by task name; never run as a whole.
class Heads : public nn::Module {
 public:
  Heads() : Module("Heads") {}
  Tensor forward(const Tensor&) override { fail("Heads: call MultiHead::forward(task, x), not the heads container"); }
  void add(const std::string& task, std::shared_ptr<nn::Linear> head) { register_module(task, std::move(head)); }
};

bool valid_name(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

}  // namespace

MultiHead::MultiHead(std::shared_ptr<Classifier> net, const std::string& first_task)
    : Module("MultiHead"), net_(std::move(net)) {
  HONE_CHECK(net_, "MultiHead: no network");
  HONE_CHECK(valid_name(first_task), "MultiHead: task name '", first_task, "' must be letters, digits, '_' or '-'");
  register_module("net", net_);
  register_module("heads", std::make_shared<Heads>());
  tasks_.push_back(first_task);
}

void MultiHead::add_head(const std::string& task, int64_t num_classes, Generator* gen) {
  HONE_CHECK(valid_name(task), "MultiHead: task name '", task, "' must be letters, digits, '_' or '-'");
  HONE_CHECK(std::find(tasks_.begin(), tasks_.end(), task) == tasks_.end(), "MultiHead: task '", task,
             "' already has a head");
  HONE_CHECK(num_classes > 0, "MultiHead: task '", task, "' needs at least one class, got ", num_classes);
  auto head = std::make_shared<nn::Linear>(net_->feature_dim(), num_classes, true, gen);
  // On the backbone's device (a head added after the model moved).
  const auto params = net_->named_parameters();
  if (!params.empty()) head->to(params.front().second.device());
  static_cast<Heads&>(module("heads")).add(task, std::move(head));
  tasks_.push_back(task);
}

void MultiHead::check_task(const std::string& task, const char* what) const {
  if (std::find(tasks_.begin(), tasks_.end(), task) != tasks_.end()) return;
  std::string known;
  for (const auto& t : tasks_) known += (known.empty() ? "" : ", ") + t;
  fail("MultiHead.", what, ": no task '", task, "' (tasks: ", known, ")");
}

Tensor MultiHead::forward_head(const std::string& task, const Tensor& features) {
  check_task(task, "forward");
  if (task == tasks_.front()) return net_->forward_head(features);
  return module("heads." + task)(features);
}

int64_t MultiHead::num_classes(const std::string& task) const {
  check_task(task, "num_classes");
  if (task == tasks_.front()) return net_->num_classes();
  return static_cast<const nn::Linear&>(module("heads." + task)).out_features();
}

std::vector<Tensor> MultiHead::head_parameters(const std::string& task) const {
  check_task(task, "head_parameters");
  if (task == tasks_.front()) return net_->head_parameters();
  std::vector<Tensor> out;
  for (const Tensor& t : module("heads." + task).parameters())
    if (t.requires_grad()) out.push_back(t);
  return out;
}

std::vector<Tensor> MultiHead::backbone_parameters(bool trainable_only) const {
  return net_->body_parameters(trainable_only);
}

}  // namespace hone::models
