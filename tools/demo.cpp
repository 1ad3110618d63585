#include "tools/demo.h"

#include <chrono>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hone.h"
#include "io/dataset.h"
#include "io/loader.h"
#include "tools/finetune.h"
#include "tools/report.h"

namespace hone::tools {

namespace {

struct Row {
  std::string strategy;
  double test_acc = 0, seconds = 0;
  int64_t trainable = 0;
  std::vector<double> curve, loss;
};

// Accuracy of `net` on every sample of `ds` (evaluation transform, eval mode).
double test_accuracy(models::Classifier& net, std::shared_ptr<const io::Dataset> ds, const io::TransformOptions& t) {
  NoGradGuard no_grad;
  net.eval();
  io::DataLoader loader(ds, io::Transform(t), {.batch_size = 256, .shuffle = false, .workers = 1});
  loader.start_epoch(0);
  double correct = 0;
  while (auto b = loader.next()) correct += topk_accuracy(net(b->images), b->labels, 1) * double(b->labels.size(0));
  return correct / double(ds->size());
}

}  // namespace

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');)
    if (!item.empty()) out.push_back(item);
  return out;
}

DemoData demo_data(const DemoConfig& c) {
  DemoData d;
  d.train = io::fashion_mnist("train", c.data_dir);
  d.test = io::fashion_mnist("test", c.data_dir);
  d.source_train = io::per_class(io::class_subset(d.train, {0, 1, 2, 3, 4}), c.source_per_class, c.seed);
  d.source_test = io::class_subset(d.test, {0, 1, 2, 3, 4});
  d.target_train = io::per_class(io::class_subset(d.train, {5, 6, 7, 8, 9}), c.labels_per_class, c.seed + 1);
  d.target_test = io::class_subset(d.test, {5, 6, 7, 8, 9});
  d.transform = {.resize = 0, .crop = 28, .channels = 1, .mean = {0.2860}, .std = {0.3530}};
  return d;
}

std::filesystem::path source_model(const DemoConfig& c, const DemoData& d) {
  if (!c.source_model.empty()) {
    std::cout << "  using " << c.source_model << " (--source-model): no pretraining\n";
    return c.source_model;
  }
  const std::filesystem::path out = std::filesystem::path(c.out) / "source";
  FinetuneConfig src;
  src.net = models::small_resnet(5, 1, {16, 32, 64}, {1, 1, 1});
  src.train_set = d.source_train;
  src.val_set = io::per_class(d.source_test, 200, c.seed);
  src.transform = d.transform;
  src.model_hash = "demo-source";
  src.strategy = "full", src.epochs = c.source_epochs, src.batch_size = 64, src.lr = 0.1, src.head_lr_mult = 1;
  src.schedule = "onecycle", src.augment = "none", src.seed = c.seed, src.out = out.string();
  src.weight_decay = 5e-4, src.keep_best = false, src.device = c.device;
  const FinetuneResult pre = finetune(src);
  if (pre.interrupted) return {};
  std::cout << "  source test accuracy " << std::fixed << std::setprecision(3) << pre.final_val_acc
            << " (1000 test images); exported " << (out / "model.onnx").string() << "\n";
  return out / "model.onnx";
}

double file_accuracy(const std::filesystem::path& onnx, std::shared_ptr<const io::Dataset> ds, const io::TransformOptions& t) {
  auto net = io::onnx::import_onnx(onnx);
  return test_accuracy(*net, std::move(ds), t);
}

int run_demo(const DemoConfig& c) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  if (c.threads > 0) Context::current().set_num_threads(int(c.threads));
  const std::filesystem::path out = c.out;
  std::filesystem::create_directories(out);
  const DemoData d = demo_data(c);
  const auto& source_test = d.source_test;
  const auto& target_train = d.target_train;
  const auto& target_test = d.target_test;
  auto target_curve = io::per_class(target_test, c.curve_per_class, c.seed + 2);
  const io::TransformOptions tf = d.transform;

  std::cout << "hone demo: what fine-tuning buys, on real images (Fashion-MNIST, " << Context::current().num_threads()
            << " threads)\n"
            << "  source task: " << source_test->classes().size() << " classes (";
  for (const auto& n : source_test->classes()) std::cout << n << (&n == &source_test->classes().back() ? "" : ", ");
  std::cout << "), " << d.source_train->size() << " training images\n  target task: 5 classes (";
  for (const auto& n : target_test->classes()) std::cout << n << (&n == &target_test->classes().back() ? "" : ", ");
  std::cout << "), " << c.labels_per_class << " labelled images per class, tested on " << target_test->size()
            << " test images\n\n[1/3] pretraining the small ResNet on the source task (" << c.source_epochs
            << " epochs)\n";

  // 1. Pretrain, then export: the file a user would download.
  const std::filesystem::path pretrained = source_model(c, d);
  if (pretrained.empty()) return 130;
  std::cout << "\n[2/3] fine-tuning the imported file on the target task, " << c.epochs << " epochs per strategy\n";

  // 2. Each strategy starts from the same imported file.
  std::vector<Row> rows;
  for (const std::string& strategy : split_list(c.strategies)) {
    FinetuneConfig f;
    auto net = io::onnx::import_onnx(pretrained);
    f.net = net;
    f.model = pretrained.string();
    f.model_hash = "demo-source";
    f.train_set = target_train, f.val_set = target_curve, f.transform = tf;
    f.strategy = strategy, f.epochs = c.epochs, f.batch_size = c.batch_size, f.seed = c.seed;
    f.schedule = "onecycle", f.augment = "none", f.weight_decay = 5e-4, f.keep_best = false, f.device = c.device;
    // From scratch every layer is new: one rate for all. Pretrained layers move gently and
    // the new head learns 10x faster.
    if (strategy == "scratch") f.lr = 0.1, f.head_lr_mult = 1;
    else f.lr = 0.01, f.head_lr_mult = 10;
    f.out = (out / (strategy == "feature-extract" ? "feature-extract" : strategy.substr(0, strategy.find(':')))).string();
    f.verbose = false;
    std::cout << "  " << std::left << std::setw(16) << strategy << std::right << std::flush;
    const FinetuneResult r = finetune(f);
    if (r.interrupted) return 130;
    Row row{strategy, test_accuracy(*net, target_test, tf), r.seconds, net->count_parameters().trainable, {}};
    for (const auto& m : r.history) row.curve.push_back(m.val_acc), row.loss.push_back(m.val_loss);
    std::cout << " test accuracy " << std::fixed << std::setprecision(3) << row.test_acc << "  (" << std::setprecision(1)
              << row.seconds << " s, " << row.trainable << " parameters trained)\n";
    rows.push_back(row);
  }

  // 3. What happened.
  std::ostringstream table;
  table << "| strategy | trained parameters | target test accuracy | seconds |\n|---|---|---|---|\n";
  for (const auto& r : rows)
    table << "| " << r.strategy << " | " << r.trainable << " | " << std::fixed << std::setprecision(3) << r.test_acc
          << " | " << std::setprecision(1) << r.seconds << " |\n";
  std::cout << "\n[3/3] results (" << target_test->size() << " target test images, last epoch's weights)\n\n"
            << table.str() << "\n";
  const Row* scratch = nullptr;
  const Row* best = nullptr;
  for (const auto& r : rows) {
    if (r.strategy == "scratch") scratch = &r;
    else if (!best || r.test_acc > best->test_acc) best = &r;
  }
  if (scratch && best) {
    const double gain = (best->test_acc - scratch->test_acc) * 100;
    std::cout << "measured: the best pretrained start (" << best->strategy << ", " << std::setprecision(3)
              << best->test_acc << ") " << (gain > 0 ? "beats" : "does not beat") << " training from scratch ("
              << scratch->test_acc << ") by " << std::setprecision(1) << gain << " points with " << c.labels_per_class
              << " labels per class and equal epochs.\n";
    for (const auto& r : rows)
      if (&r != scratch && &r != best)
        std::cout << "          " << r.strategy << ": " << std::setprecision(3) << r.test_acc << " ("
                  << std::showpos << std::setprecision(1) << (r.test_acc - scratch->test_acc) * 100 << std::noshowpos
                  << " points vs scratch)\n";
  }
  std::vector<Series> acc, loss;
  for (const auto& r : rows) acc.push_back({r.strategy, r.curve}), loss.push_back({r.strategy, r.loss});
  write_curves_svg(out / "curves.svg", "target task, by strategy: loss and accuracy per epoch on " +
                                           std::to_string(c.curve_per_class * 5) + " test images", loss, acc);
  write_text_file(out / "results.md", table.str());
  nlohmann::json j{{"seed", c.seed}, {"labels_per_class", c.labels_per_class}, {"epochs", c.epochs},
                   {"source_per_class", c.source_per_class}, {"source_epochs", c.source_epochs}};
  for (const auto& r : rows) j["strategies"][r.strategy] = {{"test_accuracy", r.test_acc}, {"seconds", r.seconds}};
  write_text_file(out / "results.json", j.dump(2) + "\n");
  std::cout << "\nwrote " << (out / "results.md").string() << ", " << (out / "curves.svg").string()
            << " and a run folder per strategy (metrics.csv, curves.svg, confusion.svg, model.onnx)\n"
            << "total " << std::setprecision(0) << std::chrono::duration<double>(Clock::now() - t0).count() << " s\n";
  return 0;
}

}  // namespace hone::tools
