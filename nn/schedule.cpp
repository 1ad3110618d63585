// Schedules as closed forms of step count. PyTorch computes most of them recursively
// (lr *= gamma each step); the closed form gives the same numbers to rounding, needs no
// optimizer to replay, and restores from a checkpoint with one integer.
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace hone::optim {

namespace {

Tensor cpu_scalar(double v) { return scalar_tensor(v, {.dtype = DType::Float64, .device = Device::cpu()}); }

double read_scalar(const std::map<std::string, Tensor>& state, const std::string& key, const char* who) {
  auto it = state.find(key);
  HONE_CHECK(it != state.end(), who, ".load_state_dict: missing key \"", key, "\"");
  HONE_CHECK(it->second.defined() && it->second.numel() == 1, who, ".load_state_dict: key \"", key,
             "\" must hold one number");
  return it->second.item<double>();
}

int64_t read_count(const std::map<std::string, Tensor>& state, const std::string& key, const char* who,
                   int64_t lowest = 0) {
  const double v = read_scalar(state, key, who);
  HONE_CHECK(v >= double(lowest) && v == std::floor(v) && v < 9.0e15, who, ".load_state_dict: key \"", key,
             "\" holds ", v, ", not a count >= ", lowest);
  return int64_t(v);
}

void check_lr(const char* who, const char* what, double v) {
  HONE_CHECK(v >= 0 && std::isfinite(v), who, ": invalid ", what, " ", v, " (must be a finite value >= 0)");
}

void check_step(const char* who, int64_t step) {
  HONE_CHECK(step >= 0, who, ".lr_at: step must be >= 0, got ", step);
}

}  // namespace

// ---------------------------------------------------------------------------------------

LRSchedule::~LRSchedule() = default;

void LRSchedule::step(Optimizer& opt) {
  ++step_count_;
  apply(opt);
}

std::map<std::string, Tensor> LRSchedule::state_dict() const { return {{"step", cpu_scalar(double(step_count_))}}; }

void LRSchedule::load_state_dict(const std::map<std::string, Tensor>& state) {
  step_count_ = read_count(state, "step", "LRSchedule");
}

void LRSchedule::check_state_dict(const std::map<std::string, Tensor>& state) const {
  read_count(state, "step", "LRSchedule");
}

StepLR::StepLR(double base_lr, int64_t step_size, double gamma) : base_lr_(base_lr), gamma_(gamma), step_size_(step_size) {
  check_lr("StepLR", "base_lr", base_lr);
  check_lr("StepLR", "gamma", gamma);
  HONE_CHECK(step_size >= 1, "StepLR: step_size must be >= 1, got ", step_size);
}

double StepLR::lr_at(int64_t step) const {
  check_step("StepLR", step);
  return base_lr_ * std::pow(gamma_, double(step / step_size_));
}

MultiStepLR::MultiStepLR(double base_lr, std::vector<int64_t> milestones, double gamma)
    : base_lr_(base_lr), gamma_(gamma), milestones_(std::move(milestones)) {
  check_lr("MultiStepLR", "base_lr", base_lr);
  check_lr("MultiStepLR", "gamma", gamma);
  for (int64_t m : milestones_) HONE_CHECK(m >= 0, "MultiStepLR: milestones must be >= 0, got ", m);
  std::sort(milestones_.begin(), milestones_.end());
}

double MultiStepLR::lr_at(int64_t step) const {
  check_step("MultiStepLR", step);
  const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), step) - milestones_.begin();
  return base_lr_ * std::pow(gamma_, double(passed));
}

ExponentialLR::ExponentialLR(double base_lr, double gamma) : base_lr_(base_lr), gamma_(gamma) {
  check_lr("ExponentialLR", "base_lr", base_lr);
  check_lr("ExponentialLR", "gamma", gamma);
}

double ExponentialLR::lr_at(int64_t step) const {
  check_step("ExponentialLR", step);
  return base_lr_ * std::pow(gamma_, double(step));
}

CosineWithWarmup::CosineWithWarmup(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr,
                                   double warmup_start_factor)
    : base_lr_(base_lr), min_lr_(min_lr), start_factor_(warmup_start_factor), warmup_steps_(warmup_steps),
      total_steps_(total_steps) {
  check_lr("CosineWithWarmup", "base_lr", base_lr);
  check_lr("CosineWithWarmup", "min_lr", min_lr);
  HONE_CHECK(warmup_start_factor >= 0 && warmup_start_factor <= 1,
             "CosineWithWarmup: warmup_start_factor must be in [0, 1], got ", warmup_start_factor);
  HONE_CHECK(warmup_steps >= 0 && total_steps >= warmup_steps, "CosineWithWarmup: need 0 <= warmup_steps <= ",
             "total_steps, got warmup_steps ", warmup_steps, " and total_steps ", total_steps);
}

double CosineWithWarmup::lr_at(int64_t step) const {
  check_step("CosineWithWarmup", step);
  if (step < warmup_steps_)
    return base_lr_ * (start_factor_ + (1 - start_factor_) * double(step) / double(warmup_steps_));
  if (step >= total_steps_) return min_lr_;
  const double t = double(step - warmup_steps_), t_max = double(total_steps_ - warmup_steps_);
  return min_lr_ + (base_lr_ - min_lr_) * (1 + std::cos(std::numbers::pi * t / t_max)) / 2;
}

OneCycle::OneCycle(double max_lr, int64_t total_steps, double pct_start, double div_factor, double final_div_factor)
    : max_lr_(max_lr), total_steps_(total_steps) {
  check_lr("OneCycle", "max_lr", max_lr);
  HONE_CHECK(total_steps >= 1, "OneCycle: total_steps must be >= 1, got ", total_steps);
  HONE_CHECK(pct_start >= 0 && pct_start <= 1, "OneCycle: pct_start must be in [0, 1], got ", pct_start);
  HONE_CHECK(div_factor > 0 && std::isfinite(div_factor), "OneCycle: div_factor must be > 0, got ", div_factor);
  HONE_CHECK(final_div_factor > 0 && std::isfinite(final_div_factor), "OneCycle: final_div_factor must be > 0, got ",
             final_div_factor);
  initial_lr_ = max_lr / div_factor;
  min_lr_ = initial_lr_ / final_div_factor;
  warmup_end_ = pct_start * double(total_steps) - 1;
}

double OneCycle::lr_at(int64_t step) const {
  check_step("OneCycle", step);
  if (step > total_steps_) return min_lr_;
  auto anneal_cos = [](double start, double end, double pct) {
    return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
  };
  // A phase of zero length counts as finished (PyTorch would divide by zero).
  auto fraction = [](double num, double den) { return den == 0 ? 1.0 : num / den; };
  const double s = double(step), last = double(total_steps_ - 1);
  if (s <= warmup_end_) return anneal_cos(initial_lr_, max_lr_, fraction(s, warmup_end_));
  return anneal_cos(max_lr_, min_lr_, fraction(s - warmup_end_, last - warmup_end_));
}

// ---------------------------------------------------------------------------------------

namespace {
double worst(Mode mode) {
  return mode == Mode::Min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
}
}  // namespace

ReduceOnPlateau::ReduceOnPlateau(PlateauOptions opts) : opts_(opts), best_(worst(opts.mode)) {
  HONE_CHECK(opts.factor >= 0 && opts.factor < 1, "ReduceOnPlateau: factor must be in [0, 1), got ", opts.factor);
  HONE_CHECK(opts.patience >= 0, "ReduceOnPlateau: patience must be >= 0, got ", opts.patience);
  HONE_CHECK(opts.cooldown >= 0, "ReduceOnPlateau: cooldown must be >= 0, got ", opts.cooldown);
  check_lr("ReduceOnPlateau", "threshold", opts.threshold);
  check_lr("ReduceOnPlateau", "min_lr", opts.min_lr);
  check_lr("ReduceOnPlateau", "eps", opts.eps);
}

bool ReduceOnPlateau::is_better(double a, double best) const {
  const bool rel = opts_.threshold_mode == ThresholdMode::Rel;
  if (opts_.mode == Mode::Min) return rel ? a < best * (1. - opts_.threshold) : a < best - opts_.threshold;
  return rel ? a > best * (opts_.threshold + 1.) : a > best + opts_.threshold;
}

bool ReduceOnPlateau::step(Optimizer& opt, double metric) {
  ++step_count_;
  if (is_better(metric, best_)) {
    best_ = metric;
    bad_steps_ = 0;
  } else {
    ++bad_steps_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_steps_ = 0;  // bad steps during cooldown do not count
  }
  if (bad_steps_ <= opts_.patience) return false;
  cooldown_counter_ = opts_.cooldown;
  bad_steps_ = 0;
  const double old_lr = opt.lr(), new_lr = std::max(old_lr * opts_.factor, opts_.min_lr);
  if (old_lr - new_lr <= opts_.eps) return false;
  opt.set_lr(new_lr);
  return true;
}

std::map<std::string, Tensor> ReduceOnPlateau::state_dict() const {
  return {{"step", cpu_scalar(double(step_count_))},
          {"best", cpu_scalar(best_)},
          {"bad_steps", cpu_scalar(double(bad_steps_))},
          {"cooldown_counter", cpu_scalar(double(cooldown_counter_))}};
}

void ReduceOnPlateau::load_state_dict(const std::map<std::string, Tensor>& state) {
  const char* who = "ReduceOnPlateau";
  const int64_t step = read_count(state, "step", who), bad = read_count(state, "bad_steps", who),
                cooldown = read_count(state, "cooldown_counter", who);
  const double best = read_scalar(state, "best", who);
  step_count_ = step;
  bad_steps_ = bad;
  cooldown_counter_ = cooldown;
  best_ = best;
}

void ReduceOnPlateau::check_state_dict(const std::map<std::string, Tensor>& state) const {
  ReduceOnPlateau(*this).load_state_dict(state);
}

// ---------------------------------------------------------------------------------------

EarlyStopping::EarlyStopping(Mode mode, int64_t patience, double min_delta)
    : mode_(mode), patience_(patience), min_delta_(min_delta), best_(worst(mode)) {
  HONE_CHECK(patience >= 0, "EarlyStopping: patience must be >= 0, got ", patience);
  HONE_CHECK(min_delta >= 0 && std::isfinite(min_delta), "EarlyStopping: min_delta must be a finite value >= 0, got ",
             min_delta);
}

bool EarlyStopping::update(double metric) {
  const bool better = mode_ == Mode::Min ? metric < best_ - min_delta_ : metric > best_ + min_delta_;
  if (better) {
    best_ = metric;
    best_step_ = step_count_;
    bad_steps_ = 0;
  } else {
    ++bad_steps_;
  }
  ++step_count_;
  return should_stop();
}

std::map<std::string, Tensor> EarlyStopping::state_dict() const {
  return {{"step", cpu_scalar(double(step_count_))},
          {"best", cpu_scalar(best_)},
          {"best_step", cpu_scalar(double(best_step_))},
          {"bad_steps", cpu_scalar(double(bad_steps_))}};
}

void EarlyStopping::load_state_dict(const std::map<std::string, Tensor>& state) {
  const char* who = "EarlyStopping";
  const int64_t step = read_count(state, "step", who), best_step = read_count(state, "best_step", who, -1),
                bad = read_count(state, "bad_steps", who);
  const double best = read_scalar(state, "best", who);
  HONE_CHECK(best_step < step, who, ".load_state_dict: best_step ", best_step, " is not before step ", step);
  step_count_ = step;
  best_step_ = best_step;
  bad_steps_ = bad;
  best_ = best;
}

void EarlyStopping::check_state_dict(const std::map<std::string, Tensor>& state) const {
  EarlyStopping(*this).load_state_dict(state);
}

}  // namespace hone::optim
