#pragma once
// `hone search`: hyper-parameter search over learning rate, weight decay, batch size, the
// head's learning-rate multiplier and the frozen depth (strategy). Each trial is a short
// fine-tune (trial_epochs) scored by its best validation accuracy (ties: lower val loss);
// the best settings are then re-run in full (epochs). The search folder holds:
//   search.json       the search's settings, written first; a re-run of the same command
//                     resumes from it (a different setting is an error)
//   trials.csv        one row per finished trial: settings, val acc, val loss, seconds
//   trials.svg        each trial's val loss and accuracy, and the best accuracy so far
//   trial-NNN/        each trial's run folder (config.json, metrics.csv, curves; its
//                     weights are removed once it is scored, to spare the disk)
//   best/             the full re-run: a normal run folder with model.onnx
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tools/finetune.h"

namespace hone::tools {

struct SearchConfig {
  // The fixed settings of every fine-tune (model, data, optimizer, schedule, seed, ...); the
  // searched ones, epochs and out are set per trial. base.seed also seeds the search.
  FinetuneConfig base;
  std::string out = "runs/search";
  std::string method = "random";  // random | pso | ga
  int64_t trials = 20, trial_epochs = 2, epochs = 10, population = 6;
  // Ranges LOW:HIGH (lr and weight decay log-uniform, head multiplier uniform), batch
  // sizes and strategies comma-separated. No strategies: feature-extract, partial:STAGE
  // for each of the model's stages (deepest first), full, ordered by frozen depth.
  std::string lr_range = "1e-4:1e-1", wd_range = "1e-6:1e-2", head_lr_mult_range = "1:30", batch_sizes = "8,16,32";
  std::string strategies;
  bool rerun = true;    // re-run the best settings for `epochs` into out/best
  bool restart = false; // discard a search already in `out` instead of resuming it
};

struct Trial {
  int64_t index = 0, generation = 0;  // 1-based; generation 0 for random search
  // The settings as trials.csv prints them (6 significant digits), and as the trial ran.
  std::string lr, weight_decay, batch_size, head_lr_mult, strategy;
  double val_acc = 0, val_loss = 0, seconds = 0;  // a diverged trial: acc 0, loss inf
};

struct SearchResult {
  std::vector<Trial> trials;  // every finished trial, resumed ones included
  size_t best = 0;            // index into trials
  std::optional<FinetuneResult> rerun;
  bool interrupted = false;   // Ctrl-C: the unfinished trial is not recorded
};

SearchResult search(const SearchConfig& config);

}  // namespace hone::tools
