#pragma once
// `hone predict` and `hone eval`: a model (an ONNX file or a run folder) on images, with
// the preprocessing its metadata records (else torchvision's ImageNet evaluation transform).
#include <string>
#include <vector>

#include "tools/finetune.h"

namespace hone::tools {

struct Prediction {
  std::string image;
  std::vector<int64_t> classes;  // best first
  std::vector<double> probabilities;
};
std::vector<Prediction> predict(LoadedModel& model, const std::vector<std::string>& images, int64_t top = 5);

struct EvalReport {
  int64_t samples = 0;
  double accuracy = 0, top5 = 0;
  std::vector<std::string> classes;                // the folder's classes
  std::vector<double> per_class;                   // accuracy per folder class
  std::vector<std::vector<int64_t>> confusion;     // [true folder class][predicted model class]
  std::vector<std::string> predicted_names;        // the model's classes (columns)
};
// Folder classes are matched to the model's class names when the model has them (a
// folder class the model does not know is an error naming it); otherwise by order.
EvalReport evaluate_folder(LoadedModel& model, const std::string& dir, int64_t batch_size = 32, int64_t workers = 2);

}  // namespace hone::tools
