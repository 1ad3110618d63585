#include "tools/continual_finetune.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "hone.h"
#include "io/loader.h"
#include "nn/continual.h"
#include "nn/layers.h"
#include "nn/packnet.h"
#include "nn/piggyback.h"

namespace hone::tools {

namespace {

// The old data's folders mapped onto the old head's outputs: labels are head indices and
// classes() are the head's classes, whatever subset of them the folders hold.
class Relabelled : public io::Dataset {
 public:
  Relabelled(std::shared_ptr<const io::Dataset> inner, std::vector<int64_t> map, std::vector<std::string> classes)
      : inner_(std::move(inner)), map_(std::move(map)), classes_(std::move(classes)) {}
  int64_t size() const override { return inner_->size(); }
  int64_t label(int64_t i) const override { return map_[size_t(inner_->label(i))]; }
  io::Image load(int64_t i, const io::DecodeOptions& o) const override { return inner_->load(i, o); }
  std::string source(int64_t i) const override { return inner_->source(i); }
  const std::vector<std::string>& classes() const override { return classes_; }

 private:
  std::shared_ptr<const io::Dataset> inner_;
  std::vector<int64_t> map_;
  std::vector<std::string> classes_;
};

// MultiHead with room for Piggyback's scores, so they travel in the model's state_dict
// (checkpoints, best.safetensors) and the optimizer can name them: "piggyback.<weight>",
// nested by the weight name's dotted parts.
class ScoreFolder : public nn::Module {
 public:
  ScoreFolder() : Module("Scores") {}
  Tensor forward(const Tensor&) override { fail("Piggyback scores: not a layer"); }
  void put(const std::string& name, const Tensor& t) {
    const auto dot = name.find('.');
    if (dot == std::string::npos) {
      register_parameter(name, t);
      return;
    }
    const std::string head = name.substr(0, dot);
    auto& kids = children();
    auto it = kids.find(head);
    if (it == kids.end()) it = kids.emplace(head, register_module(head, std::make_shared<ScoreFolder>())).first;
    it->second->put(name.substr(dot + 1), t);
  }

 private:
  std::map<std::string, std::shared_ptr<ScoreFolder>>& children() { return kids_; }
  std::map<std::string, std::shared_ptr<ScoreFolder>> kids_;
};

class KeptTasks : public models::MultiHead {
 public:
  using MultiHead::MultiHead;
  void hold_scores(const std::map<std::string, Tensor>& scores) {
    auto f = register_module("piggyback", std::make_shared<ScoreFolder>());
    for (const auto& [name, s] : scores) f->put(name, s);
  }
};

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

}  // namespace

bool keeps_old_task(const FinetuneConfig& c) {
  return !c.old_data.empty() || c.old_train_set || c.old_val_set || c.lwf > 0 || c.ewc > 0 || c.joint ||
         c.packnet > 0 || c.piggyback;
}

void check_continual_config(const FinetuneConfig& c) {
  const bool old_data = !c.old_data.empty() || c.old_train_set;
  HONE_CHECK(c.lwf >= 0, "--lwf must be >= 0 (0: off), got ", c.lwf);
  HONE_CHECK(c.lwf_temperature > 0, "--lwf-temperature must be positive, got ", c.lwf_temperature);
  HONE_CHECK(c.ewc >= 0, "--ewc must be >= 0 (0: off), got ", c.ewc);
  HONE_CHECK(c.ewc_samples >= 0, "--ewc-samples must be >= 0 (0: all), got ", c.ewc_samples);
  HONE_CHECK(c.ewc_samples == 0 || c.ewc > 0, "--ewc-samples sets EWC's Fisher estimate: give --ewc LAMBDA too");
  HONE_CHECK(c.ewc == 0 || old_data, "--ewc needs the old task's images for its Fisher estimate: give --old-data DIR");
  HONE_CHECK(!c.joint || old_data, "--joint needs the old task's images to train on: give --old-data DIR");
  HONE_CHECK(c.packnet == 0 || (c.packnet > 0 && c.packnet < 1), "--packnet FRACTION must be in (0, 1), got ", c.packnet);
  HONE_CHECK(c.packnet_retrain >= 0, "--packnet-retrain must be >= 0 (0: none), got ", c.packnet_retrain);
  HONE_CHECK(c.packnet_retrain == 0 || c.packnet > 0, "--packnet-retrain retrains the old task after PackNet's pruning: give --packnet FRACTION");
  HONE_CHECK(c.packnet_retrain == 0 || old_data, "--packnet-retrain needs the old task's images to retrain on: give --old-data DIR");
  HONE_CHECK(!(c.packnet > 0 && c.piggyback), "--packnet and --piggyback are exclusive: each keeps the old task by its own masks");
  const bool masks = c.packnet > 0 || c.piggyback;
  const char* which = c.packnet > 0 ? "--packnet" : "--piggyback";
  HONE_CHECK(!masks || c.strategy != "feature-extract", which,
             " trains the backbone's weights (or a mask over them); --strategy feature-extract freezes the backbone: "
             "choose one");
  HONE_CHECK(!masks || c.strategy != "scratch", which, " keeps the pretrained weights; --strategy scratch discards them");
  HONE_CHECK(!masks || (c.lwf == 0 && c.ewc == 0 && !c.joint), which,
             " keeps the old task exactly by masks; it does not combine with --lwf, --ewc or --joint");
  HONE_CHECK(!keeps_old_task(c) || c.strategy != "scratch",
             "--strategy scratch re-initialises the network: there is no old task to keep");
}

OldTask::OldTask(const FinetuneConfig& cfg, std::shared_ptr<models::Classifier> net, const io::TransformOptions& tf)
    : cfg_(cfg), net_(std::move(net)), tf_(tf) {
  tf_.train = false;
  read_head();
  open_data();
}

OldTask::~OldTask() = default;

// The head as [C, D] weight and [C] bias, whatever layout the network keeps it in (an ONNX
// Gemm without transB, or a MatMul + Add, stores [D, C]; Gemm's alpha and beta are folded in).
void OldTask::read_head() {
  const int64_t c = net_->num_classes(), d = net_->feature_dim();
  Tensor w, b;
  for (const auto& [name, p] : net_->named_parameters()) {
    if (!net_->is_head_parameter(name)) continue;
    head_names_.push_back(name);
    if (p.dim() == 2 && !w.defined()) w = p;
    else if (p.dim() == 1 && !b.defined()) b = p;
  }
  HONE_CHECK(w.defined(), "keeping the old task: the network's head has no 2-D weight (head parameters: ",
             join(head_names_), ")");
  double alpha = 1, beta = 1;
  head_transposed_ = w.size(0) != c;
  if (auto* m = dynamic_cast<io::onnx::OnnxModule*>(net_.get())) {
    for (const auto& n : m->model().nodes) {
      if (n.inputs.size() < 2 || !m->weights().count(n.inputs[1]) || !net_->is_head_parameter(n.inputs[1])) continue;
      if (n.op_type == "Gemm")
        head_transposed_ = n.attr_int("transB", 0) == 0, alpha = n.attr_float("alpha", 1), beta = n.attr_float("beta", 1);
      else if (n.op_type == "MatMul")
        head_transposed_ = true;
    }
  }
  NoGradGuard ng;
  head_weight_ = (head_transposed_ ? w.t() : w).contiguous().clone();
  HONE_CHECK(head_weight_.size(0) == c && head_weight_.size(1) == d, "keeping the old task: the head's weight is ",
             w.shape(), ", expected [", c, ", ", d, "] or its transpose");
  head_bias_ = b.defined() ? b.clone() : zeros({c});
  if (alpha != 1) head_weight_ = head_weight_ * alpha;
  if (beta != 1) head_bias_ = head_bias_ * beta;
  original_head_ = std::make_shared<nn::Linear>(d, c, true, nullptr, false);
  original_head_->weight.copy_(head_weight_), original_head_->bias.copy_(head_bias_);
  original_head_->freeze();
  original_head_->eval();
  if (cfg_.lwf > 0 && cfg_.strategy != "feature-extract")  // LwF runs the original backbone per batch
    for (const auto& [name, t] : net_->state_dict())
      if (!net_->is_head_parameter(name)) original_state_[name] = t.clone();
}

void OldTask::open_data() {
  const int64_t c = net_->num_classes();
  std::vector<std::string> names;
  if (auto* m = dynamic_cast<io::onnx::OnnxModule*>(net_.get())) names = io::onnx::read_preprocessing(m->model()).class_names;
  if (int64_t(names.size()) != c) names.clear();
  std::shared_ptr<const io::Dataset> train = cfg_.old_train_set, val = cfg_.old_val_set;
  if (!train && !cfg_.old_data.empty()) {
    std::filesystem::path dir = cfg_.old_data;
    HONE_CHECK(std::filesystem::is_directory(dir), "--old-data '", cfg_.old_data, "' is not a folder");
    std::filesystem::path vdir;
    if (std::filesystem::is_directory(dir / "train") && std::filesystem::is_directory(dir / "val"))
      vdir = dir / "val", dir = dir / "train";
    auto all = open_image_folder(dir);
    if (!vdir.empty()) {
      auto v = open_image_folder(vdir);
      HONE_CHECK(v->classes() == all->classes(), "--old-data: the validation classes (", join(v->classes()),
                 ") differ from the training classes (", join(all->classes()), ")");
      train = all, val = v;
    } else if (cfg_.val_split > 0) {
      std::tie(train, val) = io::random_split(all, cfg_.val_split, cfg_.seed);
    } else {
      train = all;
    }
  }
  if (names.empty() && train) {
    HONE_CHECK(train->num_classes() == c, "--old-data: ", train->num_classes(), " class folders (", join(train->classes()),
               ") but the model's head has ", c, " outputs and its file names no classes to match them by");
    names = train->classes();
  }
  if (names.empty())
    for (int64_t i = 0; i < c; ++i) names.push_back(std::to_string(i));
  classes_ = names;
  if (!train) return;
  // Folders by name onto the head's outputs.
  std::vector<int64_t> map;
  for (const auto& folder : train->classes()) {
    auto it = std::find(names.begin(), names.end(), folder);
    HONE_CHECK(it != names.end(), "--old-data: class folder '", folder, "' is not one of the model's classes (",
               join(names), ")");
    map.push_back(int64_t(it - names.begin()));
  }
  HONE_CHECK(train->size() > 0, "--old-data: no old-task images in '", cfg_.old_data, "' (its training part is empty)");
  old_train_ = std::make_shared<Relabelled>(train, map, names);
  old_val_ = val ? std::make_shared<Relabelled>(val, map, names) : old_train_;  // no held-out part: scored on what there is
}

std::vector<std::string> OldTask::backbone_weights(bool trainable_only) const {
  std::vector<std::string> out;
  std::set<std::string> frozen;
  if (trainable_only)
    for (const auto& [name, p] : net_->named_parameters())
      if (!p.requires_grad()) frozen.insert(name);
  if (auto* m = dynamic_cast<io::onnx::OnnxModule*>(net_.get())) {
    std::set<std::string> params;
    for (const auto& [name, p] : net_->named_parameters()) params.insert(name);
    for (const auto& n : m->model().nodes)
      if ((n.op_type == "Conv" || n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() > 1 &&
          params.count(n.inputs[1]) && !frozen.count(n.inputs[1]) && !net_->is_head_parameter(n.inputs[1]) &&
          std::find(out.begin(), out.end(), n.inputs[1]) == out.end())
        out.push_back(n.inputs[1]);
  } else {
    for (const auto& [name, mod] : net_->named_modules())
      if (mod->type_name() == "Conv2d" || mod->type_name() == "Linear") {
        const std::string w = name.empty() ? "weight" : name + ".weight";
        if (!net_->is_head_parameter(w) && !frozen.count(w)) out.push_back(w);
      }
  }
  HONE_CHECK(!out.empty(), "the network has no convolution or linear weights outside its head to mask");
  return out;
}

void OldTask::attach() {
  auto kept = std::make_shared<KeptTasks>(net_, "new");
  kept->add_head("old", int64_t(classes_.size()));
  multi_ = kept;
  {
    NoGradGuard ng;
    auto& old = static_cast<nn::Linear&>(multi_->module("heads.old"));
    old.weight.copy_(head_weight_), old.bias.copy_(head_bias_);
  }
  // The old head trains where its task's loss reaches it (LwF, joint), else it is the original's.
  if (cfg_.lwf == 0 && !cfg_.joint) multi_->module("heads.old").freeze();
  if (cfg_.packnet > 0) {
    // Only the weights this strategy trains: a frozen stage's freed weights could never be
    // taken by the new task, so pruning them would only cost the old task.
    auto patterns = backbone_weights(true);
    packnet_ = std::make_unique<nn::PackNet>(*net_, nn::PackNetOptions{.weights = patterns, .exclude = net_->head_patterns()});
    net_->freeze_batchnorm(true);  // statistics; PackNet's masks keep the affine part (shared by every task) frozen
  }
  if (cfg_.piggyback) {
    net_->freeze_backbone();
    net_->freeze_batchnorm(true);
    const auto names = backbone_weights();
    if (auto* m = dynamic_cast<io::onnx::OnnxModule*>(net_.get())) {
      std::vector<std::pair<std::string, Tensor*>> slots;
      for (const auto& n : names) slots.emplace_back(n, m->weight_slot(n));
      piggyback_ = std::make_unique<nn::Piggyback>(slots);
    } else {
      piggyback_ = std::make_unique<nn::Piggyback>(*net_, names);
    }
    kept->hold_scores(piggyback_->named_scores());
  }
  if (cfg_.ewc > 0) ewc_ = std::make_unique<nn::ElasticWeightConsolidation>();  // estimated in prepare, or loaded
}

nn::Module& OldTask::model() { return *multi_; }

void OldTask::add_param_groups(std::vector<optim::ParamGroup>& groups, double head_lr_mult) const {
  if (cfg_.lwf > 0 || cfg_.joint) groups.push_back({.params = multi_->head_parameters("old"), .name = "old head"});
  // No weight decay on the scores (as the paper's code): they are not weights, and decay
  // would pull every score below the threshold, masking weights out for no loss reason.
  if (piggyback_)
    groups.push_back({.params = piggyback_->scores(), .lr_mult = head_lr_mult, .weight_decay = 0.0, .name = "piggyback scores"});
}

void OldTask::prepare(optim::Optimizer& opt, Device device, bool resuming) {
  device_ = device;
  for (auto& [name, t] : original_state_) t = t.to(device), scratch_[name] = empty_like(t);
  original_head_->to(device);
  if (!resuming && old_val_) acc_before = score();
  if (ewc_ && ewc_->fisher().empty()) {  // on resume the checkpoint brought it
    const auto t0 = std::chrono::steady_clock::now();
    io::DataLoader loader(old_train_, io::Transform(tf_),
                          {.batch_size = cfg_.batch_size, .shuffle = false, .seed = cfg_.seed, .workers = cfg_.workers});
    loader.start_epoch(0, 0);
    auto next = [&]() -> nn::FisherBatch {
      auto b = loader.next();
      if (!b) return std::nullopt;
      return std::make_pair(b->images.to(device), b->labels.to(device));
    };
    *ewc_ = nn::ElasticWeightConsolidation(nn::ElasticWeightConsolidation::estimate(
        *multi_, [&](const Tensor& x) { return multi_->forward("old", x); }, next,
        {.labels = nn::FisherLabels::Sampled, .max_samples = cfg_.ewc_samples, .seed = cfg_.seed}));
    if (cfg_.verbose)
      std::cout << "EWC: Fisher information from " << ewc_->samples() << " old-task images in " << std::fixed
                << std::setprecision(1) << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()
                << " s\n" << std::defaultfloat;
  }
  if (ewc_) {
    ewc_->to(device);
    warn_if_ewc_diverges();
  }
  if (packnet_) {
    if (!resuming) {
      // The pretrained weights are task 1; the smallest `packnet` of each layer are freed for task 2.
      packnet_->begin_task(1, opt);
      packnet_->prune(cfg_.packnet);
      if (cfg_.packnet_retrain > 0) retrain_old_task();
      packnet_->begin_task(2, opt);
    } else {
      packnet_->begin_task(packnet_->tasks(), opt);
    }
    net_->freeze_batchnorm(true);
  }
  if (cfg_.joint) {
    joint_ = std::make_unique<io::DataLoader>(
        old_train_, io::Transform([&] {
          auto t = tf_;
          t.train = cfg_.augment == "default" && cfg_.strategy != "feature-extract";
          return t;
        }()),
        io::LoaderOptions{.batch_size = cfg_.batch_size, .seed = cfg_.seed ^ 0x6f6c64ull /* "old" */, .workers = cfg_.workers});
    joint_->start_epoch(joint_epoch_, joint_position_);
  }
}

// EWC's penalty alone is a quadratic of curvature lambda * F_i along weight i; plain SGD with
// momentum beta diverges along it once lr * lambda * F_i passes 2 (1 + beta), whatever the
// task's loss does. Said before the run rather than as a NaN an epoch later.
void OldTask::warn_if_ewc_diverges() const {
  if (cfg_.optimizer != "sgd") return;  // Adam's steps are normalised: no such bound
  double fmax = 0;
  for (const auto& [name, f] : ewc_->fisher()) fmax = std::max(fmax, hone::max(f).item<double>());
  const double curvature = cfg_.ewc * fmax, limit = 2 * (1 + cfg_.momentum);
  if (cfg_.lr * curvature <= limit) return;
  std::cerr << "hone: warning: --ewc " << cfg_.ewc << " with --lr " << cfg_.lr << ": the penalty's largest curvature "
            << "(lambda x max Fisher = " << curvature << ") times the learning rate is " << cfg_.lr * curvature
            << ", past SGD's stability limit " << limit << " (momentum " << cfg_.momentum
            << "): expect divergence; use --ewc below " << limit / (cfg_.lr * fmax) << " or a lower --lr\n";
}

// PackNet's recipe after pruning: the old task recovers on its own data with the freed
// weights held at zero (task 1's masks), its head and the shared parameters training too;
// an optimizer of its own, so the new task's starts without this momentum.
void OldTask::retrain_old_task() {
  const auto t0 = std::chrono::steady_clock::now();
  auto& old_head = multi_->module("heads.old");
  old_head.unfreeze();
  std::vector<Tensor> params = multi_->backbone_parameters(true);
  for (const Tensor& p : multi_->head_parameters("old")) params.push_back(p);
  optim::SGD sgd({{.params = params, .name = "old task"}},
                 optim::SGDOptions{.lr = cfg_.lr, .momentum = cfg_.momentum, .weight_decay = cfg_.weight_decay});
  packnet_->begin_task(1, sgd);
  auto t = tf_;
  t.train = cfg_.augment == "default";
  io::DataLoader loader(old_train_, io::Transform(t),
                        {.batch_size = cfg_.batch_size, .seed = cfg_.seed ^ 0x7061636bull /* "pack" */, .workers = cfg_.workers});
  multi_->train();
  double loss_sum = 0;
  int64_t seen = 0;
  for (int64_t epoch = 0; epoch < cfg_.packnet_retrain; ++epoch) {
    loader.start_epoch(epoch, 0);
    while (auto b = loader.next()) {
      sgd.zero_grad();
      const Tensor loss = cross_entropy(multi_->forward("old", b->images.to(device_)), b->labels.to(device_));
      loss.backward();
      sgd.step();
      loss_sum += loss.item<double>() * double(b->labels.size(0)), seen += b->labels.size(0);
    }
  }
  sgd.zero_grad();
  old_head.freeze();
  if (cfg_.verbose)
    std::cout << "PackNet: the old task retrained " << cfg_.packnet_retrain << " epoch(s) on " << old_train_->size()
              << " images after pruning (loss " << std::fixed << std::setprecision(4)
              << loss_sum / double(std::max<int64_t>(seen, 1)) << ", "  << std::setprecision(1)
              << std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() << " s)\n"
              << std::defaultfloat;
}

std::shared_ptr<void> OldTask::train_scope() {
  if (!piggyback_) return nullptr;
  return std::make_shared<nn::Piggyback::Scope>(piggyback_->train_scope());
}

std::shared_ptr<void> OldTask::eval_scope() {
  if (!piggyback_) return nullptr;
  return std::make_shared<nn::Piggyback::Scope>(piggyback_->mask_scope(piggyback_->masks()));
}

// The original network's old-head logits on x. Cached features came from the original
// (frozen) backbone, so its head alone gives them; otherwise the original weights are put
// into the network for one forward (one more forward per step, and two more copies
// of the backbone's weights in memory), which serves augmented batches too: a recording
// made once per image could not follow the random crops.
Tensor OldTask::original_logits(const Tensor& x, bool features) {
  NoGradGuard ng;
  if (features) return (*original_head_)(x);
  auto state = net_->state_dict();
  for (auto& [name, orig] : original_state_) {
    Tensor t = state.at(name);
    scratch_.at(name).copy_(t), t.copy_(orig);
  }
  // In the network's own mode, as the training forward that follows: batch norm normalises
  // both by the batch's statistics (a recording in eval mode would ask the old head to map
  // train-mode features onto eval-mode answers). Running statistics it updates are put back.
  struct PutBack {  // the trained weights return even when the forward throws
    std::map<std::string, Tensor>& state;
    const std::map<std::string, Tensor>& scratch;
    ~PutBack() {
      for (auto& [name, t] : scratch) state.at(name).copy_(t);
    }
  };
  Tensor f;
  {
    PutBack put_back{state, scratch_};
    f = net_->forward_features(x);
  }
  return (*original_head_)(f);
}

// Before the step's graph exists: the swap of weights would change tensors it saves.
void OldTask::begin_step(const Tensor& x, bool features) {
  if (cfg_.lwf > 0) recorded_ = original_logits(x, features);
}

Tensor OldTask::extra_loss(const Tensor& f) {
  Tensor loss;
  auto add = [&](const Tensor& t) { loss = loss.defined() ? loss + t : t; };
  if (cfg_.lwf > 0) add(nn::distillation_loss(multi_->forward_head("old", f), recorded_, cfg_.lwf_temperature) * cfg_.lwf);
  if (cfg_.joint) {
    auto b = joint_->next();
    if (!b) {
      joint_->start_epoch(++joint_epoch_, 0);
      b = joint_->next();
    }
    joint_position_ = b->position + b->labels.size(0);
    add(cross_entropy(multi_->forward("old", b->images.to(device_)), b->labels.to(device_)));
  }
  if (ewc_) add(ewc_->penalty(*multi_) * cfg_.ewc);
  return loss;
}

double OldTask::score() {
  if (!old_val_) return -1;
  NoGradGuard ng;
  const bool was_training = multi_->is_training();
  multi_->eval();
  std::optional<nn::PackNet::TaskScope> task;
  if (packnet_ && packnet_->tasks() >= 1) task.emplace(packnet_->apply_task(1));
  io::DataLoader loader(old_val_, io::Transform(tf_),
                        {.batch_size = cfg_.batch_size, .shuffle = false, .seed = cfg_.seed, .workers = cfg_.workers});
  loader.start_epoch(0, 0);
  double correct = 0;
  int64_t n = 0;
  while (auto b = loader.next()) {
    const Tensor logits = multi_->forward("old", b->images.to(device_));
    correct += topk_accuracy(logits, b->labels.to(device_), 1) * double(b->labels.size(0));
    n += b->labels.size(0);
  }
  task.reset();
  multi_->train(was_training);
  return n ? correct / double(n) : -1;
}

std::map<std::string, std::string> OldTask::extra() const {
  std::ostringstream os;
  os << std::setprecision(17) << acc_before;
  return {{"old_acc_before", os.str()}, {"joint_epoch", std::to_string(joint_epoch_)},
          {"joint_position", std::to_string(joint_position_)}};
}

void OldTask::load_extra(const std::map<std::string, std::string>& extra) {
  auto get = [&](const char* k, const std::string& fallback) { return extra.count(k) ? extra.at(k) : fallback; };
  acc_before = std::stod(get("old_acc_before", "-1"));
  joint_epoch_ = std::stoll(get("joint_epoch", "0")), joint_position_ = std::stoll(get("joint_position", "0"));
}

void OldTask::export_models(const std::filesystem::path& dir, const io::onnx::ExportOptions& new_task) {
  multi_->eval();
  {
    auto scope = eval_scope();  // Piggyback: the learnt masks baked into model.onnx
    io::onnx::export_onnx(*net_, dir / "model.onnx", new_task);
  }
  // old-task.onnx: the network as the old task runs it, with the old head in the new one's
  // place (the same layout as the original's, so an imported graph re-exports node by node).
  NoGradGuard ng;
  // The head's tensors now (replace_head may rename a bias it adds), weight first.
  auto head = [&] {
    std::vector<Tensor> out;
    for (const auto& [name, t] : net_->named_parameters())
      if (net_->is_head_parameter(name)) out.push_back(t);
    std::stable_sort(out.begin(), out.end(), [](const Tensor& a, const Tensor& b) { return a.dim() > b.dim(); });
    return out;
  };
  auto put = [&](const Tensor& weight, const Tensor& bias) {
    for (Tensor t : head()) t.copy_(t.dim() == 2 ? (head_transposed_ ? weight.t() : weight) : bias);
  };
  std::vector<Tensor> saved;
  for (const Tensor& t : head()) saved.push_back(t.clone());
  Tensor new_w = head_transposed_ ? saved.at(0).t() : saved.at(0);
  Tensor new_b = saved.size() > 1 ? saved[1] : zeros({new_w.size(0)});
  const int64_t new_classes = net_->num_classes();
  auto& old = static_cast<nn::Linear&>(multi_->module("heads.old"));
  net_->replace_head(int64_t(classes_.size()));
  put(old.weight.to(Device::cpu()), old.bias.to(Device::cpu()));
  {
    std::optional<nn::PackNet::TaskScope> task;
    if (packnet_) task.emplace(packnet_->apply_task(1));
    io::onnx::ExportOptions eo = new_task;
    eo.preprocessing.class_names = classes_;
    io::onnx::export_onnx(*net_, dir / "old-task.onnx", eo);
  }
  net_->replace_head(new_classes);
  put(new_w, new_b);
}

std::string OldTask::describe() const {
  std::ostringstream os;
  os << "keeping the old task (" << classes_.size() << " classes";
  if (old_train_) os << "; " << old_train_->size() << " old training, " << (old_val_ == old_train_ ? 0 : old_val_->size())
                     << " old validation images";
  os << ")";
  if (cfg_.lwf > 0) os << "; LwF lambda " << cfg_.lwf << " T " << cfg_.lwf_temperature;
  if (cfg_.ewc > 0) os << "; EWC lambda " << cfg_.ewc;
  if (cfg_.joint) os << "; joint training";
  if (cfg_.packnet > 0) os << "; PackNet frees " << cfg_.packnet << " of each backbone layer";
  if (cfg_.piggyback) os << "; Piggyback masks over the frozen backbone";
  return os.str();
}

}  // namespace hone::tools
