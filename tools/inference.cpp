#include "tools/inference.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "hone.h"
#include "io/loader.h"

namespace hone::tools {

std::vector<Prediction> predict(LoadedModel& model, const std::vector<std::string>& images, int64_t top) {
  NoGradGuard no_grad;
  model.net->eval();
  io::Transform t(model.transform);
  std::vector<Prediction> out;
  for (const auto& path : images) {
    io::Image img = io::read_image(path, t.decode_options());
    Tensor x = empty({1, model.transform.channels, model.transform.crop, model.transform.crop});
    t.apply(img, 0, 0, 0, x.data<float>());
    Tensor p = softmax((*model.net)(x), 1).contiguous();
    const int64_t k = p.size(1);
    std::vector<int64_t> idx(static_cast<size_t>(k));
    std::iota(idx.begin(), idx.end(), 0);
    const float* v = p.data<float>();
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return v[a] > v[b]; });
    Prediction pr{path, {}, {}};
    for (int64_t i = 0; i < std::min(top, k); ++i) pr.classes.push_back(idx[size_t(i)]), pr.probabilities.push_back(v[idx[size_t(i)]]);
    out.push_back(pr);
  }
  return out;
}

EvalReport evaluate_folder(LoadedModel& model, const std::string& dir, int64_t batch_size, int64_t workers) {
  NoGradGuard no_grad;
  model.net->eval();
  auto ds = open_image_folder(dir);
  const int64_t k = model.net->num_classes();
  EvalReport r;
  r.classes = ds->classes();
  // folder label -> model class
  std::vector<int64_t> to_model(r.classes.size());
  if (!model.classes.empty()) {
    r.predicted_names = model.classes;
    for (size_t i = 0; i < r.classes.size(); ++i) {
      auto it = std::find(model.classes.begin(), model.classes.end(), r.classes[i]);
      HONE_CHECK(it != model.classes.end(), "eval: the folder's class '", r.classes[i], "' is not one of the model's classes");
      to_model[i] = it - model.classes.begin();
    }
  } else {
    HONE_CHECK(int64_t(r.classes.size()) <= k, "eval: the folder has ", r.classes.size(), " classes, the model ", k,
               " outputs (and no class names to match them)");
    for (size_t i = 0; i < r.classes.size(); ++i) to_model[i] = int64_t(i), r.predicted_names.push_back(std::to_string(i));
  }
  r.confusion.assign(r.classes.size(), std::vector<int64_t>(size_t(k), 0));
  io::DataLoader loader(ds, io::Transform(model.transform), {.batch_size = batch_size, .shuffle = false, .workers = workers});
  loader.start_epoch(0);
  int64_t correct = 0, top5 = 0;
  while (auto b = loader.next()) {
    Tensor logits = (*model.net)(b->images).contiguous();
    const float* v = logits.data<float>();
    for (int64_t i = 0; i < logits.size(0); ++i) {
      const int64_t label = b->labels.data<int64_t>()[i], want = to_model[size_t(label)];
      const float* row = v + i * k;
      const int64_t best = std::max_element(row, row + k) - row;
      int64_t rank = 0;  // how many classes score above the true one
      for (int64_t c = 0; c < k; ++c) rank += row[c] > row[want];
      correct += best == want;
      top5 += rank < 5;
      ++r.confusion[size_t(label)][size_t(best)];
      ++r.samples;
    }
  }
  r.accuracy = r.samples ? double(correct) / double(r.samples) : 0;
  r.top5 = r.samples ? double(top5) / double(r.samples) : 0;
  for (size_t i = 0; i < r.classes.size(); ++i) {
    int64_t n = 0;
    for (int64_t v : r.confusion[i]) n += v;
    r.per_class.push_back(n ? double(r.confusion[i][size_t(to_model[i])]) / double(n) : 0);
  }
  return r;
}

}  // namespace hone::tools
