#pragma once
// Keeping the old task while learning a new one: two of the techniques of issue 14.
//
// Learning without Forgetting (Li & Hoiem, 2016). Before training, record the old head's
// logits on the new task's images; while the new head learns the new labels, keep the old
// head's outputs on those images close to the recording:
//   loss = lambda_old * distillation_loss(old_head(x), recorded, T) + cross_entropy(new_head(x), y)
// Costs one more head per step and the recording (N x C_old numbers); needs no old data.
//
// Elastic Weight Consolidation (Kirkpatrick et al., 2017). After the old task, estimate how
// much each weight mattered to it (the diagonal of the Fisher information) and pull the
// weights back towards their old values in proportion while the new task trains:
//   loss = L_new + lambda * sum_i F_i / 2 * (theta_i - theta*_i)^2
// Costs one backward pass per old-task sample for the estimate (once), then two copies of
// the tracked parameters (F and theta*) and a few elementwise ops per step.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "tensor/device.h"
#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace hone::nn {

class Module;

// LwF's old-task loss: the cross-entropy between the recorded responses and the current
// ones, both softened by the temperature T (Li & Hoiem, eq. 2, with Hinton's T):
//   L_old = mean over rows n of  - sum_j softmax(recorded_n / T)_j * log_softmax(logits_n / T)_j
// logits and recorded are [N, C] of one floating dtype and device; the gradient flows to
// logits only (the recording is a constant). Its gradient is (softmax(logits/T) -
// softmax(recorded/T)) / (T N): zero where the outputs still match the recording. It shrinks
// about as 1/T^2 against the new task's loss: a lambda_old of T^2 keeps them comparable
// (Hinton et al.; MultiHead's test measures the old head's drift at lambda 1, 4 and 16).
Tensor distillation_loss(const Tensor& logits, const Tensor& recorded, double temperature = 2.0);

// How EWC's Fisher diagonal labels each sample.
enum class FisherLabels {
  Sampled,    // y drawn from the model's own prediction p(y|x): the true Fisher (the paper's)
  Empirical,  // y the sample's label: the "empirical Fisher", cheaper to reason about
};

struct FisherOptions {
  FisherLabels labels = FisherLabels::Sampled;
  int64_t max_samples = 0;  // 0: every sample the source gives
  uint64_t seed = 0;        // for Sampled labels
};

// One old-task batch: images and labels (labels are read only for Empirical).
using FisherBatch = std::optional<std::pair<Tensor, Tensor>>;

// Elastic Weight Consolidation: F and theta* for every trainable parameter of a module,
// by dotted name, and the penalty that keeps the parameters near theta*.
class ElasticWeightConsolidation {
 public:
  ElasticWeightConsolidation() = default;
  // From saved state (see state_dict): F and theta* per parameter name, same shapes.
  ElasticWeightConsolidation(std::map<std::string, Tensor> fisher, std::map<std::string, Tensor> anchor);

  // Estimates F_i = mean over samples of (d log p(y | x) / d theta_i)^2 one sample at a
  // time (per-sample gradients; batch-norm layers use their running statistics, as in
  // eval()), for every parameter of `net` that requires grad, and takes theta* = the
  // parameters now. `forward` maps images to the old task's logits (e.g. the old head on
  // the backbone); `next` gives batches until it returns nullopt. The module's mode and
  // gradients are restored afterwards. Throws if no sample arrives.
  static ElasticWeightConsolidation estimate(Module& net, const std::function<Tensor(const Tensor&)>& forward,
                                             const std::function<FisherBatch()>& next, const FisherOptions& opts = {});

  // sum_i F_i / 2 * (theta_i - theta*_i)^2 over the tracked parameters of `net` (found by
  // name; a tracked name the module lacks, or a shape that differs, is a hone::Error).
  // Differentiable in the parameters; multiply by lambda and add to the new task's loss.
  // F and theta* must be on the parameters' device (see to()).
  Tensor penalty(const Module& net) const;
  // Moves F and theta* to `device` (once, after the model moved: not a copy per step).
  void to(Device device);

  int64_t samples() const { return samples_; }
  const std::map<std::string, Tensor>& fisher() const { return fisher_; }
  const std::map<std::string, Tensor>& anchor() const { return anchor_; }
  // "fisher.<name>" and "anchor.<name>" for every tracked parameter and "samples" (0-d;
  // optional on load, 0 when absent), for checkpoints (io::CheckpointParts::ewc).
  std::map<std::string, Tensor> state_dict() const;
  static ElasticWeightConsolidation from_state_dict(const std::map<std::string, Tensor>& state);
  // Replaces F, theta* and the sample count with the state's, all or nothing.
  void load_state_dict(const std::map<std::string, Tensor>& state) { *this = from_state_dict(state); }

 private:
  std::map<std::string, Tensor> fisher_, anchor_;
  int64_t samples_ = 0;
};

}  // namespace hone::nn
