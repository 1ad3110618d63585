#include "io/checkpoint.h"

#include <charconv>
#include <limits>
#include <optional>

#include "io/safetensors.h"
#include "nn/continual.h"
#include "nn/packnet.h"
#include "nn/piggyback.h"

namespace hone::io {

namespace {
constexpr const char* kFormat = "hone-checkpoint-1";

void put(std::map<std::string, Tensor>& out, const std::string& prefix, const std::map<std::string, Tensor>& part) {
  for (const auto& [k, v] : part) out[prefix + k] = v;
}

// The entries under `prefix`, without it, or as they are (`strip` false: PackNet's and
// Piggyback's own keys carry their prefix).
std::map<std::string, Tensor> take(const SafetensorsFile& f, const std::string& prefix, const std::string& path,
                                   bool strip = true) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : f.tensors)
    if (k.rfind(prefix, 0) == 0) out[strip ? k.substr(prefix.size()) : k] = v;
  HONE_CHECK(!out.empty(), "load_checkpoint: ", path, " has no '", prefix, "*' entries (the checkpoint was saved "
             "without that part)");
  return out;
}

// A metadata integer, written as std::to_string writes it: the whole text must be the
// number (no sign '+', no spaces), in int64's range and >= `lowest`.
int64_t meta_int(const SafetensorsFile& f, const std::string& key, const std::string& path,
                 int64_t lowest = std::numeric_limits<int64_t>::min()) {
  auto it = f.metadata.find(key);
  HONE_CHECK(it != f.metadata.end(), "load_checkpoint: ", path, " has no '", key, "' in its metadata");
  const std::string& text = it->second;
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  HONE_CHECK(ec == std::errc() && end == text.data() + text.size(), "load_checkpoint: ", path, " metadata '", key,
             "' is not an integer in int64's range: '", text, "'");
  HONE_CHECK(v >= lowest, "load_checkpoint: ", path, " metadata '", key, "' is ", v, "; it must be >= ", lowest);
  return v;
}

// Runs `fn` on one part, adding the file and the part to its error.
template <typename Fn>
void on_part(const std::string& path, const char* prefix, Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    fail("load_checkpoint: ", path, ": '", prefix, "*' entries: ", e.what());
  }
}

// EWC's tracked names against the model it will penalize: a checkpoint of another model
// would otherwise fail only at the first penalty(). Returns the parameters' device.
std::optional<Device> check_ewc_fits(const nn::ElasticWeightConsolidation& ewc, const nn::Module& model) {
  std::optional<Device> device;
  std::map<std::string, Tensor> params;
  for (const auto& [name, p] : model.named_parameters()) params.emplace(name, p);
  for (const auto& [name, f] : ewc.fisher()) {
    auto it = params.find(name);
    HONE_CHECK(it != params.end(), "'fisher." + name + "': '", name, "' is not a parameter of the ", model.type_name());
    HONE_CHECK(f.shape() == it->second.shape() && f.dtype() == it->second.dtype(), "'fisher.", name, "' is ",
               dtype_name(f.dtype()), " ", f.shape(), ", the parameter ", dtype_name(it->second.dtype()), " ",
               it->second.shape());
    device = it->second.device();
  }
  return device;
}

// The optimizer's state is keyed by parameter name: with the model at hand, its names.
void name_optimizer(const CheckpointParts& parts) {
  if (parts.model && parts.optimizer) parts.optimizer->name_parameters(*parts.model);
}
}  // namespace

void save_checkpoint(const std::string& path, const CheckpointParts& parts, const TrainingState& s) {
  name_optimizer(parts);
  std::map<std::string, Tensor> tensors;
  if (parts.model) put(tensors, "model.", parts.model->state_dict());
  if (parts.optimizer) put(tensors, "optimizer.", parts.optimizer->state_dict());
  if (parts.schedule) put(tensors, "schedule.", parts.schedule->state_dict());
  if (parts.early_stopping) put(tensors, "early_stopping.", parts.early_stopping->state_dict());
  if (parts.plateau) put(tensors, "plateau.", parts.plateau->state_dict());
  if (parts.packnet) put(tensors, "", parts.packnet->state_dict());
  if (parts.piggyback) put(tensors, "", parts.piggyback->state_dict());
  if (parts.ewc) put(tensors, "ewc.", parts.ewc->state_dict());
  std::map<std::string, std::string> meta;
  for (const auto& [k, v] : s.extra) meta["extra." + k] = v;
  meta["format"] = kFormat;
  meta["epoch"] = std::to_string(s.epoch);
  meta["step"] = std::to_string(s.step);
  meta["data_position"] = std::to_string(s.data_position);
  meta["data_seed"] = std::to_string(int64_t(s.data_seed));
  meta["rng_seed"] = std::to_string(int64_t(s.rng_seed));
  meta["rng_offset"] = std::to_string(int64_t(s.rng_offset));
  save_safetensors(path, tensors, meta);
}

TrainingState load_checkpoint(const std::string& path, const CheckpointParts& parts) {
  name_optimizer(parts);
  const SafetensorsFile f = load_safetensors(path);
  auto fmt = f.metadata.find("format");
  HONE_CHECK(fmt != f.metadata.end() && fmt->second == kFormat, "load_checkpoint: ", path,
             " is not a hone checkpoint (metadata 'format' is ",
             fmt == f.metadata.end() ? std::string("missing") : "'" + fmt->second + "'", ", expected '", kFormat, "')");
  // All or nothing: everything is checked before any part changes, so a refused file
  // leaves the model, the optimizer and the schedules as they were.
  TrainingState s;
  s.epoch = meta_int(f, "epoch", path, 0);
  s.step = meta_int(f, "step", path, 0);
  s.data_position = meta_int(f, "data_position", path, 0);
  s.data_seed = uint64_t(meta_int(f, "data_seed", path));
  s.rng_seed = uint64_t(meta_int(f, "rng_seed", path));
  s.rng_offset = uint64_t(meta_int(f, "rng_offset", path));
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("extra.", 0) == 0) s.extra[k.substr(6)] = v;

  std::map<std::string, Tensor> model, optimizer, schedule, early_stopping, plateau;
  if (parts.model) model = take(f, "model.", path);
  if (parts.optimizer) optimizer = take(f, "optimizer.", path);
  if (parts.schedule) schedule = take(f, "schedule.", path);
  if (parts.early_stopping) early_stopping = take(f, "early_stopping.", path);
  if (parts.plateau) plateau = take(f, "plateau.", path);
  std::map<std::string, Tensor> packnet, piggyback, ewc;
  if (parts.packnet) {
    packnet = take(f, "packnet.", path, false);
    if (auto it = f.tensors.find("packnet_tasks"); it != f.tensors.end()) packnet.insert(*it);
  }
  if (parts.piggyback) piggyback = take(f, "piggyback.", path, false);
  if (parts.ewc) ewc = take(f, "ewc.", path);
  if (parts.optimizer) on_part(path, "optimizer.", [&] { parts.optimizer->check_state_dict(optimizer); });
  if (parts.schedule) on_part(path, "schedule.", [&] { parts.schedule->check_state_dict(schedule); });
  if (parts.early_stopping)
    on_part(path, "early_stopping.", [&] { parts.early_stopping->check_state_dict(early_stopping); });
  if (parts.plateau) on_part(path, "plateau.", [&] { parts.plateau->check_state_dict(plateau); });
  if (parts.packnet) on_part(path, "packnet.", [&] { parts.packnet->check_state_dict(packnet); });
  if (parts.piggyback) on_part(path, "piggyback.", [&] { parts.piggyback->check_state_dict(piggyback); });
  nn::ElasticWeightConsolidation loaded_ewc;
  std::optional<Device> ewc_device;
  if (parts.ewc)
    on_part(path, "ewc.", [&] {
      loaded_ewc = nn::ElasticWeightConsolidation::from_state_dict(ewc);
      if (parts.model) ewc_device = check_ewc_fits(loaded_ewc, *parts.model);
    });
  // The model's strict load checks every entry before it copies any: the last check and
  // the first load. The parts checked above cannot be refused after it.
  if (parts.model) on_part(path, "model.", [&] { parts.model->load_state_dict(model); });
  if (parts.optimizer) parts.optimizer->load_state_dict(optimizer);
  if (parts.schedule) parts.schedule->load_state_dict(schedule);
  if (parts.early_stopping) parts.early_stopping->load_state_dict(early_stopping);
  if (parts.plateau) parts.plateau->load_state_dict(plateau);
  if (parts.packnet) parts.packnet->load_state_dict(packnet);
  if (parts.piggyback) parts.piggyback->load_state_dict(piggyback);
  if (parts.ewc) {
    if (ewc_device) loaded_ewc.to(*ewc_device);
    *parts.ewc = std::move(loaded_ewc);
  }
  return s;
}

}  // namespace hone::io
