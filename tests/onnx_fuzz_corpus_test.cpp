// Replays the ONNX reader fuzzer's seed corpus (tests/fuzz/corpus/onnx_reader) through the
// fuzz target's code, plus every truncation of each seed at 64 points and byte flips: in
// the sanitizer suite this is the CI side of the fuzzing (longer campaigns run by hand,
// see tests/fuzz/onnx_reader_fuzz.cpp).
#include <filesystem>
#include <fstream>
#include <random>

#include "fuzz/onnx_reader_target.h"
#include "test_util.h"

namespace hone {
namespace {

TEST(OnnxFuzzCorpus, ReplaysWithoutCrashing) {
  const std::filesystem::path dir = std::filesystem::path(HONE_TESTS_DIR) / "fuzz" / "corpus" / "onnx_reader";
  int files = 0;
  std::mt19937 rng(11);
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(e.path(), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ++files;
    auto feed = [](const std::string& b) { fuzz::onnx_reader_target(reinterpret_cast<const uint8_t*>(b.data()), b.size()); };
    feed(bytes);
    for (int cut = 1; cut <= 64; ++cut) feed(bytes.substr(0, bytes.size() * size_t(cut) / 65));
    for (int flip = 0; flip < 64 && !bytes.empty(); ++flip) {
      std::string b = bytes;
      b[rng() % b.size()] ^= char(1u << (rng() % 8));
      feed(b);
    }
  }
  EXPECT_GE(files, 5) << "seed corpus missing from " << dir;
}

}  // namespace
}  // namespace hone
