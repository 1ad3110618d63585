#pragma once
// An ONNX file read into hone's own types: the graph's nodes in an order where every input
// is produced before it is used, the initializers as tensors, the opset and metadata.
// Protobuf stays inside io/onnx/*.cpp.
//
// Everything is validated on reading, so a bad file fails here and nowhere later: dims
// (negative, or a product that overflows), data sizes (raw_data, typed fields, external
// data) against dims, external data (a regular file inside the model's folder, named by a
// relative path without "..", NUL or symbolic links; offset + length within the file; no
// two tensors over the same bytes), node inputs (each produced by a node, a graph input or
// an initializer), cycles, and the default-domain opset (6 to 21). Only regular files are
// opened for reading, so a FIFO or device given as a file fails at once instead of
// blocking. Every error is a hone::Error that names the file and the tensor, node or
// field at fault.
//
// The model is a snapshot: the model file is read whole into memory of our own, and each
// external tensor straight into its own storage, so a file rewritten or truncated later
// cannot change or kill a running program (with a mapping it could, down to SIGBUS).
// Weights are still held once: model.cpp splits the message at the wire level so that
// protobuf never copies raw_data, and inline tensors live in the file's buffer. The cost
// (every weight is read up front, in memory that is not page cache) is measured in
// docs/architecture.md.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "tensor/tensor.h"

namespace hone::io::onnx {

constexpr int64_t kMinOpset = 6, kMaxOpset = 21;

struct Attribute {
  enum class Kind { Float, Int, String, Tensor, Floats, Ints, Strings, Other };
  std::string name;
  Kind kind = Kind::Other;
  double f = 0;
  int64_t i = 0;
  std::string s;
  hone::Tensor t;
  std::vector<double> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Node {
  std::string name;  // the file's node name, or "<op_type>#<index>" when it has none
  std::string op_type, domain;
  std::vector<std::string> inputs, outputs;  // "" marks an omitted optional input
  std::vector<Attribute> attributes;

  const Attribute* find(const std::string& attr) const;
  // Typed lookups; a present attribute of the wrong kind is a hone::Error naming the node.
  int64_t attr_int(const std::string& attr, int64_t fallback) const;
  double attr_float(const std::string& attr, double fallback) const;
  std::string attr_string(const std::string& attr, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& attr, const std::vector<int64_t>& fallback) const;
  std::string describe() const;  // "node 'conv1' (Conv)"
};

// A graph input or output: name, element type (if float32/int64/...), dims (-1 where the
// dim is symbolic or unknown).
struct ValueInfo {
  std::string name;
  bool is_tensor = true;  // false for sequences, maps, optionals (not supported)
  std::vector<int64_t> dims;
  std::vector<std::string> dim_names;  // the symbolic names ("batch"), "" for fixed dims
};

struct Model {
  std::filesystem::path path;
  int64_t ir_version = 0;
  int64_t opset = 0;  // of the default ("" / "ai.onnx") domain
  std::string producer_name, producer_version;
  std::vector<Node> nodes;  // topologically sorted (file order where it already is)
  std::vector<std::pair<std::string, hone::Tensor>> initializers;  // file order
  std::vector<ValueInfo> inputs;   // graph inputs that are not initializers
  std::vector<ValueInfo> outputs;
  std::vector<std::pair<std::string, std::string>> metadata;  // metadata_props, file order

  const hone::Tensor* initializer(const std::string& name) const;
  std::string metadata_value(const std::string& key, const std::string& fallback = "") const;
};

// Reads and validates an ONNX file (see the top of this file). External data is looked up
// beside it.
Model read_model(const std::filesystem::path& path);
// The same from bytes in memory (what the fuzzer drives); external data, if any, is looked
// up in `base_dir`, and `name` stands for the file in messages.
Model parse_model(const void* data, size_t size, const std::filesystem::path& base_dir, const std::string& name = "<memory>");

// A TensorProto stored alone in a file (the ONNX test data's input_0.pb, output_0.pb).
hone::Tensor read_tensor_file(const std::filesystem::path& path);

}  // namespace hone::io::onnx
