// Reading an ONNX file into io::onnx::Model (see model.h for what is checked and why).
#include "io/onnx/model.h"

#include <google/protobuf/io/coded_stream.h>
#include <sys/stat.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cstring>
#include <map>
#include <queue>
#include <set>
#include <string_view>
#include <unordered_map>

#include "io/file_read.h"
#include "onnx.pb.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace fs = std::filesystem;
using ::onnx::ModelProto;
using ::onnx::TensorProto;

const Attribute* Node::find(const std::string& attr) const {
  for (const Attribute& a : attributes)
    if (a.name == attr) return &a;
  return nullptr;
}

std::string Node::describe() const { return "node '" + name + "' (" + op_type + ")"; }

namespace {
const Attribute* typed(const Node& n, const std::string& attr, Attribute::Kind kind, const char* what) {
  const Attribute* a = n.find(attr);
  if (a && a->kind != kind) fail(n.describe(), ": attribute '", attr, "' should be ", what);
  return a;
}
}  // namespace

int64_t Node::attr_int(const std::string& attr, int64_t fallback) const {
  const Attribute* a = typed(*this, attr, Attribute::Kind::Int, "an int");
  return a ? a->i : fallback;
}
double Node::attr_float(const std::string& attr, double fallback) const {
  const Attribute* a = typed(*this, attr, Attribute::Kind::Float, "a float");
  return a ? a->f : fallback;
}
std::string Node::attr_string(const std::string& attr, const std::string& fallback) const {
  const Attribute* a = typed(*this, attr, Attribute::Kind::String, "a string");
  return a ? a->s : fallback;
}
std::vector<int64_t> Node::attr_ints(const std::string& attr, const std::vector<int64_t>& fallback) const {
  const Attribute* a = typed(*this, attr, Attribute::Kind::Ints, "a list of ints");
  return a ? a->ints : fallback;
}

const hone::Tensor* Model::initializer(const std::string& name) const {
  for (const auto& [n, t] : initializers)
    if (n == name) return &t;
  return nullptr;
}

std::string Model::metadata_value(const std::string& key, const std::string& fallback) const {
  for (const auto& [k, v] : metadata)
    if (k == key) return v;
  return fallback;
}

namespace {

// A whole model file read into memory of our own (64-byte aligned), shared by the tensors
// whose raw_data lies in it.
struct FileBytes {
  char* data;
  size_t size;
  explicit FileBytes(size_t n) : data(static_cast<char*>(cpu_alloc(n))), size(n) {}
  ~FileBytes() { cpu_free(data, size); }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;
};

// Bytes of a raw_data field still in the model file (or the caller's buffer).
struct RawBytes {
  const char* data = nullptr;
  size_t size = 0;
  bool present = false;
};

// A tensor's byte range in an external file, kept to refuse another tensor over the same bytes.
struct Claim {
  uint64_t end;
  std::string tensor, location;
};

struct Reader {
  std::string file;  // for messages
  fs::path base_dir;
  std::shared_ptr<FileBytes> model_file;  // the model file, when raw_data may stay in it
  char* free_from = nullptr;  // model_file bytes below this hold tensors placed in it
  // External data read so far: file (device, inode) -> range begin -> claim.
  std::map<std::pair<dev_t, ino_t>, std::map<uint64_t, Claim>> claims;

  void claim(const struct stat& st, uint64_t begin, uint64_t end, const std::string& tensor,
             const std::string& location, const std::string& where);
  const char* place(const RawBytes& raw, size_t align);
  hone::Tensor tensor(TensorProto& tp, const std::string& what, const RawBytes& raw = {});
};

const char* onnx_type_name(int t) {
  static const char* names[] = {"UNDEFINED", "FLOAT",  "UINT8",  "INT8",      "UINT16",     "INT16",   "INT32",
                                "INT64",     "STRING", "BOOL",   "FLOAT16",   "DOUBLE",     "UINT32",  "UINT64",
                                "COMPLEX64", "COMPLEX128", "BFLOAT16"};
  return t >= 0 && t < int(sizeof(names) / sizeof(names[0])) ? names[t] : "an unknown type";
}

bool to_dtype(int t, DType& out) {
  switch (t) {
    case TensorProto::FLOAT: out = DType::Float32; return true;
    case TensorProto::DOUBLE: out = DType::Float64; return true;
    case TensorProto::INT64: out = DType::Int64; return true;
    case TensorProto::INT32: out = DType::Int32; return true;
    case TensorProto::UINT8: out = DType::UInt8; return true;
    case TensorProto::BOOL: out = DType::Bool; return true;
    case TensorProto::FLOAT16: out = DType::Float16; return true;
    case TensorProto::BFLOAT16: out = DType::BFloat16; return true;
    default: return false;
  }
}

int64_t parse_int(const std::string& s, const std::string& what) {
  int64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  HONE_CHECK(ec == std::errc() && end == s.data() + s.size() && v >= 0, what, ": '", s, "' is not a non-negative integer");
  return v;
}

hone::Tensor wrap(std::shared_ptr<Storage> storage, const Shape& shape, DType dtype, int64_t offset_elems = 0) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->offset = offset_elems;
  impl->dtype = dtype;
  return hone::Tensor(impl);
}

// Two tensors over the same bytes would be two parameters that an optimizer updates twice
// (and that autograd's version counters cannot connect). The file is known by device and
// inode, so "w.bin", "./w.bin" and a hard link to it are one file.
void Reader::claim(const struct stat& st, uint64_t begin, uint64_t end, const std::string& tensor,
                   const std::string& location, const std::string& where) {
  if (begin == end) return;
  auto& taken = claims[{st.st_dev, st.st_ino}];
  auto next = taken.lower_bound(begin);
  auto clash = next != taken.end() && next->first < end ? next : taken.end();
  if (next != taken.begin() && std::prev(next)->second.end > begin) clash = std::prev(next);
  if (clash != taken.end())
    fail(where, ": bytes [", begin, ", ", end, ") overlap ", clash->second.tensor, " at [", clash->first, ", ",
         clash->second.end, ") of '", clash->second.location, "' (the same file); two tensors may not share bytes");
  taken.emplace(begin, Claim{end, tensor, location});
}

// Where raw_data in the model file is used in place, or null to copy it. Everything before
// a payload down to the previous one (its tag and length, the tensor's name and dims) was
// parsed already, so a payload misaligned for its type slides back into those bytes:
// every weight is then held once. Initializers come in file order.
const char* Reader::place(const RawBytes& raw, size_t align) {
  char* p = model_file->data + (raw.data - model_file->data);  // our own buffer: writable
  char* to = p - reinterpret_cast<uintptr_t>(p) % align;
  if (to < free_from) return nullptr;
  if (to != p) std::memmove(to, p, raw.size);
  free_from = to + raw.size;
  return to;
}

hone::Tensor Reader::tensor(TensorProto& tp, const std::string& what, const RawBytes& in_place) {
  const std::string where = file + ": " + what;
  DType dtype;
  HONE_CHECK(to_dtype(tp.data_type(), dtype), where, ": data type ", onnx_type_name(tp.data_type()),
             " is not supported (float32/64, float16, bfloat16, int64, int32, uint8, bool are)");
  HONE_CHECK(tp.segment().begin() == 0 && tp.segment().end() == 0, where, ": segmented tensors are not supported");
  Shape shape;
  int64_t numel = 1, extent = 1;  // extent: the product of the non-zero dims
  HONE_CHECK(tp.dims_size() <= 32, where, ": ", tp.dims_size(), " dims (at most 32 are supported)");
  for (int64_t d : tp.dims()) {
    HONE_CHECK(d >= 0, where, ": negative dim ", d, " in ", std::vector<int64_t>(tp.dims().begin(), tp.dims().end()));
    // Zero-size tensors too: [0, 2^50] holds nothing, but a MatMul of it makes a huge one.
    HONE_CHECK(!__builtin_mul_overflow(extent, std::max<int64_t>(d, 1), &extent) && extent <= (int64_t(1) << 40), where,
               ": dims ", std::vector<int64_t>(tp.dims().begin(), tp.dims().end()), " hold too many elements");
    numel *= d;
    shape.push_back(d);
  }
  const size_t esize = dtype_size(dtype), nbytes = size_t(numel) * esize;

  if (tp.data_location() == TensorProto::EXTERNAL) {
    // Read straight into the tensor's own memory: a snapshot, whatever the file does later.
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto& kv : tp.external_data()) {
      if (kv.key() == "location") location = kv.value();
      else if (kv.key() == "offset") offset = parse_int(kv.value(), where + ": external data offset");
      else if (kv.key() == "length") length = parse_int(kv.value(), where + ": external data length");
    }
    HONE_CHECK(!location.empty(), where, ": external data without a location");
    std::string shown = location;  // a NUL (refused when opening) would cut the message short
    for (size_t nul; (nul = shown.find('\0')) != std::string::npos;) shown.replace(nul, 1, "\\0");
    const std::string at = where + ": external data '" + shown + "'";
    const OpenFile f = open_in_folder(base_dir, location, at);
    const uint64_t size = f.size();
    HONE_CHECK(uint64_t(offset) <= size, where, ": external data offset ", offset, " is past the end of '", shown, "' (",
               size, " bytes)");
    if (length < 0) length = int64_t(size - uint64_t(offset));
    HONE_CHECK(uint64_t(length) <= size - uint64_t(offset), where, ": external data [", offset, ", ", uint64_t(offset) + uint64_t(length),
               ") runs past the end of '", shown, "' (", size, " bytes)");
    HONE_CHECK(size_t(length) == nbytes, where, ": external data length ", length, " bytes, but dims ", shape, " of ",
               onnx_type_name(tp.data_type()), " need ", nbytes);
    claim(f.st, uint64_t(offset), uint64_t(offset + length), what, shown, at);
    hone::Tensor t = empty(shape, {.dtype = dtype, .device = Device::cpu()});
    if (nbytes > 0) read_exactly(f.fd.get(), t.data_ptr(), nbytes, uint64_t(offset), at);
    return t;
  }
  if (in_place.present || tp.has_raw_data()) {
    // raw_data lies in memory: the model file we read or, for attribute tensors and
    // parse_model, a message or the caller's buffer.
    const RawBytes raw = in_place.present ? in_place : RawBytes{tp.raw_data().data(), tp.raw_data().size(), true};
    HONE_CHECK(raw.size == nbytes, where, ": raw_data holds ", raw.size, " bytes, but dims ", shape, " of ",
               onnx_type_name(tp.data_type()), " need ", nbytes);
    if (nbytes == 0) return empty(shape, {.dtype = dtype, .device = Device::cpu()});
    // model_file is null for parse_model: the caller's buffer may go.
    if (const char* bytes = in_place.present && model_file ? place(raw, esize) : nullptr) {
      // Used where it lies: the tensor keeps the file's buffer alive, no copy at all.
      auto storage = std::make_shared<Storage>(const_cast<char*>(bytes), nbytes, Device::cpu(),
                                               [owner = model_file](void*) {});
      return wrap(std::move(storage), shape, dtype);
    }
    hone::Tensor t = empty(shape, {.dtype = dtype, .device = Device::cpu()});
    std::memcpy(t.data_ptr(), raw.data, nbytes);
    return t;
  }

  // Typed fields: the count is checked before anything is allocated, so dims that claim
  // terabytes fail here, not in the allocator.
  const char* field = "int32_data";
  int64_t count = tp.int32_data_size();
  switch (tp.data_type()) {
    case TensorProto::FLOAT: field = "float_data", count = tp.float_data_size(); break;
    case TensorProto::DOUBLE: field = "double_data", count = tp.double_data_size(); break;
    case TensorProto::INT64: field = "int64_data", count = tp.int64_data_size(); break;
    default: break;
  }
  HONE_CHECK(count == numel, where, ": ", field, " holds ", count, " values, but dims ", shape, " need ", numel);
  hone::Tensor t = empty(shape, {.dtype = dtype, .device = Device::cpu()});
  char* out = static_cast<char*>(t.data_ptr());
  switch (tp.data_type()) {
    case TensorProto::FLOAT:
      if (numel) std::memcpy(out, tp.float_data().data(), nbytes);
      break;
    case TensorProto::DOUBLE:
      if (numel) std::memcpy(out, tp.double_data().data(), nbytes);
      break;
    case TensorProto::INT64:
      if (numel) std::memcpy(out, tp.int64_data().data(), nbytes);
      break;
    default: {  // int32, uint8, bool, float16, bfloat16: one int32_data entry per element
      for (int64_t i = 0; i < numel; ++i) {
        const int32_t v = tp.int32_data(int(i));
        switch (dtype) {
          case DType::Int32: reinterpret_cast<int32_t*>(out)[i] = v; break;
          case DType::UInt8: out[i] = char(uint8_t(v)); break;
          case DType::Bool: out[i] = v != 0; break;
          default: reinterpret_cast<uint16_t*>(out)[i] = uint16_t(v); break;  // float16 / bfloat16 bits
        }
      }
    }
  }
  return t;
}

ValueInfo value_info(const ::onnx::ValueInfoProto& v) {
  ValueInfo out;
  out.name = v.name();
  out.is_tensor = !v.has_type() || v.type().has_tensor_type();
  if (v.type().has_tensor_type() && v.type().tensor_type().has_shape())
    for (const auto& d : v.type().tensor_type().shape().dim()) {
      out.dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
      out.dim_names.push_back(d.has_dim_param() ? d.dim_param() : "");
    }
  return out;
}

Attribute attribute(Reader& r, ::onnx::AttributeProto& a, const std::string& node) {
  Attribute out;
  out.name = a.name();
  using A = ::onnx::AttributeProto;
  // Old files leave `type` unset: infer it from the field that is filled.
  A::AttributeType type = a.type();
  if (type == A::UNDEFINED) {
    if (a.has_f()) type = A::FLOAT;
    else if (a.has_i()) type = A::INT;
    else if (a.has_s()) type = A::STRING;
    else if (a.has_t()) type = A::TENSOR;
    else if (a.floats_size()) type = A::FLOATS;
    else if (a.ints_size()) type = A::INTS;
    else if (a.strings_size()) type = A::STRINGS;
  }
  switch (type) {
    case A::FLOAT: out.kind = Attribute::Kind::Float, out.f = a.f(); break;
    case A::INT: out.kind = Attribute::Kind::Int, out.i = a.i(); break;
    case A::STRING: out.kind = Attribute::Kind::String, out.s = a.s(); break;
    case A::TENSOR:
      out.kind = Attribute::Kind::Tensor;
      out.t = r.tensor(*a.mutable_t(), node + ": attribute '" + a.name() + "'");
      break;
    case A::FLOATS: out.kind = Attribute::Kind::Floats, out.floats.assign(a.floats().begin(), a.floats().end()); break;
    case A::INTS: out.kind = Attribute::Kind::Ints, out.ints.assign(a.ints().begin(), a.ints().end()); break;
    case A::STRINGS: out.kind = Attribute::Kind::Strings, out.strings.assign(a.strings().begin(), a.strings().end()); break;
    default: out.kind = Attribute::Kind::Other; break;
  }
  return out;
}

// Orders nodes so that every input is produced first (Kahn's algorithm, taking the
// earliest node in file order whenever several are ready), after checking that every
// input has a source.
std::vector<Node> sorted(std::vector<Node> nodes, const std::set<std::string>& sources, const std::string& file) {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const std::string& o : nodes[i].outputs) {
      if (o.empty()) continue;
      HONE_CHECK(!sources.count(o), file, ": ", nodes[i].describe(), " writes '", o,
                 "', which is already a graph input or initializer");
      HONE_CHECK(producer.emplace(o, i).second, file, ": ", nodes[i].describe(), " writes '", o, "', already written by ",
                 nodes[producer[o]].describe());
    }
  std::vector<size_t> waiting(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const std::string& in : nodes[i].inputs) {
      if (in.empty() || sources.count(in)) continue;
      auto it = producer.find(in);
      HONE_CHECK(it != producer.end(), file, ": ", nodes[i].describe(), " reads '", in,
                 "', which no node, graph input or initializer provides");
      ++waiting[i];
      users[it->second].push_back(i);
    }
  std::priority_queue<size_t, std::vector<size_t>, std::greater<>> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (waiting[i] == 0) ready.push(i);
  std::vector<Node> out;
  out.reserve(nodes.size());
  std::vector<bool> done(nodes.size(), false);
  while (!ready.empty()) {
    const size_t i = ready.top();
    ready.pop();
    done[i] = true;
    for (size_t u : users[i])
      if (--waiting[u] == 0) ready.push(u);
    out.push_back(std::move(nodes[i]));
  }
  for (size_t i = 0; i < nodes.size(); ++i)
    HONE_CHECK(done[i], file, ": the graph has a cycle through ", nodes[i].describe());
  return out;
}

// ---- splitting the message by hand -------------------------------------------------
// Protobuf would copy every raw_data into a string (growing strings over 50 MB by
// doubling: 1.6 copies of a VGG at peak). So the model is walked at the wire level down
// to graph.initializer[i].raw_data; everything else is handed to protobuf field by field,
// and raw_data is read in place.

struct WireField {
  uint32_t number = 0;
  int wire = 0;
  const char* begin = nullptr;  // the whole field, tag included
  const char* end = nullptr;
  const char* payload = nullptr;  // length-delimited fields: the bytes
  size_t payload_size = 0;
};

[[noreturn]] void malformed(const std::string& file, const char* what) {
  fail(file, ": not an ONNX model (malformed protobuf: ", what, ")");
}

uint64_t read_varint(const char*& p, const char* end, const std::string& file) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (p >= end) malformed(file, "truncated varint");
    const uint8_t b = uint8_t(*p++);
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  malformed(file, "varint longer than 10 bytes");
}

bool next_field(const char*& p, const char* end, WireField& f, const std::string& file) {
  if (p >= end) return false;
  f.begin = p;
  const uint64_t tag = read_varint(p, end, file);
  f.number = uint32_t(tag >> 3);
  f.wire = int(tag & 7);
  if (f.number == 0 || (tag >> 3) > 0x1fffffff) malformed(file, "field number 0");
  switch (f.wire) {
    case 0: read_varint(p, end, file); break;
    case 1: if (end - p < 8) malformed(file, "truncated fixed64"); p += 8; break;
    case 5: if (end - p < 4) malformed(file, "truncated fixed32"); p += 4; break;
    case 2: {
      const uint64_t n = read_varint(p, end, file);
      if (n > uint64_t(end - p)) malformed(file, "length past the end");
      f.payload = p, f.payload_size = size_t(n);
      p += n;
      break;
    }
    default: malformed(file, "group or unknown wire type");
  }
  f.end = p;
  return true;
}

template <class Message>
void merge(Message& m, const char* begin, const char* end, const std::string& file) {
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(begin), int(end - begin));
  if (!m.MergeFromCodedStream(&in)) malformed(file, "a field does not parse");
}

struct PendingInitializer {
  TensorProto proto;  // everything but raw_data
  RawBytes raw;
};

// ModelProto field 7 = graph; GraphProto field 5 = initializer; TensorProto field 9 = raw_data.
void split_model(const char* data, size_t size, ModelProto& mp, std::vector<PendingInitializer>& inits, const std::string& file) {
  const char* p = data;
  const char* end = data + size;
  WireField f;
  while (next_field(p, end, f, file)) {
    if (f.number != 7 || f.wire != 2) {
      merge(mp, f.begin, f.end, file);
      continue;
    }
    ::onnx::GraphProto* g = mp.mutable_graph();
    const char* gp = f.payload;
    const char* gend = f.payload + f.payload_size;
    WireField gf;
    while (next_field(gp, gend, gf, file)) {
      if (gf.number != 5 || gf.wire != 2) {
        merge(*g, gf.begin, gf.end, file);
        continue;
      }
      PendingInitializer init;
      const char* tp = gf.payload;
      const char* tend = gf.payload + gf.payload_size;
      WireField tf;
      while (next_field(tp, tend, tf, file)) {
        if (tf.number == 9 && tf.wire == 2) init.raw = {tf.payload, tf.payload_size, true};  // last one wins, as in protobuf
        else merge(init.proto, tf.begin, tf.end, file);
      }
      inits.push_back(std::move(init));
    }
  }
}

Model convert(ModelProto& mp, Reader& r, std::vector<PendingInitializer>& pending) {
  Model m;
  m.ir_version = mp.ir_version();
  m.producer_name = mp.producer_name();
  m.producer_version = mp.producer_version();
  // Only the default domain's ops are supported; say so before complaining about opsets.
  if (mp.has_graph())
    for (const auto& np : mp.graph().node())
      HONE_CHECK(np.domain().empty() || np.domain() == "ai.onnx", r.file, ": node '", np.name(), "' (", np.op_type(),
                 "): domain '", np.domain(), "' is not supported");
  bool found = false;
  for (const auto& op : mp.opset_import())
    if (op.domain().empty() || op.domain() == "ai.onnx") m.opset = op.version(), found = true;
  if (!found && mp.opset_import_size() == 0 && mp.ir_version() > 0 && mp.ir_version() < 3) m.opset = 1, found = true;
  HONE_CHECK(found, r.file, ": no opset for the default ONNX domain in opset_import");
  HONE_CHECK(m.opset >= kMinOpset && m.opset <= kMaxOpset, r.file, ": opset ", m.opset, " is outside the supported ",
             kMinOpset, "..", kMaxOpset);
  for (const auto& p : mp.metadata_props()) m.metadata.emplace_back(p.key(), p.value());
  HONE_CHECK(mp.has_graph(), r.file, ": the model has no graph");
  ::onnx::GraphProto& g = *mp.mutable_graph();

  std::set<std::string> sources;
  for (auto& init : pending) {
    const std::string& name = init.proto.name();
    HONE_CHECK(!name.empty(), r.file, ": an initializer has no name");
    HONE_CHECK(sources.insert(name).second, r.file, ": initializer '", name, "' appears twice");
    m.initializers.emplace_back(name, r.tensor(init.proto, "initializer '" + name + "'", init.raw));
  }
  for (const auto& v : g.input())
    if (!sources.count(v.name())) {
      m.inputs.push_back(value_info(v));
      sources.insert(v.name());
    }
  for (const auto& v : g.output()) m.outputs.push_back(value_info(v));
  HONE_CHECK(!m.outputs.empty(), r.file, ": the graph has no outputs");

  std::vector<Node> nodes;
  nodes.reserve(size_t(g.node_size()));
  for (int i = 0; i < g.node_size(); ++i) {
    ::onnx::NodeProto& np = *g.mutable_node(i);
    Node n;
    n.op_type = np.op_type();
    n.name = np.name().empty() ? np.op_type() + "#" + std::to_string(i) : np.name();
    n.domain = np.domain() == "ai.onnx" ? "" : np.domain();
    n.inputs.assign(np.input().begin(), np.input().end());
    n.outputs.assign(np.output().begin(), np.output().end());
    for (auto& a : *np.mutable_attribute()) n.attributes.push_back(attribute(r, a, r.file + ": " + n.describe()));
    nodes.push_back(std::move(n));
  }
  m.nodes = sorted(std::move(nodes), sources, r.file);
  std::set<std::string> produced = sources;
  for (const Node& n : m.nodes) produced.insert(n.outputs.begin(), n.outputs.end());
  for (const ValueInfo& o : m.outputs)
    HONE_CHECK(produced.count(o.name), r.file, ": graph output '", o.name, "' is not produced by any node");
  return m;
}

}  // namespace

Model parse_model(const void* data, size_t size, const fs::path& base_dir, const std::string& name) {
  HONE_CHECK(size > 0, name, ": empty file (0 bytes), not an ONNX model");
  HONE_CHECK(size <= size_t(INT_MAX), name, ": ", size, " bytes: protobuf files are limited to 2 GiB");
  ModelProto mp;
  std::vector<PendingInitializer> inits;
  split_model(static_cast<const char*>(data), size, mp, inits, name);
  Reader r{name, base_dir};  // no model_file: the caller's buffer may go, raw_data is copied
  Model m = convert(mp, r, inits);
  m.path = name;
  return m;
}

hone::Tensor read_tensor_file(const fs::path& path) {
  const std::string name = path.string();
  const OpenFile f = open_regular_file(path, name);
  HONE_CHECK(f.size() <= uint64_t(INT_MAX), name, ": ", f.size(), " bytes: protobuf files are limited to 2 GiB");
  std::string bytes(size_t(f.size()), '\0');
  read_exactly(f.fd.get(), bytes.data(), bytes.size(), 0, name);
  TensorProto tp;
  HONE_CHECK(tp.ParseFromString(bytes), name, ": not a TensorProto");
  Reader r{name, path.has_parent_path() ? path.parent_path() : fs::path(".")};
  return r.tensor(tp, "tensor '" + tp.name() + "'");
}

Model read_model(const fs::path& path) {
  const std::string name = path.string();
  const OpenFile f = open_regular_file(path, name);
  HONE_CHECK(f.size() > 0, name, ": empty file (0 bytes), not an ONNX model");
  HONE_CHECK(f.size() <= uint64_t(INT_MAX), name, ": ", f.size(),
             " bytes: protobuf files are limited to 2 GiB (large weights belong in external data)");
  // Read whole into memory of our own, not mapped: inline weights become tensors over
  // this buffer, a snapshot that no later change to the file can alter (see model.h).
  auto file = std::make_shared<FileBytes>(size_t(f.size()));
  read_exactly(f.fd.get(), file->data, file->size, 0, name);
  ModelProto mp;
  std::vector<PendingInitializer> inits;
  split_model(file->data, file->size, mp, inits, name);
  Reader r{name, path.has_parent_path() ? path.parent_path() : fs::path("."), file, file->data};
  Model m = convert(mp, r, inits);
  m.path = path;
  return m;
}

}  // namespace hone::io::onnx
