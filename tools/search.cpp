// `hone search`, read top to bottom: check the settings and build the search space, write
// or match search.json, replay the finished trials into a fresh searcher, run the rest in
// turn (each a short tools::finetune), then the top 5 and the best re-run in full.
#include "tools/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hone_config.h"
#include "models/zoo.h"
#include "tensor/error.h"
#include "tools/hpsearch.h"
#include "tools/report.h"

namespace hone::tools {

namespace {

namespace fs = std::filesystem;
using hpsearch::Dimension;
using hpsearch::Space;
using Json = nlohmann::ordered_json;

// The space's dimensions, in this order (trials.csv's columns).
enum Dim { kLr, kWd, kBatch, kHeadMult, kStrategy };

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(item);
  return out;
}

double number(const char* flag, const std::string& whole, const std::string& text) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  HONE_CHECK(!text.empty() && end == text.c_str() + text.size() && std::isfinite(v), flag, " ", whole, ": '", text,
             "' is not a number");
  return v;
}

// LOW:HIGH, checked (a log scale needs LOW > 0).
Dimension range(const char* flag, const char* name, const std::string& text, bool log) {
  const size_t colon = text.find(':');
  HONE_CHECK(colon != std::string::npos, flag, " ", text, ": expected LOW:HIGH (e.g. ", log ? "1e-4:1e-1" : "1:30", ")");
  const double lo = number(flag, text, text.substr(0, colon)), hi = number(flag, text, text.substr(colon + 1));
  HONE_CHECK(lo < hi, flag, " ", text, ": LOW must be below HIGH");
  HONE_CHECK(lo > 0 || (!log && lo == 0), flag, " ", text, ": LOW must be ", log ? "positive (a log-uniform range)" : "at least 0");
  return log ? Dimension::log_uniform(name, lo, hi) : Dimension::uniform(name, lo, hi);
}

// Strategies ordered by frozen depth: feature-extract, partial:STAGE deepest first, full.
// The first stage is left out (partial there freezes nothing: full), and so is the head's.
std::vector<std::string> default_strategies(const models::Classifier& net) {
  std::string head_stage;
  for (const auto& [name, t] : net.named_parameters())
    if (net.is_head_parameter(name)) head_stage = net.stage_path(name).substr(0, net.stage_path(name).find('.'));
  std::vector<std::string> stages = net.stages(), out{"feature-extract"};
  for (size_t i = stages.size(); i-- > 1;)
    if (stages[i] != head_stage) out.push_back("partial:" + stages[i]);
  out.push_back("full");
  return out;
}

std::vector<std::string> strategies(const SearchConfig& c) {
  auto net = is_model_file(c.base.model) ? load_for_inference(c.base.model).net : models::create(c.base.model);
  if (c.strategies.empty()) return default_strategies(*net);
  std::vector<std::string> out;
  for (const std::string& s : split(c.strategies)) {
    if (s.rfind("partial:", 0) == 0) {
      try {
        net->freeze_before(s.substr(8));  // throws naming the model's stages
      } catch (const Error& e) {
        fail("--strategies ", c.strategies, ": ", s, ": ", e.what());
      }
    } else {
      HONE_CHECK(s == "feature-extract" || s == "full", "--strategies ", c.strategies, ": '", s,
                 "' is not feature-extract, partial:STAGE or full");
    }
    HONE_CHECK(std::find(out.begin(), out.end(), s) == out.end(), "--strategies ", c.strategies, ": '", s, "' twice");
    out.push_back(s);
  }
  return out;
}

Space build_space(const SearchConfig& c) {
  std::vector<double> batches;
  for (const std::string& b : split(c.batch_sizes)) {
    const double v = number("--batch-sizes", c.batch_sizes, b);
    HONE_CHECK(v >= 1 && v <= 65536 && v == std::floor(v), "--batch-sizes ", c.batch_sizes, ": '", b,
               "' is not a whole number from 1 to 65536");
    batches.push_back(v);
  }
  HONE_CHECK(!batches.empty(), "--batch-sizes: at least one batch size");
  return {range("--lr-range", "lr", c.lr_range, true), range("--wd-range", "weight_decay", c.wd_range, true),
          Dimension::choice("batch_size", batches), range("--head-lr-mult-range", "head_lr_mult", c.head_lr_mult_range, false),
          Dimension::categorical("strategy", strategies(c))};
}

Json space_json(const Space& space) {
  static const char* kinds[] = {"log-uniform", "uniform", "choice", "categorical"};
  Json out = Json::array();
  for (const Dimension& d : space) {
    Json j{{"name", d.name}, {"kind", kinds[int(d.kind)]}};
    if (d.kind == Dimension::Kind::Choice) j["choices"] = d.choices;
    else if (d.kind == Dimension::Kind::Categorical) j["categories"] = d.categories;
    else j["low"] = d.low, j["high"] = d.high;
    out.push_back(j);
  }
  return out;
}

// What must match for a search to resume: everything that changes the trials' points or
// scores. The trial count, the full re-run's epochs and threads may change.
Json identity(const SearchConfig& c, const Space& space) {
  const FinetuneConfig& b = c.base;
  return {{"search", {{"method", c.method}, {"seed", b.seed}, {"population", c.population},
                      {"trial_epochs", c.trial_epochs}, {"space", space_json(space)}}},
          {"fixed", {{"model", b.model}, {"data", b.data}, {"val", b.val}, {"val_split", b.val_split},
                     {"optimizer", b.optimizer}, {"schedule", b.schedule}, {"momentum", b.momentum},
                     {"augment", b.augment}, {"accumulate", b.accumulate}, {"warmup", b.warmup},
                     {"early_stopping", b.early_stopping}, {"dropout", b.dropout}, {"bn", b.bn}, {"device", b.device}}}};
}

// The first place two JSON values differ, as "path: A there, B now".
std::string difference(const Json& was, const Json& now, const std::string& path) {
  if (was.is_object() && now.is_object()) {
    for (const auto& [k, v] : now.items())
      if (!was.contains(k) || was[k] != v) return difference(was.contains(k) ? was[k] : Json(), v, path + "." + k);
  } else if (was.is_array() && now.is_array() && was.size() == now.size()) {
    for (size_t i = 0; i < now.size(); ++i)
      if (was[i] != now[i]) return difference(was[i], now[i], path + "[" + std::to_string(i) + "]");
  }
  return path.substr(1) + ": " + was.dump() + " there, " + now.dump() + " now";
}

const char* kHeader = "trial,method,generation,lr,weight_decay,batch_size,head_lr_mult,strategy,val_acc,val_loss,seconds";

std::string exact(double v) {
  std::ostringstream os;
  os << std::setprecision(17) << v;
  return os.str();
}

void write_trials(const fs::path& out, const std::string& method, const std::vector<Trial>& trials) {
  std::ostringstream os;
  os << kHeader << "\n";
  for (const Trial& t : trials)
    os << t.index << ',' << method << ',' << t.generation << ',' << t.lr << ',' << t.weight_decay << ',' << t.batch_size
       << ',' << t.head_lr_mult << ',' << t.strategy << ',' << exact(t.val_acc) << ',' << exact(t.val_loss) << ','
       << std::fixed << std::setprecision(3) << t.seconds << "\n";
  write_text_file(out / "trials.csv", os.str());
  std::vector<Series> loss{{"val loss", {}}}, acc{{"val accuracy", {}}, {"best so far", {}}};
  for (const Trial& t : trials) {
    loss[0].values.push_back(t.val_loss), acc[0].values.push_back(t.val_acc);
    acc[1].values.push_back(std::max(t.val_acc, acc[1].values.empty() ? 0.0 : acc[1].values.back()));
  }
  write_curves_svg(out / "trials.svg", "hone search (" + method + "): " + std::to_string(trials.size()) + " trials", loss,
                   acc, "trial");
}

std::vector<Trial> read_trials(const fs::path& file) {
  std::vector<Trial> out;
  std::ifstream in(file);
  if (!in) return out;
  std::string line;
  std::getline(in, line);
  HONE_CHECK(line == kHeader, "'", file.string(), "' is not a trials.csv of this hone (header '", line, "')");
  while (std::getline(in, line)) {
    const auto f = split(line);
    HONE_CHECK(f.size() == 11, "'", file.string(), "': bad line '", line, "'");
    try {
      out.push_back({std::stoll(f[0]), std::stoll(f[2]), f[3], f[4], f[5], f[6], f[7], std::stod(f[8]), std::stod(f[9]),
                     std::stod(f[10])});
    } catch (const std::exception&) {
      fail("'", file.string(), "': bad line '", line, "'");
    }
  }
  return out;
}

hpsearch::Score score(const Trial& t) { return {t.val_acc, -t.val_loss}; }

// The settings as printed (what a trial runs with, tools::finetune being deterministic).
bool same_settings(const Trial& a, const Trial& b) {
  return a.lr == b.lr && a.weight_decay == b.weight_decay && a.batch_size == b.batch_size &&
         a.head_lr_mult == b.head_lr_mult && a.strategy == b.strategy;
}

std::string describe(const Trial& t) {
  auto g = [](const std::string& s, int digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, std::stod(s));
    return std::string(buf);
  };
  return "lr " + g(t.lr, 2) + " wd " + g(t.weight_decay, 2) + " batch " + t.batch_size + " head x" + g(t.head_lr_mult, 3) +
         " " + t.strategy;
}

FinetuneConfig trial_config(const SearchConfig& c, const Trial& t) {
  FinetuneConfig f = c.base;
  f.lr = std::stod(t.lr), f.weight_decay = std::stod(t.weight_decay), f.batch_size = std::stoll(t.batch_size);
  f.head_lr_mult = std::stod(t.head_lr_mult), f.strategy = t.strategy;
  f.resume = false;
  return f;
}

}  // namespace

SearchResult search(const SearchConfig& c) {
  using Clock = std::chrono::steady_clock;
  const FinetuneConfig& b = c.base;
  HONE_CHECK(!b.net, "search: each trial loads the model afresh; give base.model, not base.net");
  HONE_CHECK(c.trials >= 1, "--trials must be at least 1, got ", c.trials);
  HONE_CHECK(c.trial_epochs >= 1, "--trial-epochs must be at least 1, got ", c.trial_epochs);
  HONE_CHECK(c.epochs >= 1, "--epochs must be at least 1, got ", c.epochs);
  HONE_CHECK(b.train_set || !b.data.empty(), "--data DIR is required (a folder with one subfolder per class)");
  HONE_CHECK(b.train_set || fs::is_directory(b.data), "--data '", b.data, "' is not a folder");
  HONE_CHECK(b.val_set || !b.val.empty() || b.val_split > 0 || fs::is_directory(fs::path(b.data) / "val"),
             "search scores each trial on validation images: give --val DIR or --val-split above 0");
  HONE_CHECK(!is_model_file(b.model) || fs::is_regular_file(b.model), "--model '", b.model, "' not found");
  const Space space = build_space(c);
  auto searcher = hpsearch::make_searcher(c.method, space, splitmix64(b.seed ^ 0x686f6e6573656172ull /* "honesear" */),
                                          c.population);

  // ---- search.json: a new search, or the same one resumed ----
  const fs::path out = c.out;
  const Json id = identity(c, space);
  if (c.restart && fs::exists(out / "search.json")) {
    for (const char* f : {"search.json", "trials.csv", "trials.svg"}) fs::remove(out / f);
    for (const auto& e : fs::directory_iterator(out))
      if (e.path().filename().string().rfind("trial-", 0) == 0 || e.path().filename() == "best") fs::remove_all(e.path());
  }
  std::vector<Trial> done;
  if (fs::exists(out / "search.json")) {
    Json was;
    try {
      was = Json::parse(std::ifstream(out / "search.json"));
    } catch (const Json::exception& e) {
      fail("'", (out / "search.json").string(), "' is not a search's settings: ", e.what());
    }
    const Json old{{"search", was.value("search", Json())}, {"fixed", was.value("fixed", Json())}};
    HONE_CHECK(old == id, "'", out.string(), "' holds a search with other settings (", difference(old, id, ""),
               "); use a new --out, or --restart to discard it");
    done = read_trials(out / "trials.csv");
  } else {
    std::error_code ec;
    fs::create_directories(out, ec);
    HONE_CHECK(!ec && fs::is_directory(out), "cannot create the search folder '", out.string(), "': ", ec.message());
  }
  Json sj = id;
  sj["hone_version"] = HONE_VERSION;
  sj["run"] = {{"trials", c.trials}, {"epochs", c.epochs}, {"threads", b.threads}, {"workers", b.workers},
               {"cache_dir", b.cache_dir}};
  write_text_file(out / "search.json", sj.dump(2) + "\n");

  // ---- replay: the searcher asks the recorded points again and learns their scores ----
  SearchResult result;
  auto settings = [&](const hpsearch::Point& p, int64_t index) {
    return Trial{index, searcher->generation(), space[kLr].format(p[kLr]), space[kWd].format(p[kWd]),
                 space[kBatch].format(p[kBatch]), space[kHeadMult].format(p[kHeadMult]),
                 space[kStrategy].format(p[kStrategy])};
  };
  for (const Trial& t : done) {
    const hpsearch::Point p = searcher->ask();
    const Trial asked = settings(p, t.index);
    const bool same = t.index == int64_t(result.trials.size()) + 1 && t.generation == asked.generation &&
                      same_settings(t, asked);
    HONE_CHECK(same,
               "'", (out / "trials.csv").string(), "' row ", result.trials.size() + 1, " (", describe(t),
               ") is not what this search asks there (", describe(asked),
               "): the search settings or trials.csv changed; use a new --out, or --restart");
    searcher->tell(p, score(t));
    result.trials.push_back(t);
  }
  if (b.verbose && !done.empty())
    std::cout << "resuming the search in " << out.string() << " after " << done.size() << " finished trial(s)\n";
  auto best_index = [&] {
    size_t best = 0;
    for (size_t i = 1; i < result.trials.size(); ++i)
      if (hpsearch::better(score(result.trials[i]), score(result.trials[best]))) best = i;
    return best;
  };

  // ---- the trials, in turn ----
  // HONE_TEST_KILL_AFTER_TRIALS=K: SIGKILL once K trials are recorded (tests prove resume).
  const char* kill_env = std::getenv("HONE_TEST_KILL_AFTER_TRIALS");
  const int64_t kill_after = kill_env ? std::atoll(kill_env) : 0;
  for (int64_t index = int64_t(result.trials.size()) + 1; index <= c.trials; ++index) {
    const hpsearch::Point p = searcher->ask();
    Trial t = settings(p, index);
    char name[32];
    std::snprintf(name, sizeof name, "trial-%03lld", static_cast<long long>(index));
    FinetuneConfig f = trial_config(c, t);
    f.epochs = c.trial_epochs, f.out = (out / name).string(), f.verbose = false, f.progress = false;
    if (b.verbose)
      std::cout << "trial " << index << "/" << c.trials << " (" << c.method
                << (t.generation ? ", generation " + std::to_string(t.generation) : "") << "): " << describe(t) << " -> ";
    fs::remove_all(f.out);  // a trial half done when the search was killed starts over
    const auto t0 = Clock::now();
    // The same settings again (a GA child equal to its parent, a swarm at rest): a trial is
    // deterministic, so its score is already known.
    const Trial* twin = nullptr;
    for (const Trial& d : result.trials)
      if (same_settings(d, t)) twin = &d;
    if (twin) {
      t.val_acc = twin->val_acc, t.val_loss = twin->val_loss;
      if (b.verbose) std::cout << "as trial " << twin->index << ", not run again: ";
    } else {
      try {
        const FinetuneResult r = finetune(f);
        if (r.interrupted) {
          if (b.verbose) std::cout << "interrupted\n";
          std::cerr << "interrupted: trial " << index << " is not recorded; run the same command again to resume\n";
          result.interrupted = true;
          break;
        }
        t.val_acc = r.best_val_acc, t.val_loss = r.history.at(size_t(r.best_epoch - 1)).val_loss;
      } catch (const TrainingDiverged&) {
        // A learning rate too high for the model is a finding of the search, not a failure of it.
        t.val_acc = 0, t.val_loss = std::numeric_limits<double>::infinity();
        if (b.verbose) std::cout << "diverged, ";
      } catch (const std::exception&) {
        if (b.verbose) std::cout << "failed\n";
        throw;
      }
    }
    t.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    for (const char* weights : {"best.safetensors", "last.safetensors", "model.onnx"}) fs::remove(fs::path(f.out) / weights);
    searcher->tell(p, score(t));
    result.trials.push_back(t);
    write_trials(out, c.method, result.trials);
    const Trial& best = result.trials[best_index()];
    if (b.verbose)
      std::cout << "val acc " << std::fixed << std::setprecision(3) << t.val_acc << " (best " << best.val_acc << ", trial "
                << best.index << "), " << std::setprecision(1) << t.seconds << " s\n" << std::defaultfloat;
    if (kill_after > 0 && index == kill_after) std::raise(SIGKILL);
  }
  if (result.trials.empty()) return result;
  result.best = best_index();

  // ---- the top 5, and the best settings in full ----
  std::vector<size_t> order(result.trials.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t x, size_t y) { return hpsearch::better(score(result.trials[x]), score(result.trials[y])); });
  if (b.verbose) {
    std::cout << "top " << std::min<size_t>(5, order.size()) << " of " << order.size()
              << " trials (by val accuracy, then val loss):\n  trial  val acc  val loss  settings\n";
    for (size_t k = 0; k < std::min<size_t>(5, order.size()); ++k) {
      const Trial& t = result.trials[order[k]];
      std::cout << "  " << std::setw(5) << t.index << "  " << std::fixed << std::setprecision(3) << std::setw(7) << t.val_acc
                << "  " << std::setprecision(4) << std::setw(8) << t.val_loss << "  " << describe(t) << "\n"
                << std::defaultfloat;
    }
    std::cout << "wrote " << (out / "trials.csv").string() << ", " << (out / "trials.svg").string() << "\n";
  }
  if (!c.rerun || result.interrupted) return result;
  const Trial& best = result.trials[result.best];
  FinetuneConfig f = trial_config(c, best);
  f.epochs = c.epochs, f.out = (out / "best").string();
  if (b.verbose)
    std::cout << "re-running trial " << best.index << "'s settings for " << c.epochs << " epochs -> " << f.out << "\n";
  fs::remove_all(f.out);
  result.rerun = finetune(f);
  result.interrupted = result.rerun->interrupted;
  if (result.interrupted) std::cerr << "interrupted: continue the re-run with: hone finetune --resume " << f.out << "\n";
  if (b.verbose && !result.interrupted)
    std::cout << "best settings re-run: val accuracy " << std::fixed << std::setprecision(3) << result.rerun->best_val_acc
              << " (epoch " << result.rerun->best_epoch << "); wrote " << f.out << "/model.onnx\n" << std::defaultfloat;
  return result;
}

}  // namespace hone::tools
