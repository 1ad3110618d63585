// The fine-tuning loop. Read top to bottom it is the recipe: pick the data and the
// preprocessing, build the network and its new head, freeze by strategy, group the
// parameters (head at lr * head_lr_mult), then epochs of train + validate, keeping the
// best weights and a checkpoint to resume from.
#include "tools/finetune.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <numeric>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hone.h"
#include "io/loader.h"
#include "tools/continual_finetune.h"
#include "tools/report.h"

namespace hone::tools {

// config.json's "settings" and what --resume reads back: the settings a run can be
// restarted from (the programmatic fields, a network or data sets in memory, are not).
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(FinetuneConfig, model, data, val, val_split, strategy, epochs, batch_size,
                                                accumulate, lr, head_lr_mult, momentum, weight_decay, optimizer, schedule,
                                                warmup, early_stopping, dropout, bn, augment, device, threads, workers,
                                                seed, cache_dir, old_data, lwf, lwf_temperature, ewc, ewc_samples,
                                                joint, packnet, piggyback, packnet_retrain)

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::atomic<bool> g_interrupted{false};
void on_sigint(int) { g_interrupted = true; }

// FNV-1a over bytes: a cache key, not a security hash.
struct Hash {
  uint64_t h = 1469598103934665603ULL;
  void add(const void* p, size_t n) {
    auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  }
  void add(const std::string& s) { add(s.data(), s.size()), add("\0", 1); }
  std::string hex() const {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
  }
};

// The order of cached-feature batches: a seeded shuffle per epoch, as the image loader's.
std::vector<int64_t> permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t(0));
  if (epoch >= 0) philox_shuffle(p, splitmix64(seed ^ splitmix64(uint64_t(epoch) ^ 0x6665617475726573ull /* "features" */)));
  return p;
}

io::TransformOptions default_transform(const std::string& arch, int64_t channels, int64_t size) {
  io::TransformOptions t;
  t.channels = channels;
  t.crop = size;
  t.resize = std::lround(double(size) * 256.0 / 224.0);  // torchvision's 256 for 224, scaled
  if (channels == 1) t.mean = {0.5}, t.std = {0.5};
  if (arch == "small_resnet") t.resize = 0, t.mean = {0.2860}, t.std = {0.3530};  // Fashion-MNIST statistics
  return t;
}

io::TransformOptions transform_from_metadata(const io::onnx::Preprocessing& pre, int64_t channels, int64_t size) {
  io::TransformOptions t = default_transform("", channels, pre.input_size.size() == 2 ? pre.input_size[0] : size);
  if (pre.resize >= 0) t.resize = pre.resize;
  if (pre.mean.size() == size_t(channels)) t.mean = pre.mean;
  if (pre.std.size() == size_t(channels)) t.std = pre.std;
  return t;
}

// An ONNX model's input [N, C, H, W]: C and H (square crops), or -1 where not fixed.
std::pair<int64_t, int64_t> onnx_input(const io::onnx::OnnxModule& m) {
  const auto& in = m.model().inputs;
  if (in.empty() || in[0].dims.size() != 4) return {-1, -1};
  return {in[0].dims[1], in[0].dims[2]};
}

struct Evaluation {
  double loss = 0, acc = 0;
  std::vector<std::vector<int64_t>> confusion;
};

// Batches either from images (the loader) or from cached features.
class BatchSource {
 public:
  virtual ~BatchSource() = default;
  virtual void start_epoch(int64_t epoch, int64_t skip) = 0;
  virtual std::optional<io::Batch> next() = 0;
  virtual int64_t size() const = 0;
  virtual double wait_seconds() const { return 0; }
};

class ImageSource : public BatchSource {
 public:
  ImageSource(std::shared_ptr<const io::Dataset> ds, io::TransformOptions t, io::LoaderOptions o)
      : loader_(std::move(ds), io::Transform(std::move(t)), o) {}
  void start_epoch(int64_t epoch, int64_t skip) override { loader_.start_epoch(epoch, skip); }
  std::optional<io::Batch> next() override { return loader_.next(); }
  int64_t size() const override { return loader_.size(); }
  double wait_seconds() const override { return loader_.wait_seconds(); }

 private:
  io::DataLoader loader_;
};

class FeatureSource : public BatchSource {
 public:
  FeatureSource(Tensor features, Tensor labels, int64_t batch, bool shuffle, uint64_t seed)
      : x_(std::move(features)), y_(std::move(labels)), batch_(batch), shuffle_(shuffle), seed_(seed) {}
  void start_epoch(int64_t epoch, int64_t skip) override {
    order_ = permutation(size(), seed_, shuffle_ ? epoch : -1);
    pos_ = skip;
  }
  std::optional<io::Batch> next() override {
    if (pos_ >= size()) return std::nullopt;
    const int64_t b = std::min(batch_, size() - pos_), d = x_.size(1);
    io::Batch out;
    out.images = empty({b, d}, {.device = Device::cpu()});  // host buffers whatever HONE_DEVICE says
    out.labels = empty({b}, {.dtype = DType::Int64, .device = Device::cpu()});
    const float* src = x_.data<float>();
    const int64_t* lab = y_.data<int64_t>();
    for (int64_t i = 0; i < b; ++i) {
      const int64_t k = order_[size_t(pos_ + i)];
      std::copy(src + k * d, src + (k + 1) * d, out.images.data<float>() + i * d);
      out.labels.data<int64_t>()[i] = lab[k];
      out.indices.push_back(k);
    }
    out.position = pos_;
    pos_ += b;
    return out;
  }
  int64_t size() const override { return x_.size(0); }

 private:
  Tensor x_, y_;
  int64_t batch_;
  bool shuffle_;
  uint64_t seed_;
  std::vector<int64_t> order_;
  int64_t pos_ = 0;
};

// Moves each batch to the training device (images and labels; the host keeps the order).
// Uploads are blocking: pinned batches would need a pool of page-locked blocks first
// (cudaHostAlloc per batch and cudaFreeHost's device-wide wait cost more than they save), so
// the loader's pin_memory stays off here until that pool exists.
class DeviceSource : public BatchSource {
 public:
  DeviceSource(std::unique_ptr<BatchSource> inner, Device device) : inner_(std::move(inner)), device_(device) {}
  void start_epoch(int64_t epoch, int64_t skip) override { inner_->start_epoch(epoch, skip); }
  std::optional<io::Batch> next() override {
    auto b = inner_->next();
    if (b) b->images = b->images.to(device_), b->labels = b->labels.to(device_);
    return b;
  }
  int64_t size() const override { return inner_->size(); }
  double wait_seconds() const override { return inner_->wait_seconds(); }

 private:
  std::unique_ptr<BatchSource> inner_;
  Device device_;
};

class Progress {
 public:
  Progress(bool live, std::string label, int64_t total) : live_(live), label_(std::move(label)), total_(total) {}
  void update(int64_t done, double loss, double acc) {
    if (!live_) return;
    const double s = since(start_), rate = s > 0 ? double(done) / s : 0;
    const int width = 24, fill = total_ ? int(width * done / total_) : width;
    std::ostringstream os;
    os << '\r' << label_ << " [" << std::string(size_t(fill), '=') << (fill < width ? ">" : "")
       << std::string(size_t(std::max(0, width - fill - 1)), ' ') << "] " << std::setw(3)
       << (total_ ? 100 * done / total_ : 100) << "% " << std::fixed << std::setprecision(1) << rate << " img/s loss "
       << std::setprecision(3) << loss << " acc " << acc << " ETA " << std::setprecision(0)
       << (rate > 0 ? double(total_ - done) / rate : 0) << " s   ";
    std::cerr << os.str() << std::flush;
  }
  void done() {
    if (live_) std::cerr << "\r\033[K" << std::flush;
  }

 private:
  bool live_;
  std::string label_;
  int64_t total_;
  Clock::time_point start_ = Clock::now();
};

Evaluation evaluate(models::Classifier& net, BatchSource& src, bool features, int64_t num_classes) {
  NoGradGuard no_grad;
  net.eval();
  Evaluation e;
  e.confusion.assign(size_t(num_classes), std::vector<int64_t>(size_t(num_classes), 0));
  double loss = 0;
  int64_t n = 0, correct = 0;
  src.start_epoch(0, 0);
  while (auto b = src.next()) {
    Tensor logits = features ? net.forward_head(b->images) : net(b->images);
    const int64_t bs = b->labels.size(0);
    loss += cross_entropy(logits, b->labels).item<double>() * double(bs);
    const Tensor l = logits.to(Device::cpu()).contiguous(), labels = b->labels.to(Device::cpu());
    const float* p = l.data<float>();
    for (int64_t i = 0; i < bs; ++i) {
      const int64_t best = std::max_element(p + i * num_classes, p + (i + 1) * num_classes) - (p + i * num_classes);
      const int64_t t = labels.data<int64_t>()[i];
      correct += best == t;
      ++e.confusion[size_t(t)][size_t(best)];
    }
    n += bs;
  }
  if (n) e.loss = loss / double(n), e.acc = double(correct) / double(n);
  return e;
}

std::string cache_root(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/hone";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/hone";
  return ".hone-cache";
}

// The data and the transform, for the feature cache key.
void hash_data(Hash& h, const io::Dataset& ds) {
  for (int64_t i = 0; i < ds.size(); ++i) {
    const std::string s = ds.source(i);
    h.add(s);
    const int64_t label = ds.label(i);
    h.add(&label, sizeof label);
    std::error_code ec;
    const auto size = std::filesystem::file_size(s, ec);
    if (!ec) h.add(&size, sizeof size);
    const auto mtime = std::filesystem::last_write_time(s, ec).time_since_epoch().count();
    if (!ec) h.add(&mtime, sizeof mtime);
  }
}

void hash_transform(Hash& h, const io::TransformOptions& t) {
  std::ostringstream os;
  os << std::setprecision(17) << t.resize << ' ' << t.crop << ' ' << t.channels;
  for (double v : t.mean) os << ' ' << v;
  for (double v : t.std) os << ' ' << v;
  h.add(os.str());
}

// Runs the frozen backbone over a data set (eval transform, eval mode): [N, D] features.
std::pair<Tensor, Tensor> extract_features(models::Classifier& net, std::shared_ptr<const io::Dataset> ds,
                                           const io::TransformOptions& t, const FinetuneConfig& cfg, const char* what,
                                           Device device) {
  NoGradGuard no_grad;
  net.eval();
  ImageSource src(ds, t, {.batch_size = cfg.batch_size, .shuffle = false, .seed = cfg.seed, .workers = cfg.workers});
  Tensor feats = empty({ds->size(), net.feature_dim()}, {.device = Device::cpu()});
  Tensor labels = empty({ds->size()}, {.dtype = DType::Int64, .device = Device::cpu()});
  Progress bar(cfg.progress && isatty(2), std::string("features ") + what, ds->size());
  src.start_epoch(0, 0);
  int64_t done = 0;
  while (auto b = src.next()) {
    Tensor f = net.forward_features(b->images.to(device)).to(Device::cpu()).contiguous();
    const int64_t bs = f.size(0), d = f.size(1);
    HONE_CHECK(d == net.feature_dim(), "features: the backbone gives ", d, " features, the head takes ", net.feature_dim());
    std::copy(f.data<float>(), f.data<float>() + bs * d, feats.data<float>() + b->position * d);
    std::copy(b->labels.data<int64_t>(), b->labels.data<int64_t>() + bs, labels.data<int64_t>() + b->position);
    done += bs;
    bar.update(done, 0, 0);
  }
  bar.done();
  return {feats, labels};
}

std::string join(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// The device named by --device, checked to exist here.
Device training_device(const std::string& name) {
  const Device d = Device::parse(name);
  if (d.is_cpu()) return d;
  HONE_CHECK(cuda_built(), "--device ", name, ": this hone was built without CUDA (rebuild where nvcc is found); use --device cpu");
  HONE_CHECK(d.index < cuda_device_count(), "--device ", name, ": ", cuda_device_count() == 0 ? std::string("no CUDA device is present")
             : "there are " + std::to_string(cuda_device_count()) + " CUDA devices", "; use --device cpu");
  return d;
}

void check_config(const FinetuneConfig& c) {
  HONE_CHECK(c.epochs >= 1, "--epochs must be at least 1, got ", c.epochs);
  HONE_CHECK(c.batch_size >= 1, "--batch-size must be at least 1, got ", c.batch_size);
  HONE_CHECK(c.accumulate >= 1, "--accumulate must be at least 1, got ", c.accumulate);
  HONE_CHECK(c.lr > 0, "--lr must be positive, got ", c.lr);
  HONE_CHECK(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1), got ", c.dropout);
  HONE_CHECK(c.val_split >= 0 && c.val_split < 1, "--val-split must be in [0, 1), got ", c.val_split);
  HONE_CHECK(c.device == "cpu" || c.device.rfind("cuda", 0) == 0, "--device: 'cpu' or 'cuda:N', got '", c.device, "'");
  const bool ok = c.strategy == "feature-extract" || c.strategy == "full" || c.strategy == "scratch" ||
                  c.strategy.rfind("partial:", 0) == 0;
  HONE_CHECK(ok, "--strategy: feature-extract, partial:STAGE, full or scratch; got '", c.strategy, "'");
  HONE_CHECK(c.strategy != "partial:", "--strategy partial:STAGE needs a stage name (e.g. partial:layer3)");
  HONE_CHECK(c.bn == "train" || c.bn == "frozen" || c.bn == "auto", "--bn: train, frozen or auto; got '", c.bn, "'");
  HONE_CHECK(c.augment == "default" || c.augment == "none", "--augment: default or none; got '", c.augment, "'");
  check_continual_config(c);
}

}  // namespace

void install_interrupt_handler() { std::signal(SIGINT, on_sigint); }

bool is_model_file(const std::string& m) {
  return (m.size() > 5 && m.compare(m.size() - 5, 5, ".onnx") == 0) || std::filesystem::is_regular_file(m);
}

std::shared_ptr<io::ImageFolder> open_image_folder(const std::filesystem::path& dir) {
  auto folder = std::make_shared<io::ImageFolder>(dir);
  if (!folder->skipped().empty())
    std::cerr << "hone: skipped " << folder->skipped().size() << " unreadable file(s) in " << dir.string() << "\n";
  return folder;
}

LoadedModel load_for_inference(const std::string& spec) {
  std::filesystem::path file = spec;
  if (std::filesystem::is_directory(file)) {
    file /= "model.onnx";
    HONE_CHECK(std::filesystem::is_regular_file(file), "'", spec, "' is a folder without model.onnx (not a finished run?)");
  }
  HONE_CHECK(std::filesystem::exists(file), "model '", spec, "' not found (an ONNX file or a run folder)");
  auto net = io::onnx::import_onnx(file);
  const auto [c, s] = onnx_input(*net);
  const auto pre = io::onnx::read_preprocessing(net->model());
  LoadedModel out;
  out.transform = transform_from_metadata(pre, c > 0 ? c : 3, s > 0 ? s : 224);
  out.classes = pre.class_names;
  out.file = file;
  out.net = net;
  net->eval();
  return out;
}

FinetuneResult finetune(FinetuneConfig cfg) {
  const auto t_start = Clock::now();
  const std::filesystem::path out = cfg.out;
  if (cfg.resume) {
    const auto cj = out / "config.json";
    HONE_CHECK(std::filesystem::is_regular_file(cj), "--resume ", out.string(), ": no config.json there (not a run folder)");
    HONE_CHECK(std::filesystem::is_regular_file(out / "last.safetensors"), "--resume ", out.string(),
               ": no last.safetensors there (the run wrote no checkpoint yet)");
    std::ifstream in(cj);
    try {
      nlohmann::json::parse(in).at("settings").get_to(cfg);
    } catch (const nlohmann::json::exception& e) {
      fail("--resume: '", cj.string(), "' is not a valid run config: ", e.what());
    }
  }
  check_config(cfg);
  const Device device = training_device(cfg.device);
  if (cfg.threads > 0) Context::current().set_num_threads(int(cfg.threads));
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  HONE_CHECK(!ec && std::filesystem::is_directory(out), "cannot create the run folder '", out.string(), "': ", ec.message());
  {
    const auto probe = out / ".write-test";
    std::ofstream t(probe);
    HONE_CHECK(t.good(), "the run folder '", out.string(), "' is not writable");
    t.close();
    std::filesystem::remove(probe, ec);
  }

  // ---- data ----
  std::shared_ptr<const io::Dataset> train = cfg.train_set, val = cfg.val_set;
  if (!train) {
    HONE_CHECK(!cfg.data.empty(), "--data DIR is required (a folder with one subfolder per class)");
    std::filesystem::path data = cfg.data, val_dir = cfg.val;
    HONE_CHECK(std::filesystem::is_directory(data), "--data '", cfg.data, "' is not a folder");
    if (val_dir.empty() && std::filesystem::is_directory(data / "train") && std::filesystem::is_directory(data / "val"))
      val_dir = data / "val", data = data / "train";  // torchvision's layout: DIR/train, DIR/val
    auto all = open_image_folder(data);
    if (!val_dir.empty()) {
      auto v = open_image_folder(val_dir);
      HONE_CHECK(v->classes() == all->classes(), "the validation classes (", join(v->classes()), ") in '",
                 val_dir.string(), "' differ from the training classes (", join(all->classes()), ")");
      train = all, val = v;
    } else if (cfg.val_split > 0) {
      auto [t, v] = io::random_split(all, cfg.val_split, cfg.seed);
      train = t, val = v;
    } else {
      train = all;
    }
  }
  const std::vector<std::string> classes = train->classes();
  const int64_t num_classes = int64_t(classes.size());
  HONE_CHECK(num_classes >= 2, "fine-tuning needs at least 2 classes, the data has ", num_classes);
  const std::vector<int64_t> counts = train->class_counts();
  for (int64_t c = 0; c < num_classes; ++c)
    HONE_CHECK(counts[size_t(c)] > 0, "class '", classes[size_t(c)], "' has no training images");

  // ---- network and preprocessing ----
  Generator gen(cfg.seed);
  std::shared_ptr<models::Classifier> net = cfg.net;
  io::TransformOptions tf;
  std::string model_hash = cfg.model_hash;
  if (!net) {
    if (is_model_file(cfg.model)) {
      HONE_CHECK(std::filesystem::is_regular_file(cfg.model), "--model '", cfg.model, "' not found");
      LoadedModel m = load_for_inference(cfg.model);  // the file's preprocessing comes with it
      tf = m.transform;
      net = m.net;
    } else {
      net = models::create(cfg.model, 1000, &gen);  // a built-in architecture, randomly initialised
      const Shape in = models::default_input_shape(cfg.model);
      tf = default_transform(cfg.model, in[1], in[2]);
      model_hash = "builtin:" + cfg.model + ":" + std::to_string(cfg.seed);
    }
  }
  if (cfg.transform) tf = *cfg.transform;
  // The feature cache is keyed by the weights themselves (and by the model's name), so
  // a network retrained under the same name never reuses stale features.
  {
    Hash h;
    h.add(model_hash);
    for (const auto& [name, t] : net->state_dict()) {
      const Tensor c = t.contiguous();
      h.add(name), h.add(c.data_ptr(), size_t(c.numel()) * c.element_size());
    }
    model_hash = h.hex();
  }
  {  // does the data fit the model? (a clear message now, not a shape error mid-epoch)
    NoGradGuard no_grad;
    net->eval();
    try {
      net->forward_features(zeros({1, tf.channels, tf.crop, tf.crop}));
    } catch (const Error& e) {
      fail("the model does not take ", tf.channels, "x", tf.crop, "x", tf.crop, " images: ", e.what());
    }
  }
  const bool scratch = cfg.strategy == "scratch", extract = cfg.strategy == "feature-extract";
  // The old task's head, copied before replace_head (tools/continual_finetune.h).
  std::unique_ptr<OldTask> old = keeps_old_task(cfg) ? std::make_unique<OldTask>(cfg, net, tf) : nullptr;
  if (scratch) net->reset_parameters(&gen);
  net->replace_head(num_classes, &gen);
  if (extract) net->freeze_backbone();
  else if (cfg.strategy.rfind("partial:", 0) == 0) net->freeze_before(cfg.strategy.substr(8));
  const bool bn_all = cfg.bn == "frozen" || (cfg.bn == "auto" && cfg.batch_size < 8);
  if (bn_all && cfg.bn == "auto" && cfg.verbose)
    std::cout << "note: batch size " << cfg.batch_size << " is too small for batch statistics: batch norm is frozen (--bn train to override)\n";
  net->freeze_batchnorm(bn_all);
  if (old) old->attach();
  nn::Module& model = old ? old->model() : *net;  // what checkpoints hold: with the old task, both heads
  model.to(device);  // parameters and buffers; batches follow through DeviceSource
  const auto count = net->count_parameters();

  io::TransformOptions train_tf = tf;
  train_tf.train = cfg.augment == "default" && !extract;

  if (cfg.verbose && !cfg.resume)
    std::cout << "fine-tuning " << (cfg.net ? net->type_name() : cfg.model) << " (" << cfg.strategy << "): "
              << count.trainable << " of " << count.total << " parameters train; " << num_classes << " classes ("
              << join(classes) << "); " << train->size() << " training, " << (val ? val->size() : 0)
              << " validation images; " << cfg.epochs << " epochs -> " << out.string() << "\n";
  if (cfg.verbose && !cfg.resume && old) std::cout << old->describe() << "\n";

  // ---- batches: images, or cached backbone features ----
  FinetuneResult result;
  result.classes = classes;
  result.out = out;
  std::unique_ptr<BatchSource> train_src, val_src;
  if (extract) {
    Hash key;
    key.add(model_hash), key.add(net->type_name());
    hash_transform(key, tf);
    Hash tkey = key, vkey = key;
    hash_data(tkey, *train);
    if (val) hash_data(vkey, *val);
    const std::filesystem::path dir = cache_root(cfg.cache_dir);
    const auto file = dir / ("features-" + tkey.hex() + "-" + (val ? vkey.hex() : "none") + ".safetensors");
    Tensor tx, ty, vx, vy;
    if (std::filesystem::is_regular_file(file)) {
      try {
        auto f = io::load_safetensors(file.string());
        tx = f.tensors.at("train.features"), ty = f.tensors.at("train.labels");
        if (val) vx = f.tensors.at("val.features"), vy = f.tensors.at("val.labels");
        result.cache_saved_seconds = std::stod(f.metadata.at("backbone_seconds"));
        result.cache_hit = true;
      } catch (const std::exception& e) {
        std::cerr << "hone: warning: ignoring the feature cache '" << file.string() << "': " << e.what() << "\n";
      }
    }
    if (!result.cache_hit) {
      const auto t0 = Clock::now();
      std::tie(tx, ty) = extract_features(*net, train, tf, cfg, "train", device);
      if (val) std::tie(vx, vy) = extract_features(*net, val, tf, cfg, "val", device);
      result.backbone_seconds = since(t0);
      std::map<std::string, Tensor> tensors{{"train.features", tx}, {"train.labels", ty}};
      if (val) tensors["val.features"] = vx, tensors["val.labels"] = vy;
      std::filesystem::create_directories(dir, ec);
      try {
        io::save_safetensors(file.string(), tensors, {{"backbone_seconds", std::to_string(result.backbone_seconds)}});
      } catch (const Error& e) {
        std::cerr << "hone: warning: could not write the feature cache: " << e.what() << "\n";
      }
    }
    if (cfg.verbose) {
      if (result.cache_hit)
        std::cout << "features: from the cache " << file.string() << " (saved " << std::fixed << std::setprecision(1)
                  << result.cache_saved_seconds << " s of backbone)\n";
      else
        std::cout << "features: backbone ran once over " << train->size() + (val ? val->size() : 0) << " images in "
                  << std::fixed << std::setprecision(1) << result.backbone_seconds << " s, cached in " << file.string()
                  << "\n";
    }
    train_src = std::make_unique<FeatureSource>(tx, ty, cfg.batch_size, true, cfg.seed);
    if (val) val_src = std::make_unique<FeatureSource>(vx, vy, cfg.batch_size, false, cfg.seed);
  } else {
    train_src = std::make_unique<ImageSource>(
        train, train_tf, io::LoaderOptions{.batch_size = cfg.batch_size, .seed = cfg.seed, .workers = cfg.workers});
    if (val)
      val_src = std::make_unique<ImageSource>(
          val, tf, io::LoaderOptions{.batch_size = cfg.batch_size, .shuffle = false, .seed = cfg.seed, .workers = cfg.workers});
  }
  if (!device.is_cpu()) {
    train_src = std::make_unique<DeviceSource>(std::move(train_src), device);
    if (val_src) val_src = std::make_unique<DeviceSource>(std::move(val_src), device);
  }

  // ---- optimizer: the new head learns head_lr_mult times faster than the body ----
  std::vector<optim::ParamGroup> groups;
  if (auto body = net->body_parameters(); !body.empty()) groups.push_back({.params = body, .name = "body"});
  groups.push_back({.params = net->head_parameters(), .lr_mult = cfg.head_lr_mult, .name = "head"});
  if (old) old->add_param_groups(groups, cfg.head_lr_mult);
  std::unique_ptr<optim::Optimizer> opt;
  if (cfg.optimizer == "sgd")
    opt = std::make_unique<optim::SGD>(groups, optim::SGDOptions{.lr = cfg.lr, .momentum = cfg.momentum, .weight_decay = cfg.weight_decay});
  else if (cfg.optimizer == "adam")
    opt = std::make_unique<optim::Adam>(groups, optim::AdamOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  else if (cfg.optimizer == "adamw")
    opt = std::make_unique<optim::AdamW>(groups, optim::AdamWOptions{.lr = cfg.lr, .weight_decay = cfg.weight_decay});
  else fail("--optimizer: sgd, adam or adamw; got '", cfg.optimizer, "'");

  const int64_t steps_per_epoch = (train_src->size() + cfg.batch_size * cfg.accumulate - 1) / (cfg.batch_size * cfg.accumulate);
  const int64_t total_steps = steps_per_epoch * cfg.epochs;
  std::unique_ptr<optim::LRSchedule> sched;
  std::unique_ptr<optim::ReduceOnPlateau> plateau;
  if (cfg.schedule == "cosine")
    sched = std::make_unique<optim::CosineWithWarmup>(cfg.lr, int64_t(cfg.warmup * double(steps_per_epoch)), total_steps);
  else if (cfg.schedule == "onecycle") sched = std::make_unique<optim::OneCycle>(cfg.lr, total_steps);
  else if (cfg.schedule == "step") sched = std::make_unique<optim::StepLR>(cfg.lr, std::max<int64_t>(1, total_steps / 3), 0.1);
  else if (cfg.schedule == "constant") sched = std::make_unique<optim::StepLR>(cfg.lr, total_steps + 1, 1.0);
  else if (cfg.schedule == "plateau")
    plateau = std::make_unique<optim::ReduceOnPlateau>(optim::PlateauOptions{.mode = optim::Mode::Max, .patience = 2});
  else fail("--schedule: cosine, onecycle, step, plateau or constant; got '", cfg.schedule, "'");
  if (sched) sched->apply(*opt);
  optim::EarlyStopping stopper(optim::Mode::Max, cfg.early_stopping > 0 ? cfg.early_stopping : 1 << 30);

  // ---- resume ----
  io::TrainingState st;
  st.data_seed = cfg.seed;
  st.rng_seed = gen.seed();
  const io::CheckpointParts parts{&model, opt.get(), sched.get(), &stopper, plateau.get(),
                                  old ? old->packnet() : nullptr, nullptr, old ? old->ewc() : nullptr};
  double loss_sum = 0;
  int64_t seen = 0, correct = 0;
  if (cfg.resume) {
    st = io::load_checkpoint((out / "last.safetensors").string(), parts);
    gen.manual_seed(st.rng_seed);
    gen.set_offset(st.rng_offset);
    if (std::filesystem::exists(out / "metrics.csv")) result.history = read_metrics_csv(out / "metrics.csv");
    result.history.resize(size_t(std::min<int64_t>(int64_t(result.history.size()), st.epoch)));
    auto get = [&](const char* k) { return st.extra.count(k) ? std::stod(st.extra.at(k)) : 0.0; };
    loss_sum = get("train_loss_sum"), seen = int64_t(get("train_seen")), correct = int64_t(get("train_correct"));
    result.best_epoch = int64_t(get("best_epoch")), result.best_val_acc = get("best_val_acc");
    if (old) old->load_extra(st.extra);
    if (cfg.verbose)
      std::cout << "resuming " << out.string() << " at epoch " << st.epoch + 1 << ", sample " << st.data_position << "\n";
  }

  if (old) {
    old->prepare(*opt, device, cfg.resume);  // scores the old task, EWC's Fisher, PackNet's pruning
    result.old_task = true, result.old_classes = old->classes(), result.old_acc_before = old->acc_before;
    if (cfg.verbose && !cfg.resume && old->has_data())
      std::cout << "old task before fine-tuning: accuracy " << std::fixed << std::setprecision(3) << old->acc_before
                << "\n" << std::defaultfloat;
  }

  // ---- config.json: everything this run used ----
  nlohmann::json cj;
  cj["hone_version"] = HONE_VERSION;
  cj["settings"] = cfg;
  cj["classes"] = classes;
  cj["preprocessing"] = {{"resize", tf.resize}, {"crop", tf.crop}, {"channels", tf.channels}, {"mean", tf.mean},
                         {"std", tf.std}, {"train_augmentation", train_tf.train}};
  cj["data"] = {{"train_samples", train->size()}, {"val_samples", val ? val->size() : 0}};
  cj["network"] = {{"type", net->type_name()}, {"parameters", count.total}, {"trainable", count.trainable},
                   {"head", net->head_patterns()}, {"feature_dim", net->feature_dim()}};
  if (old) cj["old_task"] = {{"classes", old->classes()}, {"has_data", old->has_data()}};
  write_text_file(out / "config.json", cj.dump(2) + "\n");


  auto save_last = [&](int64_t epoch, int64_t position) {
    st.epoch = epoch, st.data_position = position, st.step = opt->step_count();
    st.rng_seed = gen.seed(), st.rng_offset = gen.offset();
    auto num = [](double v) {
      std::ostringstream os;
      os << std::setprecision(17) << v;
      return os.str();
    };
    st.extra = {{"train_loss_sum", num(loss_sum)}, {"train_seen", num(double(seen))}, {"train_correct", num(double(correct))},
                {"best_epoch", num(double(result.best_epoch))}, {"best_val_acc", num(result.best_val_acc)}};
    if (old)
      for (const auto& [k, v] : old->extra()) st.extra[k] = v;
    io::save_checkpoint((out / "last.safetensors").string(), parts, st);
  };

  // ---- the epochs ----
  const bool live = cfg.progress && isatty(2);
  // HONE_TEST_KILL_AFTER_STEPS=N: the process kills itself (SIGKILL) after N optimizer
  // steps, so tests can prove --resume without racing a timer.
  const char* kill_env = std::getenv("HONE_TEST_KILL_AFTER_STEPS");
  const int64_t kill_after = kill_env ? std::atoll(kill_env) : 0;
  const char* int_env = std::getenv("HONE_TEST_INTERRUPT_AFTER_STEPS");  // likewise, SIGINT
  const int64_t int_after = int_env ? std::atoll(int_env) : 0;
  g_interrupted = false;
  Evaluation last_eval;  // the last epoch's, reused below while its weights are the final ones
  for (int64_t epoch = st.epoch; epoch < cfg.epochs; ++epoch) {
    const auto t0 = Clock::now();
    const double wait0 = train_src->wait_seconds();
    const int64_t skip = epoch == st.epoch ? st.data_position : 0;
    if (skip == 0) loss_sum = 0, seen = 0, correct = 0;
    const int64_t seen_before = seen;  // a resumed epoch's samples before the restart were timed by the first run
    net->train();
    train_src->start_epoch(epoch, skip);
    Progress bar(live, "epoch " + std::to_string(epoch + 1) + "/" + std::to_string(cfg.epochs), train_src->size());
    int64_t in_step = 0, position = skip;
    opt->zero_grad();
    while (auto b = train_src->next()) {
      auto scope = old ? old->train_scope() : nullptr;  // Piggyback's masks, across forward and backward
      Tensor x = b->images;
      if (old) old->begin_step(x, extract);
      Tensor f = extract ? x : net->forward_features(x);
      if (cfg.dropout > 0) f = dropout(f, cfg.dropout, true, &gen);
      Tensor logits = net->forward_head(f);
      Tensor loss = cross_entropy(logits, b->labels);
      const int64_t bs = b->labels.size(0);
      Tensor total = loss;  // the new task's loss, plus what keeps the old task (train_loss reports the new task's)
      if (old)
        if (Tensor e = old->extra_loss(f); e.defined()) total = loss + e;
      // Accumulated batches: each contributes its share of the mean over the step.
      (cfg.accumulate > 1 ? total * (1.0 / double(cfg.accumulate)) : total).backward();
      scope.reset();
      const double loss_value = loss.item<double>();
      if (!std::isfinite(loss_value))
        throw TrainingDiverged(detail::concat(
            "the training loss became ", loss_value, " at epoch ", epoch + 1, ", sample ", b->position, " (",
            opt->step_count(), " steps done): the learning rate (", opt->lr(), ", head x", cfg.head_lr_mult,
            ") is too high for this model, or its weights or inputs are not what it was trained on; try a lower --lr"));
      loss_sum += loss_value * double(bs);
      correct += int64_t(std::llround(topk_accuracy(logits.detach(), b->labels, 1) * double(bs)));
      seen += bs;
      position = b->position + bs;
      if (++in_step == cfg.accumulate || position == train_src->size()) {
        opt->step();
        opt->zero_grad();
        if (sched) sched->step(*opt);
        in_step = 0;
        if (kill_after > 0 && opt->step_count() == kill_after) std::raise(SIGKILL);  // crash tests
        if (int_after > 0 && opt->step_count() == int_after) std::raise(SIGINT);    // as Ctrl-C
        if (g_interrupted) {
          bar.done();
          save_last(epoch, position);
          result.interrupted = true;
          result.seconds = since(t_start);
          return result;
        }
      }
      bar.update(position, loss_sum / double(std::max<int64_t>(seen, 1)), double(correct) / double(std::max<int64_t>(seen, 1)));
    }
    bar.done();
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_img_per_s = double(seen - seen_before) / std::max(since(t0), 1e-9);
    m.train_loss = loss_sum / double(std::max<int64_t>(seen, 1));
    m.train_acc = double(correct) / double(std::max<int64_t>(seen, 1));
    m.lr = opt->lr();
    if (val_src) {
      auto scope = old ? old->eval_scope() : nullptr;
      last_eval = evaluate(*net, *val_src, extract, num_classes);
      m.val_loss = last_eval.loss, m.val_acc = last_eval.acc;
    } else {
      m.val_loss = m.train_loss, m.val_acc = m.train_acc;
    }
    if (old && old->has_data()) m.old_val_acc = old->score();
    m.seconds = since(t0);
    m.wait_seconds = train_src->wait_seconds() - wait0;
    result.history.push_back(m);
    if (plateau) plateau->step(*opt, m.val_acc);
    stopper.update(m.val_acc);
    if (result.best_epoch == 0 || m.val_acc > result.best_val_acc) {
      result.best_epoch = m.epoch, result.best_val_acc = m.val_acc;
      io::save_checkpoint((out / "best.safetensors").string(), {.model = &model}, st);
    }
    loss_sum = 0, seen = 0, correct = 0;
    save_last(epoch + 1, 0);
    write_metrics_csv(out / "metrics.csv", result.history);
    if (cfg.verbose)
      std::cout << "epoch " << m.epoch << "/" << cfg.epochs << "  train loss " << std::fixed << std::setprecision(4)
                << m.train_loss << " acc " << std::setprecision(3) << m.train_acc << "  val loss " << std::setprecision(4)
                << m.val_loss << " acc " << std::setprecision(3) << m.val_acc << "  lr " << std::setprecision(5) << m.lr
                << "  " << std::setprecision(1) << m.seconds << " s (waited " << m.wait_seconds << " s for data)\n"
                << std::defaultfloat;
    if (cfg.early_stopping > 0 && stopper.should_stop()) {
      result.stopped_early = true;
      if (cfg.verbose) std::cout << "early stopping: no better val accuracy for " << cfg.early_stopping << " epochs\n";
      break;
    }
  }

  // ---- the best epoch's model: confusion matrix, curves, ONNX ----
  const bool best_is_last = !result.history.empty() && result.best_epoch == result.history.back().epoch;
  if (cfg.keep_best && !best_is_last) io::load_checkpoint((out / "best.safetensors").string(), {.model = &model});
  if (val_src) {
    const bool scored = !last_eval.confusion.empty() && (best_is_last || !cfg.keep_best);
    auto scope = old ? old->eval_scope() : nullptr;
    result.confusion = scored ? last_eval.confusion : evaluate(*net, *val_src, extract, num_classes).confusion;
    write_confusion(out / "confusion.csv", out / "confusion.svg", result.confusion, classes);
  }
  result.final_val_acc = result.history.empty() ? 0 : result.history.back().val_acc;
  std::vector<Series> loss(2), acc(2);
  loss[0].name = acc[0].name = "train", loss[1].name = acc[1].name = "validation";
  for (const auto& m : result.history) {
    loss[0].values.push_back(m.train_loss), loss[1].values.push_back(m.val_loss);
    acc[0].values.push_back(m.train_acc), acc[1].values.push_back(m.val_acc);
  }
  write_curves_svg(out / "curves.svg", "hone finetune " + cfg.strategy + " (" + (cfg.net ? net->type_name() : cfg.model) + ")",
                   loss, acc);
  io::onnx::ExportOptions eo;
  eo.channels = tf.channels;
  eo.preprocessing = {.input_size = {tf.crop, tf.crop}, .resize = tf.resize, .mean = tf.mean, .std = tf.std, .class_names = classes};
  if (old && old->has_data()) {
    const bool scored = !result.history.empty() && (best_is_last || !cfg.keep_best);
    result.old_acc_after = scored ? result.history.back().old_val_acc : old->score();
  }
  model.eval();
  model.to(Device::cpu());  // the export traces a forward on host inputs
  if (old) old->export_models(out, eo);  // model.onnx and old-task.onnx
  else io::onnx::export_onnx(*net, out / "model.onnx", eo);
  result.seconds = since(t_start);
  return result;
}

}  // namespace hone::tools
