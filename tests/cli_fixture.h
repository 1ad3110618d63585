#pragma once
// What the `hone` command-line tests share (tests/cli_finetune_test.cpp,
// tests/cli_search_test.cpp, tests/cli_continual_test.cpp): the binary run as a user runs
// it, a tiny generated image folder, and a small ONNX network to fine-tune.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "io/image.h"
#include "onnx_fixtures.h"
#include "test_util.h"

namespace hone::test::cli {

using CliRun = CommandResult;

// Runs the hone binary with `args` (a shell fragment), stdout and stderr together.
inline CliRun hone_cli(const std::string& args, const std::string& env = "") {
  return run_command(env + " " + HONE_CLI_PATH + std::string(" ") + args + " 2>&1");
}

// Two classes a small network can tell apart: reddish squares and bluish stripes.
inline void write_folder(const std::filesystem::path& root, int per_class, uint64_t seed) {
  for (int c = 0; c < 2; ++c) {
    std::filesystem::create_directories(root / (c ? "stripes" : "squares"));
    for (int i = 0; i < per_class; ++i) {
      io::Image img(40 + 3 * i, 44, 3);
      const auto r = Generator::philox(seed, uint64_t(c * 1000 + i));
      for (int64_t y = 0; y < img.height; ++y)
        for (int64_t x = 0; x < img.width; ++x) {
          uint8_t* p = img.row(y) + x * 3;
          const bool on = c ? ((x / 4) % 2 == 0) : (x > 10 && x < 30 && y > 10 && y < 30);
          p[0] = uint8_t(on ? 200 + r[0] % 40 : r[1] % 60);
          p[1] = uint8_t(r[2] % 80);
          p[2] = uint8_t(on && c ? 220 : 40 + r[3] % 40);
        }
      io::write_png(img, root / (c ? "stripes" : "squares") / ("img" + std::to_string(i) + ".png"));
    }
  }
}

// A small RGB ResNet (stages conv1, bn1, layer1, layer2, fc) in an ONNX file with hone's
// preprocessing metadata (32x32 crops).
inline std::filesystem::path write_model(const std::filesystem::path& dir) {
  Generator g(7);
  auto net = models::small_resnet(4, 3, {8, 16}, {1, 1}, &g);
  net->eval();
  io::onnx::ExportOptions eo;
  eo.channels = 3;
  eo.preprocessing = {.input_size = {32, 32}, .resize = 36, .mean = {0.5, 0.5, 0.5}, .std = {0.25, 0.25, 0.25}};
  const std::filesystem::path file = dir / "tiny.onnx";
  io::onnx::export_onnx(*net, file, eo);
  return file;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace hone::test::cli
