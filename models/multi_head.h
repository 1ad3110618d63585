#pragma once
// One backbone, several heads: what joint (multi-task) training, Learning without
// Forgetting (the old head kept beside the new one) and PackNet/Piggyback (a head per task)
// share. The wrapped Classifier keeps its own head as the first task's; every other task gets
// a Linear head on the same features, registered as "heads.<task>", so state_dict,
// checkpoints, freezing patterns and optimizers see every head by name:
//   net.fc.weight            the first task's head (the network's own)
//   heads.fashion.weight     a later task's head
// Joint training alternates batches of each task through forward(task, x); a step on one
// task leaves the other heads without gradients, so the optimizers skip them.
#include <memory>
#include <string>
#include <vector>

#include "models/classifier.h"

namespace hone::models {

class MultiHead : public nn::Module {
 public:
  // `net`'s own head becomes task `first_task`.
  MultiHead(std::shared_ptr<Classifier> net, const std::string& first_task);

  // A new Linear head (PyTorch's default init) for `task` with `num_classes` outputs, on the
  // backbone's features and device. Throws for an existing or malformed name (letters,
  // digits, '_' and '-').
  void add_head(const std::string& task, int64_t num_classes, Generator* gen = nullptr);

  Tensor forward_features(const Tensor& x) { return net_->forward_features(x); }
  Tensor forward_head(const std::string& task, const Tensor& features);
  Tensor forward(const std::string& task, const Tensor& x) { return forward_head(task, forward_features(x)); }
  Tensor forward(const Tensor& x) override { return forward(tasks_.front(), x); }  // the first task

  const std::vector<std::string>& tasks() const { return tasks_; }
  int64_t num_classes(const std::string& task) const;
  // The trainable parameters of one task's head, and of the shared backbone (all of its
  // parameters with trainable_only false).
  std::vector<Tensor> head_parameters(const std::string& task) const;
  std::vector<Tensor> backbone_parameters(bool trainable_only = true) const;
  Classifier& network() { return *net_; }

 private:
  void check_task(const std::string& task, const char* what) const;
  std::shared_ptr<Classifier> net_;
  std::vector<std::string> tasks_;
};

}  // namespace hone::models
