#pragma once
// ONNX reader target: the input is written as model.onnx into a real folder holding
// external-data files good and hostile (fuzz_util.h's Scratch), read with read_model (so the
// location checks, the mapping and the offset/length checks all run), and, when it is a
// model, built into the trainable module. The same bytes also go through parse_model (the
// in-memory reader, raw_data copied instead of mapped): both readers must agree on whether
// the file is a model. Seeds: tests/fuzz/corpus/onnx.
#include "fuzz/fuzz_util.h"
#include "io/onnx/import.h"

namespace hone::fuzz {

inline bool onnx_reader_target(const uint8_t* data, size_t size) {
  const fs::path path = write_model(data, size);
  bool mapped = false, in_memory = false;
  try {
    io::onnx::OnnxModule module(io::onnx::read_model(path));
    (void)module.count_parameters();
    mapped = true;
  } catch (const Error& e) {
    refused(e);
  }
  try {
    io::onnx::OnnxModule module(io::onnx::parse_model(data, size, path.parent_path(), "model.onnx"));
    (void)module.count_parameters();
    in_memory = true;
  } catch (const Error& e) {
    refused(e);
  }
  if (mapped != in_memory)
    bug(std::string("read_model ") + (mapped ? "accepted" : "refused") + " a file parse_model " +
        (in_memory ? "accepted" : "refused"));
  return mapped;
}

}  // namespace hone::fuzz
