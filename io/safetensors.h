#pragma once
// Checkpoints in the safetensors format, the one PyTorch, JAX and NumPy users share:
//   8 bytes       N, the header length, little-endian unsigned
//   N bytes       UTF-8 JSON: {"name": {"dtype": "F32", "shape": [2, 3],
//                 "data_offsets": [begin, end]}, ..., "__metadata__": {"key": "value"}},
//                 which may be padded at the end with spaces
//   the rest      the data buffer: each tensor's bytes, row-major and little-endian, at
//                 [begin, end) counted from the buffer's start
// We chose it because it holds no code (unlike a pickle), any tool can read it, and it is
// simple enough to check completely: the loader treats every file as hostile and refuses
// anything that is not exactly valid, with a hone::Error naming the file and the problem.
#include <map>
#include <string>
#include <string_view>

#include "tensor/tensor.h"

namespace hone::io {

// Writes `tensors` (any device, any strides; stored contiguous, data in name order) and
// the string pairs of `metadata` to `path`, through an AtomicFile (io/atomic_file.h): an
// error, a crash or a full disk midway leaves an existing file at `path` as it was, and a
// replaced file keeps its permission bits. Throws hone::Error naming the path on an
// undefined tensor, a name or metadata string that is not valid UTF-8, the reserved name
// "__metadata__", or a failed write (with the system's reason).
void save_safetensors(const std::string& path, const std::map<std::string, Tensor>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;  // contiguous, on the CPU
  std::map<std::string, std::string> metadata;
};

// Reads a whole safetensors file. Takes the dtypes hone has (F64 F32 F16 BF16 I64 I32 U8
// BOOL). Throws hone::Error naming the file, the problem and, for header problems, the
// byte offset: a missing or short file, a header length past the file or over 100 MB,
// invalid UTF-8 or JSON, an unknown dtype, a bad shape, data_offsets that do not match
// the shape or that leave gaps or overlaps in the data buffer, a duplicate name,
// non-string metadata. Never reads outside the file and never trusts a size it has not
// checked against the file's length.
SafetensorsFile load_safetensors(const std::string& path);

// `s` as a JSON string literal, quotes included. Bytes >= 0x80 pass through unchanged
// (nlohmann's dump would reject or replace bytes that are not UTF-8).
std::string json_quote(std::string_view s);

}  // namespace hone::io
