#pragma once
// `hone demo`: the main job on data every machine can have. No ImageNet weights can be
// assumed, so the demo makes its own pretrained network and shows what fine-tuning buys:
//   1. source task: Fashion-MNIST classes 0-4 (tops and trousers); the small ResNet
//      learns them, and is exported to ONNX, the way a pretrained network arrives;
//   2. target task: classes 5-9 (sandals, shirts, sneakers, bags, boots) with only a few
//      labelled images per class; the exported file is imported back and fine-tuned with
//      each strategy (scratch, feature-extract, partial, full) for the same epochs;
//   3. a table of test accuracy and time per strategy, curves, and what the numbers show.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "io/dataset.h"
#include "io/transforms.h"

namespace hone::tools {

struct DemoConfig {
  std::string out = "runs/demo";
  std::string data_dir;              // Fashion-MNIST IDX files; empty: Debian's location
  int64_t source_per_class = 6000;   // source images per class (all of them)
  int64_t source_epochs = 2;
  int64_t labels_per_class = 5;      // labelled target images per class (see README: The demo)
  int64_t epochs = 30;               // target epochs, the same for every strategy
  int64_t curve_per_class = 100;     // test images per class scored after every epoch
  int64_t batch_size = 16;
  uint64_t seed = 0;
  int64_t threads = 0;
  std::string device = "cpu";        // where every fine-tune trains: cpu or cuda:N
  std::string strategies = "scratch,feature-extract,partial:layer2,full";
  std::string source_model;          // an earlier run's source/model.onnx: skip pretraining
  // --forgetting: the old task kept or forgotten, technique by technique (tools/forgetting.cpp)
  bool forgetting = false;
  std::string techniques = "fine-tune,feature-extract,lwf,ewc,joint,packnet,piggyback";
  int64_t old_per_class = 200;       // --forgetting: source images per class that EWC and joint training see
};

// What both demos share: Fashion-MNIST split into the source task (classes 0-4) and the
// target task (classes 5-9, `labels_per_class` labelled images each), and the transform.
struct DemoData {
  std::shared_ptr<const io::Dataset> train, test;                 // all of Fashion-MNIST
  std::shared_ptr<const io::Dataset> source_train, source_test;   // classes 0-4
  std::shared_ptr<const io::Dataset> target_train, target_test;   // classes 5-9
  io::TransformOptions transform;
};
DemoData demo_data(const DemoConfig& config);

// The pretrained file every fine-tune starts from: the small ResNet trained on the source
// task and exported to ONNX (or --source-model). Empty after Ctrl-C.
std::filesystem::path source_model(const DemoConfig& config, const DemoData& data);

// Accuracy of an ONNX file (as exported, eval mode) on every image of `ds`.
double file_accuracy(const std::filesystem::path& onnx, std::shared_ptr<const io::Dataset> ds,
                     const io::TransformOptions& t);

// --strategies and --techniques: the comma-separated names, empty ones skipped.
std::vector<std::string> split_list(const std::string& s);

// Returns the process exit status (0, or 130 after Ctrl-C).
int run_demo(const DemoConfig& config);
int run_forgetting_demo(const DemoConfig& config);

}  // namespace hone::tools
