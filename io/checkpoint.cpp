#include "io/checkpoint.h"

#include "io/safetensors.h"

namespace hone::io {

namespace {
constexpr const char* kFormat = "hone-checkpoint-1";

void put(std::map<std::string, Tensor>& out, const std::string& prefix, const std::map<std::string, Tensor>& part) {
  for (const auto& [k, v] : part) out[prefix + k] = v;
}

std::map<std::string, Tensor> take(const SafetensorsFile& f, const std::string& prefix, const std::string& path) {
  std::map<std::string, Tensor> out;
  for (const auto& [k, v] : f.tensors)
    if (k.rfind(prefix, 0) == 0) out[k.substr(prefix.size())] = v;
  HONE_CHECK(!out.empty(), "load_checkpoint: ", path, " has no '", prefix, "*' entries (the checkpoint was saved "
             "without that part)");
  return out;
}

int64_t meta_int(const SafetensorsFile& f, const std::string& key, const std::string& path) {
  auto it = f.metadata.find(key);
  HONE_CHECK(it != f.metadata.end(), "load_checkpoint: ", path, " has no '", key, "' in its metadata");
  try {
    size_t used = 0;
    const long long v = std::stoll(it->second, &used);
    HONE_CHECK(used == it->second.size(), "trailing characters");
    return v;
  } catch (const std::exception&) {
    fail("load_checkpoint: ", path, " metadata '", key, "' is not an integer: '", it->second, "'");
  }
}
}  // namespace

void save_checkpoint(const std::string& path, const CheckpointParts& parts, const TrainingState& s) {
  std::map<std::string, Tensor> tensors;
  if (parts.model) put(tensors, "model.", parts.model->state_dict());
  if (parts.optimizer) put(tensors, "optimizer.", parts.optimizer->state_dict());
  if (parts.schedule) put(tensors, "schedule.", parts.schedule->state_dict());
  if (parts.early_stopping) put(tensors, "early_stopping.", parts.early_stopping->state_dict());
  if (parts.plateau) put(tensors, "plateau.", parts.plateau->state_dict());
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
  const SafetensorsFile f = load_safetensors(path);
  auto fmt = f.metadata.find("format");
  HONE_CHECK(fmt != f.metadata.end() && fmt->second == kFormat, "load_checkpoint: ", path,
             " is not a hone checkpoint (metadata 'format' is ",
             fmt == f.metadata.end() ? std::string("missing") : "'" + fmt->second + "'", ", expected '", kFormat, "')");
  if (parts.model) parts.model->load_state_dict(take(f, "model.", path));
  if (parts.optimizer) parts.optimizer->load_state_dict(take(f, "optimizer.", path));
  if (parts.schedule) parts.schedule->load_state_dict(take(f, "schedule.", path));
  if (parts.early_stopping) parts.early_stopping->load_state_dict(take(f, "early_stopping.", path));
  if (parts.plateau) parts.plateau->load_state_dict(take(f, "plateau.", path));
  TrainingState s;
  s.epoch = meta_int(f, "epoch", path);
  s.step = meta_int(f, "step", path);
  s.data_position = meta_int(f, "data_position", path);
  s.data_seed = uint64_t(meta_int(f, "data_seed", path));
  s.rng_seed = uint64_t(meta_int(f, "rng_seed", path));
  s.rng_offset = uint64_t(meta_int(f, "rng_offset", path));
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("extra.", 0) == 0) s.extra[k.substr(6)] = v;
  return s;
}

}  // namespace hone::io
