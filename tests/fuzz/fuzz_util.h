#pragma once
// What the fuzz targets (tests/fuzz/*_target.h) share. Each target's body is a header used
// twice: by its libFuzzer program (fuzz_main.cpp, clang, `cmake --preset fuzz`) and by the
// corpus replay in the unit tests (tests/fuzz_corpus_test.cpp, so the gcc build and the
// sanitizer preset replay every seed). A target returns true when the input was accepted
// and went all the way through, false when the library refused it with a hone::Error (the
// expected answer to bad input). Anything else escapes: another exception, a crash, a
// sanitizer report, or a broken invariant (bug() below) is a finding.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tensor/error.h"

namespace hone::fuzz {

namespace fs = std::filesystem;

// An accepted input that leads somewhere wrong. Not a hone::Error, so no target catches it:
// under libFuzzer the uncaught exception aborts (a crash with this message).
[[noreturn]] inline void bug(const std::string& what) { throw std::logic_error("fuzz invariant broken: " + what); }

// Every hone::Error a target catches passes through here: with HONE_FUZZ_VERBOSE set, its
// message is printed (to see why a seed is refused).
inline void refused(const Error& e) {
  static const bool verbose = std::getenv("HONE_FUZZ_VERBOSE") != nullptr;
  if (verbose) std::fprintf(stderr, "refused: %s\n", e.what());
}

inline void write_file(const fs::path& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), std::streamsize(size));
  out.close();
  if (!out) bug("cannot write the scratch file " + path.string());
}

// The bytes of weights.bin in the model folder: 1024 float32 values k / 64, so external data
// at any 4-aligned offset reads small finite numbers.
inline std::vector<float> scratch_weights() {
  std::vector<float> w(1024);
  for (size_t k = 0; k < w.size(); ++k) w[k] = float(k) / 64.0f;
  return w;
}

// This process's scratch folder, made on first use and removed at exit. The ONNX targets
// write the input as model/model.onnx beside files an external-data location can name
// (the dictionary tests/fuzz/dict/onnx.dict lists them), good and hostile:
//   model/weights.bin        4096 bytes (scratch_weights())   model/sub/weights.bin  the same
//   model/empty.bin          0 bytes                          model/dir.bin/         a folder
//   model/link_in.bin   -> weights.bin (stays inside)         model/link_out.bin -> ../outside.bin
//   model/fifo.bin           a named pipe (opening it for reading waits for a writer)
//   outside.bin              a file beside the model folder, which no location may reach
class Scratch {
 public:
  static const Scratch& get() {
    static const Scratch s;
    return s;
  }
  const fs::path& root() const { return root_; }
  fs::path model_dir() const { return root_ / "model"; }
  fs::path file(const std::string& name) const { return root_ / name; }

  ~Scratch() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

 private:
  Scratch() : root_(fs::temp_directory_path() / ("hone-fuzz-" + std::to_string(::getpid()))) {
    fs::remove_all(root_);
    const fs::path m = model_dir();
    fs::create_directories(m / "sub");
    fs::create_directories(m / "dir.bin");
    const std::vector<float> w = scratch_weights();
    write_file(m / "weights.bin", w.data(), w.size() * sizeof(float));
    write_file(m / "sub" / "weights.bin", w.data(), w.size() * sizeof(float));
    write_file(m / "empty.bin", "", 0);
    write_file(root_ / "outside.bin", w.data(), w.size() * sizeof(float));
    fs::create_symlink("weights.bin", m / "link_in.bin");
    fs::create_symlink("../outside.bin", m / "link_out.bin");
    if (::mkfifo((m / "fifo.bin").c_str(), 0600) != 0) bug("mkfifo failed in " + m.string());
  }
  fs::path root_;
};

// Writes the input where the ONNX targets read it: <scratch>/model/model.onnx.
inline fs::path write_model(const uint8_t* data, size_t size) {
  const fs::path path = Scratch::get().model_dir() / "model.onnx";
  write_file(path, data, size);
  return path;
}

}  // namespace hone::fuzz
