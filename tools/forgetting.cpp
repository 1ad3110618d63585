// `hone demo --forgetting`: the classic trade-off of continual learning, measured. The
// demo's pretrained network knows the source task (Fashion-MNIST classes 0-4, the "old"
// task); each technique then learns the target task (classes 5-9) from the same file, and
// both tasks are scored on their full test sets from the files the run exported:
//   model.onnx     the new task (the new head)
//   old-task.onnx  the old head on the backbone as the old task now sees it
// Plain fine-tuning moves the shared backbone for the new task and the old head, which
// never sees a gradient, falls behind; the others keep the old task in different ways.
#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hone.h"
#include "tools/demo.h"
#include "tools/finetune.h"
#include "tools/report.h"

namespace hone::tools {

namespace {

struct Technique {
  std::string name, what;
  void (*configure)(FinetuneConfig&);
};

// One line each: what the technique does to keep the old task.
const std::vector<Technique>& techniques() {
  static const std::vector<Technique> all = {
      {"fine-tune", "every layer trains on the new task; nothing keeps the old one",
       [](FinetuneConfig& f) { f.strategy = "full"; }},
      {"feature-extract", "the backbone is frozen; only the new head trains",
       [](FinetuneConfig& f) { f.strategy = "feature-extract"; }},
      {"lwf", "fine-tune + distillation on the original network's old-head outputs (lambda 4 = T^2, T 2)",
       [](FinetuneConfig& f) { f.strategy = "full", f.lwf = 4, f.lwf_temperature = 2; }},
      // lambda 1000 diverged here: lr * lambda * the largest Fisher value passes SGD's limit.
      {"ewc", "fine-tune + a Fisher-weighted pull towards the pretrained weights (lambda 500)",
       [](FinetuneConfig& f) { f.strategy = "full", f.ewc = 500; }},
      {"joint", "fine-tune with old-task batches in turn (needs the old data)",
       [](FinetuneConfig& f) { f.strategy = "full", f.joint = true; }},
      // The paper's recipe: half of each layer freed, then the old task retrained on its
      // data with the freed half held at zero (without that, half cost it 48 points here).
      {"packnet", "prune half of each layer, retrain the old task on the rest (3 epochs); the freed half learns the new task",
       [](FinetuneConfig& f) { f.strategy = "full", f.packnet = 0.5, f.packnet_retrain = 3; }},
      {"piggyback", "frozen backbone; a learnt binary mask over its weights",
       [](FinetuneConfig& f) { f.strategy = "full", f.piggyback = true; }},
  };
  return all;
}

struct Row {
  std::string technique;
  double old_acc = 0, new_acc = 0, seconds = 0;
  std::vector<double> old_curve, new_loss;  // per epoch, on the validation subsets
};

std::string names() {
  std::string out;
  for (const auto& t : techniques()) out += (out.empty() ? "" : ", ") + t.name;
  return out;
}

}  // namespace

int run_forgetting_demo(const DemoConfig& c) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (c.threads > 0) Context::current().set_num_threads(int(c.threads));
  std::vector<const Technique*> chosen;
  for (const std::string& name : split_list(c.techniques)) {
    const Technique* found = nullptr;
    for (const auto& t : techniques())
      if (t.name == name) found = &t;
    HONE_CHECK(found, "--techniques: unknown technique '", name, "' (", names(), ")");
    chosen.push_back(found);
  }
  const std::filesystem::path out = c.out;
  std::filesystem::create_directories(out);
  const DemoData d = demo_data(c);
  const auto old_train = io::per_class(d.source_train, c.old_per_class, c.seed + 3);
  const auto old_val = io::per_class(d.source_test, 100, c.seed + 4);  // scored after every epoch
  const auto new_val = io::per_class(d.target_test, c.curve_per_class, c.seed + 2);

  std::cout << "hone demo --forgetting: keeping the old task while learning a new one (Fashion-MNIST, "
            << Context::current().num_threads() << " threads)\n"
            << "  old task: classes 0-4, the pretrained head (" << d.source_test->size() << " test images)\n"
            << "  new task: classes 5-9, " << c.labels_per_class << " labelled images per class, " << c.epochs
            << " epochs (" << d.target_test->size() << " test images)\n"
            << "  EWC, joint training and PackNet's retraining also see " << old_train->size() << " old-task training images\n\n"
            << "[1/3] the pretrained network (source task, " << c.source_epochs << " epochs)\n";
  const std::filesystem::path pretrained = source_model(c, d);
  if (pretrained.empty()) return 130;
  const double old_before = file_accuracy(pretrained, d.source_test, d.transform);
  std::cout << "  old-task test accuracy before any new training: " << std::fixed << std::setprecision(3) << old_before
            << "\n\n[2/3] learning the new task, technique by technique\n";

  std::vector<Row> rows;
  for (const Technique* t : chosen) {
    FinetuneConfig f;
    f.net = io::onnx::import_onnx(pretrained);
    f.model = pretrained.string();
    f.model_hash = "demo-source";
    f.train_set = d.target_train, f.val_set = new_val, f.transform = d.transform;
    f.old_train_set = old_train, f.old_val_set = old_val;
    f.epochs = c.epochs, f.batch_size = c.batch_size, f.seed = c.seed;
    f.lr = 0.01, f.head_lr_mult = 10, f.schedule = "onecycle", f.augment = "none", f.weight_decay = 5e-4;
    f.keep_best = false, f.device = c.device, f.verbose = false;
    t->configure(f);
    f.out = (out / t->name).string();
    std::cout << "  " << std::left << std::setw(16) << t->name << std::right << std::flush;
    const FinetuneResult r = finetune(f);
    if (r.interrupted) return 130;
    Row row{t->name, file_accuracy(out / t->name / "old-task.onnx", d.source_test, d.transform),
            file_accuracy(out / t->name / "model.onnx", d.target_test, d.transform), r.seconds, {}, {}};
    for (const auto& m : r.history) row.old_curve.push_back(m.old_val_acc), row.new_loss.push_back(m.val_loss);
    std::cout << " old task " << std::fixed << std::setprecision(3) << row.old_acc << " (" << std::showpos
              << std::setprecision(1) << (row.old_acc - old_before) * 100 << std::noshowpos << " points), new task "
              << std::setprecision(3) << row.new_acc << "  (" << std::setprecision(1) << row.seconds << " s)\n";
    rows.push_back(row);
  }

  std::ostringstream table;
  table << "| technique | what it does | old-task accuracy (before " << std::fixed << std::setprecision(3) << old_before
        << ") | change | new-task accuracy | seconds |\n|---|---|---|---|---|---|\n";
  for (const auto& r : rows) {
    std::string what;
    for (const auto& t : techniques())
      if (t.name == r.technique) what = t.what;
    table << "| " << r.technique << " | " << what << " | " << std::setprecision(3) << r.old_acc << " | " << std::showpos
          << std::setprecision(1) << (r.old_acc - old_before) * 100 << std::noshowpos << " | " << std::setprecision(3)
          << r.new_acc << " | " << std::setprecision(1) << r.seconds << " |\n";
  }
  std::cout << "\n[3/3] results (full test sets: " << d.source_test->size() << " old-task, " << d.target_test->size()
            << " new-task images; the exported files, last epoch)\n\n"
            << table.str() << "\n";
  const Row* plain = nullptr;
  for (const auto& r : rows)
    if (r.technique == "fine-tune") plain = &r;
  if (plain) {
    std::cout << "measured: plain fine-tuning " << (plain->old_acc < old_before ? "lost " : "gained ") << std::setprecision(1)
              << std::abs(plain->old_acc - old_before) * 100 << " points of the old task for "
              << std::setprecision(3) << plain->new_acc << " on the new one.\n";
    for (const auto& r : rows)
      if (&r != plain)
        std::cout << "          " << std::left << std::setw(16) << r.technique << std::right << " old task "
                  << std::showpos << std::setprecision(1) << (r.old_acc - plain->old_acc) * 100 << std::noshowpos
                  << " points vs fine-tune, new task " << std::showpos << (r.new_acc - plain->new_acc) * 100
                  << std::noshowpos << " points\n";
  }
  std::vector<Series> loss, acc;
  for (const auto& r : rows) loss.push_back({r.technique, r.new_loss}), acc.push_back({r.technique, r.old_curve});
  write_curves_svg(out / "curves.svg", "per epoch: the new task's val loss (" + std::to_string(new_val->size()) +
                   " images) and the old task's accuracy (" + std::to_string(old_val->size()) + " images)", loss, acc);
  write_text_file(out / "results.md", table.str());
  nlohmann::json j{{"seed", c.seed}, {"labels_per_class", c.labels_per_class}, {"epochs", c.epochs},
                   {"old_per_class", c.old_per_class}, {"old_accuracy_before", old_before}};
  for (const auto& r : rows)
    j["techniques"][r.technique] = {{"old_task_accuracy", r.old_acc}, {"new_task_accuracy", r.new_acc}, {"seconds", r.seconds}};
  write_text_file(out / "results.json", j.dump(2) + "\n");
  std::cout << "\nwrote " << (out / "results.md").string() << ", " << (out / "curves.svg").string() << " and a run folder per technique (model.onnx, "
            << "old-task.onnx, metrics.csv)\ntotal " << std::setprecision(0)
            << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
  return 0;
}

}  // namespace hone::tools
