#pragma once
// Keeping the old task while `hone finetune` learns a new one (issue 14). The pretrained
// network's own head is the old task; fine-tuning gives the network a new head for the
// data's classes, and with any of the options below the old head is kept beside it
// (models::MultiHead: the new head is the network's own, task "new"; the old one is
// heads.old), so the old task stays usable and is exported as old-task.onnx:
//   --old-data       the old task's images: scored before and after (and per epoch)
//   --lwf            Learning without Forgetting: distil the original network's old-head
//                    outputs on each new batch (nn::distillation_loss)
//   --ewc            Elastic Weight Consolidation: a Fisher-weighted pull towards the
//                    original weights (nn::ElasticWeightConsolidation)
//   --joint          an old-task batch through the old head with every new one
//   --packnet F      the pretrained weights are task 1; prune F of each backbone layer,
//                    train only those (nn::PackNet); the old task runs under task 1's mask
//   --piggyback      frozen backbone, a learnt binary mask over its weights (nn::Piggyback)
// The loop (tools/finetune.cpp) calls the hooks of OldTask at a few places; everything
// technique-specific lives here.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "io/onnx/export.h"
#include "io/transforms.h"
#include "models/classifier.h"
#include "models/multi_head.h"
#include "nn/optim.h"
#include "tools/finetune.h"

namespace hone::nn {
class Linear;
class PackNet;
class Piggyback;
class ElasticWeightConsolidation;
}  // namespace hone::nn
namespace hone::io {
class DataLoader;
}

namespace hone::tools {

// Any option that keeps the old head.
bool keeps_old_task(const FinetuneConfig& c);
// The options alone: ranges and combinations, a hone::Error naming the flag.
void check_continual_config(const FinetuneConfig& c);

class OldTask {
 public:
  // Before replace_head: copies the network's head (the old task's), finds the old classes
  // (the model's metadata, else the old data's folders) and opens the old data.
  OldTask(const FinetuneConfig& cfg, std::shared_ptr<models::Classifier> net, const io::TransformOptions& tf);
  ~OldTask();

  // After replace_head and the strategy's freezing, before the model moves to `device`:
  // keeps the old head beside the new one, freezes what the technique freezes.
  void attach();
  // What checkpoints hold: the network and both heads (names "net.*", "heads.old.*").
  nn::Module& model();
  // The old head at the body's lr (LwF, joint); Piggyback's scores at the head's, without
  // weight decay.
  void add_param_groups(std::vector<optim::ParamGroup>& groups, double head_lr_mult) const;
  // After the model moved and the optimizer exists: scores the old task (unless resuming),
  // estimates EWC's Fisher, prunes for PackNet and masks the optimizer.
  void prepare(optim::Optimizer& opt, Device device, bool resuming);

  // The training forward's scope (Piggyback's masks, differentiable in the scores) and the
  // evaluation's (the binary masks); null when nothing needs one. Keep it alive across the
  // forward and the backward.
  std::shared_ptr<void> train_scope();
  std::shared_ptr<void> eval_scope();
  // At the start of each step, before the training forward: LwF's recording of the
  // original network on the batch (x: images, or cached features when `features`).
  void begin_step(const Tensor& x, bool features);
  // What each batch adds to the new task's loss; f the features the new head trained on.
  Tensor extra_loss(const Tensor& f);

  // Old-task accuracy as the old task runs now (PackNet: under task 1's mask), -1 without
  // old data.
  double score();
  bool has_data() const { return old_val_ != nullptr; }
  const std::vector<std::string>& classes() const { return classes_; }
  double acc_before = -1;

  // Loop state for checkpoints: the old task's first score and the joint loader's position.
  std::map<std::string, std::string> extra() const;
  void load_extra(const std::map<std::string, std::string>& extra);
  // The technique state io::CheckpointParts saves and restores (null when off). Piggyback's
  // scores are parameters of model() instead, so the optimizer can name them.
  nn::PackNet* packnet() { return packnet_.get(); }
  nn::ElasticWeightConsolidation* ewc() { return ewc_.get(); }

  // The new task's model.onnx (Piggyback: the masks baked in) and old-task.onnx (the old
  // head, the old task's weights). The network is on the host, in eval mode.
  void export_models(const std::filesystem::path& dir, const io::onnx::ExportOptions& new_task);
  std::string describe() const;  // one line for the run's start

 private:
  void read_head();
  void open_data();
  // The conv/linear weights outside the head (trainable_only: those the strategy trains).
  std::vector<std::string> backbone_weights(bool trainable_only = false) const;
  Tensor original_logits(const Tensor& x, bool features);
  void retrain_old_task();
  void warn_if_ewc_diverges() const;
  Tensor recorded_;

  FinetuneConfig cfg_;
  std::shared_ptr<models::Classifier> net_;
  std::shared_ptr<models::MultiHead> multi_;
  io::TransformOptions tf_;
  std::vector<std::string> classes_;
  std::shared_ptr<const io::Dataset> old_train_, old_val_;
  // The original head as [C, D] + [C] (an ONNX Gemm's transB = 0 stored it [D, C]), a frozen
  // copy for LwF's recording, and the original backbone state (LwF runs it per batch).
  Tensor head_weight_, head_bias_;
  bool head_transposed_ = false;
  std::shared_ptr<nn::Linear> original_head_;
  std::map<std::string, Tensor> original_state_, scratch_;
  std::vector<std::string> head_names_;  // the network's head parameters (the new head's after replace_head)
  std::unique_ptr<nn::ElasticWeightConsolidation> ewc_;
  std::unique_ptr<nn::PackNet> packnet_;
  std::unique_ptr<nn::Piggyback> piggyback_;
  std::unique_ptr<io::DataLoader> joint_;
  int64_t joint_epoch_ = 0, joint_position_ = 0;
  Device device_ = Device::cpu();
};

}  // namespace hone::tools
