#pragma once
// The fine-tuning recipe behind `hone finetune` (and `hone demo`): a pretrained network
// from an ONNX file (or a built-in architecture), a new head for the data's classes, one
// of four strategies, a training loop with validation, checkpoints that resume bit for bit,
// and a run directory a person can read:
//   config.json      every setting, the preprocessing, class names, seed, hone version
//   metrics.csv      per epoch: train loss/acc, val loss/acc, lr, seconds, data wait, training img/s
//   curves.svg       loss and accuracy curves
//   confusion.csv/.svg   the best model on the validation set
//   best.safetensors, last.safetensors, model.onnx (best epoch, preprocessing and class
//   names in its metadata)
//   old-task.onnx    with an option that keeps the old task (tools/continual_finetune.h):
//                    the network with its original head, as the old task runs now
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "io/transforms.h"
#include "models/classifier.h"

namespace hone::tools {

struct FinetuneConfig {
  std::string model = "resnet18";  // an ONNX file or a built-in architecture
  std::string data;                // image folder (class subfolders), or one with train/ and val/
  std::string val;                 // validation folder; empty: data/val if present, else val_split
  double val_split = 0.2;
  // feature-extract | partial:STAGE | full | scratch
  std::string strategy = "full";
  int64_t epochs = 10, batch_size = 32, accumulate = 1;
  double lr = 0.01, head_lr_mult = 10, momentum = 0.9, weight_decay = 1e-4;
  std::string optimizer = "sgd";   // sgd | adam | adamw
  std::string schedule = "cosine"; // cosine | step | plateau | onecycle | constant
  double warmup = 0;               // epochs of linear warm-up (cosine)
  int64_t early_stopping = 0;      // patience in epochs on val accuracy; 0: off
  double dropout = 0;              // before the head
  std::string bn = "auto";         // train | frozen | auto (frozen when batch_size < 8)
  std::string augment = "default"; // default (random resized crop + flip) | none
  std::string device = "cpu";
  int64_t threads = 0, workers = 2;
  uint64_t seed = 0;
  std::string out = "runs/finetune";
  std::string cache_dir;           // feature cache; empty: $XDG_CACHE_HOME/hone or ~/.cache/hone
  bool resume = false;             // continue the run in `out` from last.safetensors
  bool progress = true;            // a live bar when stderr is a terminal
  bool verbose = true;             // per-epoch lines on stdout
  bool keep_best = true;           // end with the best epoch's weights (false: the last epoch's)

  // Set by programs (the demo) instead of files: the network, the data, the preprocessing.
  std::shared_ptr<models::Classifier> net;
  std::shared_ptr<const io::Dataset> train_set, val_set;
  std::optional<io::TransformOptions> transform;  // eval form; training adds augmentation
  std::string model_hash;          // names `net` in the feature cache key (its weights are hashed too)

  // Keeping the old task (the pretrained head's classes). Any of these keeps the old head.
  std::string old_data;        // --old-data DIR: the old task's labelled images, one subfolder per old class; DIR/train + DIR/val or --val-split as for --data. Scored before and after; EWC's Fisher and --joint's batches come from its training part
  double lwf = 0;              // --lwf LAMBDA: Learning without Forgetting, distillation weight (0: off)
  double lwf_temperature = 2;  // --lwf-temperature T
  double ewc = 0;              // --ewc LAMBDA: elastic weight consolidation (needs old data)
  int64_t ewc_samples = 0;     // --ewc-samples N: old-task images for the Fisher (0: all)
  bool joint = false;          // --joint: old-task batches in turn with the new ones (needs old data)
  double packnet = 0;          // --packnet FRACTION in (0,1): prune that fraction of each backbone layer's weights (smallest magnitudes) and train only those for the new task; the old task keeps the rest, bitwise
  bool piggyback = false;      // --piggyback: the backbone stays frozen; learn a binary mask over its weights (+ the new head)
  int64_t packnet_retrain = 0; // --packnet-retrain EPOCHS: after pruning, the old task's kept weights and head retrain on its data (PackNet's recipe; 0: none)
  // Set by programs instead of --old-data (the demo):
  std::shared_ptr<const io::Dataset> old_train_set, old_val_set;
};

struct EpochMetrics {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, lr = 0, seconds = 0, wait_seconds = 0;
  double train_img_per_s = 0;  // training images over the training loop's time alone (no validation, no checkpoints)
  double old_val_acc = -1;  // the old task's accuracy (-1: no old data); a last column of metrics.csv when scored
};

struct FinetuneResult {
  std::vector<EpochMetrics> history;
  int64_t best_epoch = 0;
  double best_val_acc = 0, final_val_acc = 0, seconds = 0;
  double backbone_seconds = 0;      // feature-extract: time the backbone ran (0 on a cache hit)
  double cache_saved_seconds = 0;   // feature-extract: backbone time a cache hit saved
  bool cache_hit = false, interrupted = false, stopped_early = false;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted], best model on val
  std::vector<std::string> classes;
  std::filesystem::path out;
  bool old_task = false;                        // the old head was kept (and old data scored when given)
  double old_acc_before = -1, old_acc_after = -1;  // old-task accuracy on the old validation data (-1: no old data)
  std::vector<std::string> old_classes;
};

// The training loss stopped being finite (a learning rate too high for the model, most
// often): a finding for hyper-parameter search rather than a fault, so it has its own type.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

FinetuneResult finetune(FinetuneConfig config);

// Loads a network for inference: an ONNX file, or a run directory (its model.onnx).
// Fills the preprocessing and class names from the file's metadata, defaulting to
// torchvision's ImageNet evaluation transform.
struct LoadedModel {
  std::shared_ptr<models::Classifier> net;
  io::TransformOptions transform;
  std::vector<std::string> classes;
  std::filesystem::path file;
};
LoadedModel load_for_inference(const std::string& model_or_run_dir);

// An ONNX file rather than a built-in architecture name: "*.onnx", or any existing file.
bool is_model_file(const std::string& model);

// An image folder (io::ImageFolder), plus one line on stderr counting the files it skipped
// (each was already named in a warning): what the commands report on the data they read.
std::shared_ptr<io::ImageFolder> open_image_folder(const std::filesystem::path& dir);

// Ctrl-C during finetune finishes the current step, writes last.safetensors and returns
// with interrupted set; install_interrupt_handler() arms it (the command line calls it).
void install_interrupt_handler();

}  // namespace hone::tools
