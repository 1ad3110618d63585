#pragma once
// safetensors reader target: the input is read as a file with load_safetensors. A file it
// accepts must round-trip: every tensor contiguous on the CPU with all its bytes readable,
// and save_safetensors of what was read, read again, gives the same names, dtypes, shapes,
// bytes and metadata. Seeds: tests/fuzz/corpus/safetensors and corpus/checkpoint.
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "io/safetensors.h"

namespace hone::fuzz {

inline void expect_same_safetensors(const io::SafetensorsFile& a, const io::SafetensorsFile& b) {
  if (a.metadata != b.metadata) bug("safetensors metadata changed in a save/load round trip");
  if (a.tensors.size() != b.tensors.size()) bug("safetensors tensor count changed in a save/load round trip");
  for (auto ia = a.tensors.begin(), ib = b.tensors.begin(); ia != a.tensors.end(); ++ia, ++ib) {
    const Tensor &x = ia->second, &y = ib->second;
    const size_t bytes = size_t(x.numel()) * x.element_size();  // 0: data_ptr() may be null
    if (ia->first != ib->first || x.dtype() != y.dtype() || x.shape() != y.shape() ||
        (bytes && std::memcmp(x.data_ptr(), y.data_ptr(), bytes) != 0))
      bug("safetensors tensor '" + ia->first + "' changed in a save/load round trip");
  }
}

inline bool safetensors_target(const uint8_t* data, size_t size) {
  const fs::path path = Scratch::get().file("input.safetensors");
  write_file(path, data, size);
  io::SafetensorsFile f;
  try {
    f = io::load_safetensors(path.string());
  } catch (const Error& e) {
    refused(e);
    return false;
  }
  uint8_t sum = 0;  // touches every byte, so ASan sees a tensor that claims more than it holds
  for (const auto& [name, t] : f.tensors) {
    if (!t.defined() || !t.is_contiguous() || t.device() != Device::cpu())
      bug("load_safetensors gave '" + name + "' not as a contiguous CPU tensor");
    const auto* p = static_cast<const uint8_t*>(t.data_ptr());
    for (size_t i = 0, n = size_t(t.numel()) * t.element_size(); i < n; ++i) sum ^= p[i];
  }
  static volatile uint8_t sink;
  sink = sum;
  const fs::path again = Scratch::get().file("again.safetensors");
  io::save_safetensors(again.string(), f.tensors, f.metadata);  // a hone::Error here escapes: a bug
  expect_same_safetensors(f, io::load_safetensors(again.string()));
  return true;
}

}  // namespace hone::fuzz
