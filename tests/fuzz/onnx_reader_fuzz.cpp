// libFuzzer target for the ONNX reader (see onnx_reader_target.h). Built with clang by the
// `fuzz` preset:  cmake --preset fuzz && cmake --build build/fuzz --target onnx_reader_fuzz
// Run:  build/fuzz/tests/fuzz/onnx_reader_fuzz -max_total_time=600 /tmp/corpus tests/fuzz/corpus/onnx_reader
#include "fuzz/onnx_reader_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hone::fuzz::onnx_reader_target(data, size);
  return 0;
}
