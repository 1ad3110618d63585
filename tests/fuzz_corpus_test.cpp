// The fuzz targets (tests/fuzz/targets.txt) run here on their seeds, each seed also cut at
// 64 points and with 64 single-bit flips: in the sanitizer preset this is CI's share of the
// fuzzing (tools/fuzz.sh runs the libFuzzer programs; longer campaigns by hand). A refused
// input must end in a hone::Error, which the targets catch; any other exception is reported
// here with the input that threw it. Each target must also accept a number of seeds whole,
// so a seed folder that no longer reaches past the first check, or a target that refuses
// everything, fails too. FuzzSeeds writes the seeds hone makes itself.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "fuzz/checkpoint_target.h"
#include "fuzz/image_target.h"
#include "fuzz/onnx_forward_target.h"
#include "fuzz/onnx_reader_target.h"
#include "fuzz/onnx_weights_target.h"
#include "fuzz/safetensors_target.h"
#include "io/onnx/export.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using Target = bool (*)(const uint8_t*, size_t);

const fs::path kFuzzDir = fs::path(HONE_TESTS_DIR) / "fuzz";

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The seed folders of `target`, from its line in targets.txt: "name dict folder...".
std::vector<fs::path> seed_folders(const std::string& target) {
  std::istringstream lines(read_bytes(kFuzzDir / "targets.txt"));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string name, dict, folder;
    words >> name >> dict;
    if (name != target) continue;
    std::vector<fs::path> out;
    while (words >> folder) out.push_back(kFuzzDir / "corpus" / folder);
    return out;
  }
  ADD_FAILURE() << target << " is not in " << kFuzzDir / "targets.txt";
  return {};
}

// Feeds one input; true when the target accepted it. Any exception (a hone::Error that
// escaped a target means an accepted input failed later on) fails the test, naming the input.
bool feed(Target target, const std::string& bytes, const std::string& what) {
  try {
    return target(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": " << e.what();
  } catch (...) {
    ADD_FAILURE() << what << ": a non-standard exception";
  }
  return false;
}

void replay(const std::string& name, Target target, int min_accepted) {
  int files = 0, accepted = 0;
  std::string refused;  // the seeds refused whole, for the message
  std::mt19937 rng(11);
  for (const fs::path& folder : seed_folders(name)) {
    std::vector<fs::path> seeds;
    for (const auto& e : fs::directory_iterator(folder)) seeds.push_back(e.path());
    std::sort(seeds.begin(), seeds.end());
    for (const fs::path& seed : seeds) {
      const std::string bytes = read_bytes(seed);
      ++files;
      if (feed(target, bytes, seed.string())) ++accepted;
      else refused += " " + seed.filename().string();
      for (int cut = 1; cut <= 64; ++cut) {
        const size_t n = bytes.size() * size_t(cut) / 65;
        feed(target, bytes.substr(0, n), seed.string() + " cut to " + std::to_string(n) + " bytes");
      }
      for (int flip = 0; flip < 64 && !bytes.empty(); ++flip) {
        std::string b = bytes;
        const size_t at = rng() % b.size();
        const int bit = int(rng() % 8);
        b[at] = char(b[at] ^ (1 << bit));
        feed(target, b, seed.string() + " with bit " + std::to_string(bit) + " of byte " + std::to_string(at) + " flipped");
      }
    }
  }
  EXPECT_GE(accepted, min_accepted) << name << " accepted " << accepted << " of its " << files
                                    << " seeds whole; refused:" << refused;
}

// The minimums: the seeds each target takes all the way. onnx: all but cycle, unsupported_op,
// zoo_vgg16_skeleton (its external file is not in the scratch folder), the six external_*
// seeds whose location is refused (link_in, link_out, empty, dir, dotdot, fifo) and
// conv_external_folded (its bias is read through link_in.bin: no symlink is followed);
// onnx_weights: two stem files and the small ResNet; checkpoint: the two checkpoints, not
// the plain files.
TEST(FuzzCorpus, OnnxReader) { replay("onnx_reader", fuzz::onnx_reader_target, 13); }
TEST(FuzzCorpus, OnnxForward) { replay("onnx_forward", fuzz::onnx_forward_target, 13); }
TEST(FuzzCorpus, OnnxWeights) { replay("onnx_weights", fuzz::onnx_weights_target, 3); }
TEST(FuzzCorpus, Safetensors) { replay("safetensors", fuzz::safetensors_target, 4); }
TEST(FuzzCorpus, Checkpoint) { replay("checkpoint", fuzz::checkpoint_target, 2); }
TEST(FuzzCorpus, Image) { replay("image", fuzz::image_target, 18); }

// The seeds hone writes itself, which each target must accept whole. With
// HONE_FUZZ_SEEDS_OUT=tests/fuzz/corpus they are written into the seed folders.
TEST(FuzzSeeds, HoneWrittenFilesAreAcceptedByTheTargets) {
  test::TempDir tmp;
  const char* keep = std::getenv("HONE_FUZZ_SEEDS_OUT");
  const fs::path root = keep && *keep ? fs::path(keep) : tmp.path;
  for (const char* folder : {"checkpoint", "safetensors", "onnx"}) fs::create_directories(root / folder);

  fuzz::write_checkpoint_seeds(root / "checkpoint");
  const std::map<std::string, Tensor> every_dtype = {
      {"f64", from_vector<double>({1.5, -2.25}, {2})},
      {"f32", from_vector<float>({0.5f, -1.0f, 2.0f, 3.25f}, {2, 2})},
      {"f16", from_vector<float>({1.0f, -2.0f}, {2}, {.dtype = DType::Float16})},
      {"bf16", from_vector<float>({1.0f, -2.0f}, {2}, {.dtype = DType::BFloat16})},
      {"i64", from_vector<int64_t>({-1, int64_t(1) << 40}, {2})},
      {"i32", from_vector<int32_t>({-7, 123456}, {2, 1})},
      {"u8", from_vector<uint8_t>({0, 255}, {2})},
      {"bool", from_vector<uint8_t>({1, 0}, {2}, {.dtype = DType::Bool})},
      {"scalar", scalar_tensor(42.0)},
      {"empty", empty({0, 3})},
  };
  io::save_safetensors((root / "safetensors" / "every_dtype.safetensors").string(), every_dtype, {{"source", "hone"}});
  const io::onnx::ExportOptions to_onnx{.preprocessing = {.input_size = {8, 8}}};
  io::onnx::export_onnx(*fuzz::weights_target_stem(), root / "onnx" / "hone_stem.onnx", to_onnx);
  io::onnx::export_onnx(*fuzz::weights_target_resnet(), root / "onnx" / "hone_small_resnet.onnx", to_onnx);

  const std::vector<std::pair<std::string, std::vector<Target>>> expected = {
      {"checkpoint/sgd.safetensors", {fuzz::checkpoint_target, fuzz::safetensors_target}},
      {"checkpoint/adam.safetensors", {fuzz::checkpoint_target, fuzz::safetensors_target}},
      {"safetensors/every_dtype.safetensors", {fuzz::safetensors_target}},
      {"onnx/hone_stem.onnx", {fuzz::onnx_reader_target, fuzz::onnx_forward_target, fuzz::onnx_weights_target}},
      {"onnx/hone_small_resnet.onnx", {fuzz::onnx_reader_target, fuzz::onnx_forward_target, fuzz::onnx_weights_target}},
  };
  for (const auto& [file, targets] : expected) {
    const std::string bytes = read_bytes(root / file);
    EXPECT_LT(bytes.size(), 16u << 10) << file << ": seeds stay small";
    for (size_t i = 0; i < targets.size(); ++i)
      EXPECT_TRUE(feed(targets[i], bytes, file)) << file << " refused by target " << i;
  }
}

}  // namespace
}  // namespace hone
