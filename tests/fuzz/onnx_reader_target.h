#pragma once
// What the ONNX reader fuzzer does with one input, shared by the libFuzzer target
// (onnx_reader_fuzz.cpp, clang only) and the corpus replay in the unit tests
// (onnx_fuzz_corpus_test.cpp, which CI runs under AddressSanitizer): parse the bytes as a
// model, and if they are one, build the trainable module from it. A hone::Error is the
// expected answer to bad input; anything else (a crash, another exception, a sanitizer
// report) is a bug.
#include <cstddef>
#include <cstdint>

#include "io/onnx/import.h"

namespace hone::fuzz {

inline void onnx_reader_target(const uint8_t* data, size_t size) {
  try {
    // External data is looked up in a folder that does not exist: offsets and lengths are
    // still validated, no file is read.
    io::onnx::Model m = io::onnx::parse_model(data, size, "/nonexistent-hone-fuzz-dir", "fuzz.onnx");
    io::onnx::OnnxModule module(std::move(m));
    (void)module.count_parameters();
  } catch (const Error&) {
  }
}

}  // namespace hone::fuzz
