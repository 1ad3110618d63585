#pragma once
// Learning-rate schedules and early stopping. Each schedule gives the same numbers as its
// torch.optim.lr_scheduler twin in PyTorch 1.13 (closed forms of its recursive updates).
//
// A schedule counts its own steps, as PyTorch's last_epoch: lr_at(0) is the rate before
// the first schedule.step(), lr_at(k) the rate after k of them. It sets the optimizer's
// base lr (groups keep their lr_mult), and holds no reference to the optimizer:
//
//   optim::CosineWithWarmup sched(0.01, /*warmup_steps=*/100, /*total_steps=*/5000);
//   optim::SGD opt(groups, {.lr = sched.lr(), .momentum = 0.9});   // or sched.apply(opt)
//   for (...) { loss.backward(); opt.step(); opt.zero_grad(); sched.step(opt); }
//
// state_dict() maps names to 0-d float64 CPU tensors, like Optimizer::state_dict(), so a
// checkpoint stores them the same way; load_state_dict throws hone::Error naming a
// missing or bad key, and changes nothing then. check_state_dict makes the same checks
// and never changes anything (a checkpoint checks every part before it loads any).
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/optim.h"

namespace hone::optim {

// Whether a smaller (loss) or a larger (accuracy) metric is better.
enum class Mode { Min, Max };

class LRSchedule {
 public:
  virtual ~LRSchedule();
  // The base learning rate after `step` schedule steps (step >= 0).
  virtual double lr_at(int64_t step) const = 0;

  int64_t step_count() const { return step_count_; }
  double lr() const { return lr_at(step_count_); }
  // Sets the optimizer's base lr to lr() without advancing (before training starts).
  void apply(Optimizer& opt) const { opt.set_lr(lr()); }
  // Advances one step and sets the optimizer's base lr to the new rate.
  void step(Optimizer& opt);

  std::map<std::string, Tensor> state_dict() const;  // {"step"}
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;

 protected:
  LRSchedule() = default;

 private:
  int64_t step_count_ = 0;
};

// base_lr * gamma^floor(step / step_size)  (torch StepLR)
class StepLR : public LRSchedule {
 public:
  StepLR(double base_lr, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
  int64_t step_size_;
};

// base_lr * gamma^(number of milestones <= step); a milestone listed twice counts twice
// (torch MultiStepLR).
class MultiStepLR : public LRSchedule {
 public:
  MultiStepLR(double base_lr, std::vector<int64_t> milestones, double gamma = 0.1);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
  std::vector<int64_t> milestones_;  // sorted
};

// base_lr * gamma^step  (torch ExponentialLR)
class ExponentialLR : public LRSchedule {
 public:
  ExponentialLR(double base_lr, double gamma);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, gamma_;
};

// Linear warm-up from base_lr * warmup_start_factor (step 0) to base_lr (step
// warmup_steps), then cosine annealing to min_lr at total_steps, then min_lr. Equals
// torch SequentialLR([LinearLR(start_factor, total_iters=warmup_steps),
// CosineAnnealingLR(T_max=total_steps - warmup_steps, eta_min=min_lr)], [warmup_steps])
// up to total_steps (PyTorch's cosine would rise again after it).
class CosineWithWarmup : public LRSchedule {
 public:
  CosineWithWarmup(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0,
                   double warmup_start_factor = 0);
  double lr_at(int64_t step) const override;

 private:
  double base_lr_, min_lr_, start_factor_;
  int64_t warmup_steps_, total_steps_;
};

// torch OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy='cos', div_factor,
// final_div_factor, three_phase=False), learning rate only (no momentum cycling): cosine
// from max_lr/div_factor up to max_lr over the first pct_start of the steps, then cosine
// down to max_lr/div_factor/final_div_factor. Exact up to step total_steps (where
// PyTorch stops); later steps hold the final rate.
class OneCycle : public LRSchedule {
 public:
  OneCycle(double max_lr, int64_t total_steps, double pct_start = 0.3, double div_factor = 25,
           double final_div_factor = 1e4);
  double lr_at(int64_t step) const override;

 private:
  double max_lr_, initial_lr_, min_lr_;
  double warmup_end_;  // pct_start * total_steps - 1, as PyTorch (a float)
  int64_t total_steps_;
};

enum class ThresholdMode { Rel, Abs };

struct PlateauOptions {
  Mode mode = Mode::Min;
  double factor = 0.1;    // new lr = lr * factor
  int64_t patience = 10;  // bad steps tolerated; the next one lowers the lr
  double threshold = 1e-4;
  ThresholdMode threshold_mode = ThresholdMode::Rel;  // Rel: better than best*(1 -/+ threshold)
  int64_t cooldown = 0;   // steps after a reduction during which bad steps are not counted
  double min_lr = 0;      // floor for the base lr
  double eps = 1e-8;      // reductions smaller than this are skipped
};

// torch ReduceLROnPlateau: lowers the optimizer's base lr when the metric has not
// improved for more than `patience` steps. Call step() once per evaluation.
class ReduceOnPlateau {
 public:
  explicit ReduceOnPlateau(PlateauOptions opts = {});
  // Feeds one metric; returns true when it lowered the learning rate.
  bool step(Optimizer& opt, double metric);

  double best() const { return best_; }
  int64_t bad_steps() const { return bad_steps_; }
  int64_t cooldown_counter() const { return cooldown_counter_; }
  int64_t step_count() const { return step_count_; }
  const PlateauOptions& options() const { return opts_; }

  // {"step", "best", "bad_steps", "cooldown_counter"}
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;

 private:
  bool is_better(double a, double best) const;

  PlateauOptions opts_;
  double best_;
  int64_t bad_steps_ = 0, cooldown_counter_ = 0, step_count_ = 0;
};

// Stops training once the metric has gone `patience` updates in a row without improving
// by more than min_delta on the best seen (PyTorch Lightning's EarlyStopping rule).
class EarlyStopping {
 public:
  explicit EarlyStopping(Mode mode = Mode::Min, int64_t patience = 10, double min_delta = 0);
  // Feeds one metric; returns true when training should stop. A nan metric never improves.
  bool update(double metric);

  bool should_stop() const { return bad_steps_ > 0 && bad_steps_ >= patience_; }
  bool improved() const { return step_count_ > 0 && best_step_ == step_count_ - 1; }  // on the last update
  double best() const { return best_; }
  int64_t best_step() const { return best_step_; }  // 0-based update index; -1 before any
  int64_t bad_steps() const { return bad_steps_; }
  int64_t step_count() const { return step_count_; }

  // {"step", "best", "best_step", "bad_steps"}
  std::map<std::string, Tensor> state_dict() const;
  void load_state_dict(const std::map<std::string, Tensor>& state);
  void check_state_dict(const std::map<std::string, Tensor>& state) const;

 private:
  Mode mode_;
  int64_t patience_;
  double min_delta_;
  double best_;
  int64_t best_step_ = -1, bad_steps_ = 0, step_count_ = 0;
};

}  // namespace hone::optim
