#pragma once
// Training checkpoints: everything needed to resume exactly where a run stopped, in one
// safetensors file (so Python's safetensors can read the weights): the model's state_dict
// under "model.", optimizer state under "optimizer.", schedule, plateau and early-stopping
// state under "schedule.", "plateau." and "early_stopping.", the continual-learning state
// under "packnet." (and "packnet_tasks"), "piggyback." and "ewc.", and the loop position and
// random state in the metadata. Written through save_safetensors, so a crash, a kill or a
// full disk never corrupts the previous checkpoint.
#include <map>
#include <string>

#include "nn/module.h"
#include "nn/optim.h"
#include "nn/schedule.h"

namespace hone::nn {
class PackNet;
class Piggyback;
class ElasticWeightConsolidation;
}  // namespace hone::nn

namespace hone::io {

struct TrainingState {
  int64_t epoch = 0;
  int64_t step = 0;           // optimizer steps taken
  int64_t data_position = 0;  // samples of the current epoch already consumed
  uint64_t data_seed = 0;     // seed of the epoch's sample order
  uint64_t rng_seed = 0;      // the generator that drives dropout / augmentation
  uint64_t rng_offset = 0;
  std::map<std::string, std::string> extra;  // free-form (class names, preprocessing, ...)
};

// What to save or restore; parts left null are skipped. With both a model and an
// optimizer, the optimizer's parameters are named after the model's (name_parameters), so
// its state is saved and matched by name.
struct CheckpointParts {
  nn::Module* model = nullptr;
  optim::Optimizer* optimizer = nullptr;
  optim::LRSchedule* schedule = nullptr;
  optim::EarlyStopping* early_stopping = nullptr;
  optim::ReduceOnPlateau* plateau = nullptr;
  // Continual learning (nn/packnet.h, nn/piggyback.h, nn/continual.h), each under its own
  // keys: PackNet's owner per packed weight (they are every task's mask: task t keeps
  // owner != 0 && owner <= t) and its task count; after loading, call
  // packnet->begin_task(packnet->tasks(), *optimizer) to train on (it re-links the
  // optimizer's masks and re-freezes batch norm). Piggyback's real-valued scores, copied
  // into the existing ones. EWC's Fisher diagonal and anchor, replacing the object's; with
  // a model, each tracked name must be a model parameter of its shape and dtype, and the
  // loaded tensors move to the parameters' device.
  nn::PackNet* packnet = nullptr;
  nn::Piggyback* piggyback = nullptr;
  nn::ElasticWeightConsolidation* ewc = nullptr;
};

void save_checkpoint(const std::string& path, const CheckpointParts& parts, const TrainingState& state);

// Restores every non-null part and returns the saved training state. Strict and all or
// nothing: a part missing from the file, an entry that does not fit (an optimizer state
// saved for other parameters included), or a negative or malformed epoch, step or data
// position is a hone::Error naming the file and the entry, and then no part has changed.
TrainingState load_checkpoint(const std::string& path, const CheckpointParts& parts);

}  // namespace hone::io
