// The `hone` command line: finetune, eval, predict, demo, inspect, version, search. CLI11 parses
// the flags (--help on every command, ranges checked); the "did you mean" for an unknown
// flag is ours (CLI11 has none). Any exception ends the run with one line and status 1.
// inspect and version live here; the rest is tools/finetune.cpp (with report.cpp's files),
// inference.cpp (predict, eval), demo.cpp and search.cpp.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstring>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <filesystem>
#include <iostream>
#include <map>
#include <sstream>

#include "hone.h"
#include "models/zoo.h"
#include "tools/demo.h"
#include "tools/finetune.h"
#include "tools/inference.h"
#include "tools/search.h"

namespace {

std::string dims_string(const std::vector<int64_t>& dims, const std::vector<std::string>& names) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) out += ",";
    if (dims[i] >= 0) out += std::to_string(dims[i]);
    else out += i < names.size() && !names[i].empty() ? names[i] : "?";
  }
  return out + "]";
}

// An ONNX file: imported exactly as training would (a bad file fails here), then described.
int inspect_onnx(const std::string& path, bool json) {
  auto m = hone::io::onnx::import_onnx(path);
  const hone::io::onnx::Model& model = m->model();
  const auto count = m->count_parameters();
  std::map<std::string, int> ops;
  for (const auto& n : model.nodes) ++ops[n.op_type];
  const std::string producer = model.producer_name + (model.producer_version.empty() ? "" : " " + model.producer_version);
  if (json) {
    nlohmann::ordered_json j{{"file", path}, {"producer", producer}, {"ir_version", model.ir_version},
                             {"opset", model.opset}, {"nodes", model.nodes.size()}, {"ops", ops}};
    j["inputs"] = nlohmann::ordered_json::array();
    for (const auto& v : model.inputs) {
      nlohmann::ordered_json shape = nlohmann::ordered_json::array();
      for (size_t d = 0; d < v.dims.size(); ++d)
        if (v.dims[d] >= 0) shape.push_back(v.dims[d]);
        else shape.push_back(d < v.dim_names.size() ? v.dim_names[d] : "");
      j["inputs"].push_back({{"name", v.name}, {"shape", shape}});
    }
    j["initializers"] = model.initializers.size();
    j["parameters"] = count.total, j["trainable"] = count.trainable, j["bn_folded"] = m->bn_folded();
    j["metadata"] = nlohmann::ordered_json::object();
    for (const auto& [k, v] : model.metadata) j["metadata"][k] = v;
    // A file's strings need not be UTF-8: replace bad bytes rather than fail the report.
    std::cout << j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return 0;
  }
  std::cout << path << "\n"
            << "  producer:     " << (producer.empty() ? "(none)" : producer) << "\n"
            << "  ir version:   " << model.ir_version << ", opset " << model.opset << "\n";
  for (const auto& v : model.inputs)
    std::cout << "  input:        " << v.name << " " << dims_string(v.dims, v.dim_names) << "\n";
  for (const auto& v : model.outputs)
    std::cout << "  output:       " << v.name << " " << dims_string(v.dims, v.dim_names) << "\n";
  std::cout << "  nodes:        " << model.nodes.size() << " (";
  bool first = true;
  for (const auto& [op, n] : ops) std::cout << (first ? "" : ", ") << op << " " << n, first = false;
  std::cout << ")\n"
            << "  parameters:   " << count.total << " (" << count.trainable << " trainable) in "
            << m->named_parameters().size() << " tensors, " << m->named_buffers().size() << " buffers\n"
            << "  batch norm:   " << (ops.count("BatchNormalization") ? "kept" : m->bn_folded() ? "folded into Conv by the exporter" : "none")
            << "\n";
  for (const auto& [k, v] : model.metadata) std::cout << "  metadata:     " << k << " = " << v << "\n";
  return 0;
}

int inspect(const std::string& model, bool json) {
  if (hone::tools::is_model_file(model)) return inspect_onnx(model, json);
  auto net = hone::models::create(model);
  const auto count = net->count_parameters();
  if (json) {
    const nlohmann::ordered_json j{{"model", model}, {"parameters", count.total}, {"trainable", count.trainable},
                                   {"tensors", net->named_parameters().size()}, {"buffers", net->named_buffers().size()}};
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << model << "\n" << net->summary(hone::models::default_input_shape(model));
  }
  return 0;
}

int version() {
  hone::Context& ctx = hone::Context::current();
  std::cout << "hone " << HONE_VERSION << "\n"
            << "cuda: " << (hone::cuda_built() ? "built" : "not built") << ", devices: " << hone::cuda_device_count()
            << "\n"
            << "threads: " << ctx.num_threads() << " (cores available: " << hone::available_cores() << ")\n"
            << "default device: " << ctx.default_device().str() << "\n";
  return 0;
}

// Edit distance, for "did you mean" after an unknown flag (CLI11 does not suggest).
size_t distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}

void suggest(CLI::App& app, int argc, char** argv) {
  std::vector<std::string> known;
  for (CLI::App* sub : app.get_subcommands())
    for (const CLI::Option* o : sub->get_options())
      for (const auto& n : o->get_lnames()) known.push_back("--" + n);
  for (int i = 1; i < argc; ++i) {
    const std::string arg = std::string(argv[i]).substr(0, std::string(argv[i]).find('='));
    if (arg.rfind("--", 0) != 0 || std::find(known.begin(), known.end(), arg) != known.end()) continue;
    std::string best;
    size_t best_d = 4;  // suggest only close names
    for (const auto& k : known)
      if (size_t d = distance(arg, k); d < best_d) best = k, best_d = d;
    if (!best.empty()) std::cerr << "unknown option " << arg << ": did you mean " << best << "?\n";
  }
}

void print_finetune_summary(const hone::tools::FinetuneResult& r) {
  if (r.interrupted) {
    std::cerr << "\ninterrupted: wrote " << (r.out / "last.safetensors").string() << "; continue with:\n  hone finetune --resume "
              << r.out.string() << "\n";
    return;
  }
  std::cout << "best epoch " << r.best_epoch << ": val accuracy " << std::fixed << std::setprecision(3) << r.best_val_acc
            << "; " << std::setprecision(1) << r.seconds << " s in all\n";
  if (r.cache_hit) std::cout << "the feature cache saved " << r.cache_saved_seconds << " s of backbone\n";
  if (r.old_task && r.old_acc_before >= 0)
    std::cout << "old task (" << r.old_classes.size() << " classes): accuracy before " << std::setprecision(3)
              << r.old_acc_before << ", after " << r.old_acc_after << "\n";
  std::cout << "wrote " << r.out.string() << "/{config.json, metrics.csv, curves.svg, confusion.csv, confusion.svg, "
            << "best.safetensors, last.safetensors, model.onnx" << (r.old_task ? ", old-task.onnx" : "") << "}\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::cout << std::unitbuf;  // progress lines appear as they happen, also through a pipe
  CLI::App app{"hone: fine-tune ImageNet-pretrained CNNs (ResNet, VGG) from ONNX files on your own images"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("hone ") + HONE_VERSION);
  int code = 0;

  // ---- finetune ----
  hone::tools::FinetuneConfig fc;
  std::string resume;
  auto* ft = app.add_subcommand("finetune", "fine-tune a pretrained network on a folder of images (one subfolder per class)");
  ft->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);  // a later flag overrides
  ft->add_option("--model", fc.model, "an ONNX file, or a built-in architecture (random weights: resnet18, vgg16, ...)")
      ->capture_default_str();
  ft->add_option("--data", fc.data, "image folder, one subfolder per class; a folder with train/ and val/ uses both");
  ft->add_option("--val", fc.val, "validation folder (default: DATA/val if present, else --val-split of DATA)");
  ft->add_option("--val-split", fc.val_split, "fraction of DATA held out for validation, per class")
      ->check(CLI::Range(0.0, 0.99))->capture_default_str();
  ft->add_option("--strategy", fc.strategy,
                 "feature-extract: freeze the backbone, run it once per image (evaluation transform, no augmentation) "
                 "and cache the features on disk, train the new head; partial:STAGE: freeze what comes before STAGE "
                 "(layer1..layer4 for ResNet, features.N for VGG); full: train everything; scratch: re-initialise and "
                 "train everything (the baseline)")
      ->capture_default_str();
  ft->add_option("--epochs", fc.epochs)->check(CLI::Range(int64_t(1), int64_t(100000)))->capture_default_str();
  ft->add_option("--batch-size", fc.batch_size)->check(CLI::Range(int64_t(1), int64_t(65536)))->capture_default_str();
  ft->add_option("--accumulate", fc.accumulate, "batches per optimizer step")->check(CLI::Range(int64_t(1), int64_t(1024)))->capture_default_str();
  ft->add_option("--lr", fc.lr, "base learning rate (the body's)")->check(CLI::PositiveNumber)->capture_default_str();
  ft->add_option("--head-lr-mult", fc.head_lr_mult, "the new head learns this many times faster")->check(CLI::NonNegativeNumber)->capture_default_str();
  ft->add_option("--momentum", fc.momentum)->check(CLI::Range(0.0, 1.0))->capture_default_str();
  ft->add_option("--optimizer", fc.optimizer)->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  ft->add_option("--weight-decay", fc.weight_decay)->check(CLI::NonNegativeNumber)->capture_default_str();
  ft->add_option("--schedule", fc.schedule)->check(CLI::IsMember({"cosine", "onecycle", "step", "plateau", "constant"}))->capture_default_str();
  ft->add_option("--warmup", fc.warmup, "epochs of linear warm-up (cosine)")->check(CLI::NonNegativeNumber)->capture_default_str();
  ft->add_option("--early-stopping", fc.early_stopping, "stop after this many epochs without a better val accuracy (0: off)")
      ->check(CLI::NonNegativeNumber)->capture_default_str();
  ft->add_option("--dropout", fc.dropout, "dropout before the head")->check(CLI::Range(0.0, 0.99))->capture_default_str();
  ft->add_option("--bn", fc.bn, "batch norm in trained stages: train (batch statistics), frozen, or auto (frozen below batch 8); "
                                "frozen stages always keep theirs frozen")
      ->check(CLI::IsMember({"train", "frozen", "auto"}))->capture_default_str();
  ft->add_option("--augment", fc.augment, "default: random resized crop + horizontal flip; none")
      ->check(CLI::IsMember({"default", "none"}))->capture_default_str();
  ft->add_option("--device", fc.device, "cpu, or cuda:N to train on that GPU (our CUDA kernels; each batch is copied "
                                        "there, the model comes back to the host for the ONNX export)")
      ->capture_default_str();
  ft->add_option("--threads", fc.threads, "compute threads (0: HONE_NUM_THREADS or all cores)")->check(CLI::NonNegativeNumber);
  ft->add_option("--workers", fc.workers, "image decoding threads")->check(CLI::Range(int64_t(0), int64_t(64)))->capture_default_str();
  ft->add_option("--seed", fc.seed)->capture_default_str();
  ft->add_option("--out", fc.out, "the run folder")->capture_default_str();
  ft->add_option("--cache-dir", fc.cache_dir, "feature cache (default $XDG_CACHE_HOME/hone or ~/.cache/hone)");
  ft->add_option("--resume", resume, "continue the run in this folder from its last checkpoint (other flags are ignored)");
  // Keeping the old task: the pretrained head's classes stay usable beside the new ones.
  const std::string old_group = "keeping the old task";
  ft->add_option("--old-data", fc.old_data,
                 "the old task's images (the pretrained head's classes), one subfolder per class named as in the "
                 "model's class names (else in its head's order); DIR/train + DIR/val, or --val-split. Any option in "
                 "this group keeps the old head and writes old-task.onnx; with old data the old task is scored before, "
                 "every epoch (metrics.csv old_val_acc) and after. Costs one pass over its validation images per epoch")
      ->group(old_group);
  ft->add_option("--lwf", fc.lwf,
                 "Learning without Forgetting, weight LAMBDA (0: off; T^2 keeps both losses comparable): the old head "
                 "is kept near what the original network answers on each new batch, so no old data is needed. Costs "
                 "one more forward of the original network per step and two more copies of the weights in memory")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(old_group);
  ft->add_option("--lwf-temperature", fc.lwf_temperature, "LwF's softening temperature T")
      ->check(CLI::PositiveNumber)->capture_default_str()->group(old_group);
  ft->add_option("--ewc", fc.ewc,
                 "Elastic Weight Consolidation, weight LAMBDA (0: off; needs --old-data): pulls each weight back towards "
                 "its pretrained value in proportion to how much the old task needs it (a diagonal Fisher estimate). "
                 "Costs one forward and backward per old training image before training, two more copies of the "
                 "weights in memory and a few elementwise ops per step")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(old_group);
  ft->add_option("--ewc-samples", fc.ewc_samples, "old training images for EWC's Fisher estimate (0: all)")
      ->check(CLI::NonNegativeNumber)->capture_default_str()->group(old_group);
  ft->add_flag("--joint", fc.joint,
               "joint training (needs --old-data): every new batch is followed by an old-task batch through the old "
               "head, both heads and the backbone train. The best at keeping the old task when its data is at hand; "
               "costs about twice the time per step")
      ->group(old_group);
  ft->add_option("--packnet", fc.packnet,
                 "PackNet, FRACTION in (0, 1): the pretrained weights are the old task's; the smallest FRACTION of each "
                 "backbone conv/linear layer is freed and only those train for the new task (batch norm frozen: "
                 "statistics and affine), so the old task runs bitwise as after the pruning (the pruned weights "
                 "zeroed; its accuracy drops by what the pruning costs). Costs one byte per backbone weight")
      ->check(CLI::NonNegativeNumber)->group(old_group);
  ft->add_option("--packnet-retrain", fc.packnet_retrain,
                 "with --packnet and --old-data: after pruning, retrain the old task's kept weights and its head for "
                 "EPOCHS epochs on its images, the freed weights held at zero (PackNet's recipe; it wins back most of "
                 "what pruning cost). Costs EPOCHS passes over the old training images")
      ->check(CLI::Range(int64_t(0), int64_t(1000)))->capture_default_str()->group(old_group);
  ft->add_flag("--piggyback", fc.piggyback,
               "Piggyback: the backbone stays frozen (batch norm too) and a binary mask over its conv/linear weights "
               "is learnt with the new head, so the old task keeps the untouched backbone exactly. Costs one score "
               "per backbone weight (memory as the weights, plus their optimizer state) and a multiply per layer per "
               "forward")
      ->group(old_group);
  ft->callback([&] {
    if (!resume.empty()) fc.resume = true, fc.out = resume;
    hone::tools::install_interrupt_handler();
    const auto r = hone::tools::finetune(fc);
    print_finetune_summary(r);
    code = r.interrupted ? 130 : 0;
  });

  // ---- predict ----
  std::string model;
  std::vector<std::string> images;
  int64_t top = 5;
  bool json = false;
  auto* pr = app.add_subcommand("predict", "classify images with an ONNX file or a run folder");
  pr->add_option("--model", model, "an ONNX file or a run folder (its model.onnx)")->required();
  pr->add_option("images", images, "image files (JPEG, PNG)")->required()->check(CLI::ExistingFile);
  pr->add_option("--top", top, "classes per image")->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  pr->add_flag("--json", json, "one JSON object per image");
  pr->callback([&] {
    auto m = hone::tools::load_for_inference(model);
    for (const auto& p : hone::tools::predict(m, images, top)) {
      if (json) {
        nlohmann::json j{{"image", p.image}};
        for (size_t i = 0; i < p.classes.size(); ++i) {
          const int64_t c = p.classes[i];
          j["top"].push_back({{"class", c}, {"name", size_t(c) < m.classes.size() ? m.classes[size_t(c)] : ""},
                              {"probability", p.probabilities[i]}});
        }
        std::cout << j.dump() << "\n";
        continue;
      }
      std::cout << p.image << "\n";
      for (size_t i = 0; i < p.classes.size(); ++i) {
        const int64_t c = p.classes[i];
        std::cout << "  " << std::setw(5) << c << "  " << std::fixed << std::setprecision(4) << p.probabilities[i] << "  "
                  << (size_t(c) < m.classes.size() ? m.classes[size_t(c)] : "") << "\n";
      }
    }
  });

  // ---- eval ----
  std::string data;
  int64_t batch = 32;
  auto* ev = app.add_subcommand("eval", "accuracy, top-5, per-class accuracy and confusion matrix on an image folder");
  ev->add_option("--model", model, "an ONNX file or a run folder (its model.onnx)")->required();
  ev->add_option("--data", data, "image folder, one subfolder per class")->required()->check(CLI::ExistingDirectory);
  ev->add_option("--batch-size", batch)->check(CLI::Range(int64_t(1), int64_t(65536)))->capture_default_str();
  ev->add_flag("--json", json, "the report as JSON");
  ev->callback([&] {
    auto m = hone::tools::load_for_inference(model);
    const auto r = hone::tools::evaluate_folder(m, data, batch);
    if (json) {
      nlohmann::json j{{"samples", r.samples}, {"accuracy", r.accuracy}, {"top5", r.top5}, {"classes", r.classes},
                       {"per_class_accuracy", r.per_class}, {"confusion", r.confusion}, {"predicted_classes", r.predicted_names}};
      std::cout << j.dump(2) << "\n";
      return;
    }
    std::cout << std::fixed << std::setprecision(4) << "images:     " << r.samples << "\naccuracy:   " << r.accuracy
              << "\ntop-5:      " << r.top5 << "\nper class:\n";
    for (size_t i = 0; i < r.classes.size(); ++i) std::cout << "  " << std::setw(20) << std::left << r.classes[i] << std::right << r.per_class[i] << "\n";
    std::cout << "confusion (rows: true class; columns: predicted, the model's classes in order):\n";
    for (size_t i = 0; i < r.classes.size(); ++i) {
      std::cout << "  " << std::setw(20) << std::left << r.classes[i] << std::right;
      for (int64_t v : r.confusion[i]) std::cout << std::setw(6) << v;
      std::cout << "\n";
    }
  });

  // ---- demo ----
  hone::tools::DemoConfig dc;
  auto* dm = app.add_subcommand("demo", "pretrain on Fashion-MNIST classes 0-4, export to ONNX, import it back and "
                                        "fine-tune on classes 5-9 with every strategy; prints what fine-tuning buys");
  dm->add_option("--out", dc.out)->capture_default_str();
  dm->add_option("--data-dir", dc.data_dir, "Fashion-MNIST IDX files (default: Debian's dataset-fashion-mnist)");
  dm->add_option("--labels-per-class", dc.labels_per_class)->check(CLI::Range(int64_t(1), int64_t(6000)))->capture_default_str();
  dm->add_option("--source-per-class", dc.source_per_class)->check(CLI::Range(int64_t(1), int64_t(6000)))->capture_default_str();
  dm->add_option("--source-epochs", dc.source_epochs)->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  dm->add_option("--epochs", dc.epochs)->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  dm->add_option("--curve-per-class", dc.curve_per_class)->check(CLI::Range(int64_t(1), int64_t(1000)))->capture_default_str();
  dm->add_option("--batch-size", dc.batch_size)->check(CLI::Range(int64_t(1), int64_t(4096)))->capture_default_str();
  dm->add_option("--strategies", dc.strategies)->capture_default_str();
  dm->add_option("--seed", dc.seed)->capture_default_str();
  dm->add_option("--source-model", dc.source_model, "an earlier demo's source/model.onnx: skip pretraining")
      ->check(CLI::ExistingFile);
  dm->add_option("--threads", dc.threads)->check(CLI::NonNegativeNumber);
  dm->add_option("--device", dc.device, "cpu, or cuda:N: where every fine-tune of the demo trains")->capture_default_str();
  dm->add_flag("--forgetting", dc.forgetting,
               "instead: learn the new task with each technique that keeps the old one (fine-tune, feature-extract, "
               "LwF, EWC, joint, PackNet, Piggyback) and score both tasks; default 100 labels per class, 10 epochs");
  dm->add_option("--techniques", dc.techniques, "with --forgetting: which, comma-separated")->capture_default_str();
  dm->add_option("--old-per-class", dc.old_per_class, "with --forgetting: old-task training images per class for EWC and joint")
      ->check(CLI::Range(int64_t(1), int64_t(6000)))->capture_default_str();
  dm->callback([&] {
    hone::tools::install_interrupt_handler();
    if (dc.forgetting) {
      // Forgetting needs a new task worth learning: more labels and fewer epochs than the
      // five-label comparison of strategies.
      if (dm->count("--labels-per-class") == 0) dc.labels_per_class = 100;
      if (dm->count("--epochs") == 0) dc.epochs = 10;
      if (dm->count("--out") == 0) dc.out = "runs/forgetting";
      code = hone::tools::run_forgetting_demo(dc);
    } else {
      code = hone::tools::run_demo(dc);
    }
  });

  // ---- inspect, version ----
  bool inspect_json = false;
  auto* in = app.add_subcommand("inspect", "layers, output shapes and parameters of a built-in model, or an ONNX file's "
                                           "ops, opset, parameters, folded BN and metadata (the whole file is checked)");
  in->add_option("model", model, "resnet18, resnet34, resnet50, vgg11..vgg19[_bn], small_resnet, or FILE.onnx")->required();
  in->add_flag("--json", inspect_json);
  in->callback([&] { code = inspect(model, inspect_json); });
  app.add_subcommand("version", "the version, build options and the runtime context")->callback([&] { code = version(); });

  // ---- search ----
  hone::tools::SearchConfig sc;
  bool no_rerun = false;
  auto* se = app.add_subcommand(
      "search",
      "hyper-parameter search: learning rate, weight decay, batch size, head lr multiplier and frozen depth (strategy). "
      "Each trial is a short fine-tune (--trial-epochs) scored by its best val accuracy (ties: lower val loss); trials run "
      "in turn into OUT/trial-NNN, with trials.csv and trials.svg; the best settings are then re-run for --epochs into "
      "OUT/best. Cost: --trials x --trial-epochs epochs of fine-tuning, plus the re-run. Re-running the same command "
      "resumes a killed search; the same --seed gives the same trials.");
  se->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  se->add_option("--model", sc.base.model, "an ONNX file, or a built-in architecture")->capture_default_str();
  se->add_option("--data", sc.base.data, "image folder, one subfolder per class; a folder with train/ and val/ uses both");
  se->add_option("--val", sc.base.val, "validation folder (default: DATA/val if present, else --val-split of DATA)");
  se->add_option("--val-split", sc.base.val_split, "fraction of DATA held out for validation, per class")
      ->check(CLI::Range(0.0, 0.99))->capture_default_str();
  se->add_option("--out", sc.out, "the search folder")->capture_default_str();
  se->add_option("--method", sc.method,
                 "random: each trial drawn afresh (log-uniform rates); pso: particle swarm, --population particles pulled "
                 "towards their own and the swarm's best (one generation = each particle once); ga: genetic algorithm, "
                 "tournament selection, crossover and mutation, the best kept (generation 1 = --population trials, later "
                 "ones --population - 1)")
      ->check(CLI::IsMember({"random", "pso", "ga"}))->capture_default_str();
  se->add_option("--trials", sc.trials, "fine-tunes to run (may be raised when resuming)")->capture_default_str();
  se->add_option("--trial-epochs", sc.trial_epochs, "epochs of each trial")->capture_default_str();
  se->add_option("--epochs", sc.epochs, "epochs of the best settings' full re-run")->capture_default_str();
  se->add_option("--population", sc.population, "particles (pso) or individuals (ga) per generation")->capture_default_str();
  se->add_option("--lr-range", sc.lr_range, "LOW:HIGH, log-uniform")->capture_default_str();
  se->add_option("--wd-range", sc.wd_range, "weight decay LOW:HIGH, log-uniform")->capture_default_str();
  se->add_option("--batch-sizes", sc.batch_sizes, "comma-separated choices")->capture_default_str();
  se->add_option("--head-lr-mult-range", sc.head_lr_mult_range, "LOW:HIGH, uniform")->capture_default_str();
  se->add_option("--strategies", sc.strategies,
                 "comma-separated, ordered by frozen depth (pso and ga treat neighbours as alike); default: "
                 "feature-extract, partial:STAGE for each of the model's stages (deepest first), full");
  se->add_option("--optimizer", sc.base.optimizer)->check(CLI::IsMember({"sgd", "adam", "adamw"}))->capture_default_str();
  se->add_option("--schedule", sc.base.schedule)->check(CLI::IsMember({"cosine", "onecycle", "step", "plateau", "constant"}))->capture_default_str();
  se->add_option("--momentum", sc.base.momentum)->check(CLI::Range(0.0, 1.0))->capture_default_str();
  se->add_option("--augment", sc.base.augment)->check(CLI::IsMember({"default", "none"}))->capture_default_str();
  se->add_option("--device", sc.base.device, "cpu, or cuda:N")->capture_default_str();
  se->add_option("--seed", sc.base.seed, "seeds the search and every fine-tune (the same validation split for all)")->capture_default_str();
  se->add_option("--threads", sc.base.threads, "compute threads (0: HONE_NUM_THREADS or all cores)")->check(CLI::NonNegativeNumber);
  se->add_option("--workers", sc.base.workers, "image decoding threads")->check(CLI::Range(int64_t(0), int64_t(64)))->capture_default_str();
  se->add_option("--cache-dir", sc.base.cache_dir, "feature cache (feature-extract trials share it)");
  se->add_flag("--no-rerun", no_rerun, "skip the full re-run of the best settings");
  se->add_flag("--restart", sc.restart, "discard a search already in --out instead of resuming it");
  se->callback([&] {
    sc.rerun = !no_rerun;
    hone::tools::install_interrupt_handler();
    code = hone::tools::search(sc).interrupted ? 130 : 0;
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int status = app.exit(e);
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) suggest(app, argc, argv);
    return status;
  } catch (const hone::Error& e) {
    std::cerr << "hone: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {  // a path too long for the system, out of memory, ...
    std::cerr << "hone: error: " << e.what() << "\n";
    return 1;
  } catch (...) {
    std::cerr << "hone: error: an unknown exception\n";
    return 1;
  }
  return code;
}
