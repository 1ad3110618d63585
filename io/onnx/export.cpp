// export_onnx: native modules by structure, imported graphs node by node, into opset 17.
#include "io/onnx/export.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <set>
#include <cstring>
#include <exception>
#include <sstream>

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "hone_config.h"
#include "io/atomic_file.h"
#include "io/onnx/import.h"
#include "models/resnet.h"
#include "models/vgg.h"
#include "nn/layers.h"
#include "onnx.pb.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace {

constexpr int64_t kExportOpset = 17;

int onnx_type(DType t) {
  switch (t) {
    case DType::Float32: return ::onnx::TensorProto::FLOAT;
    case DType::Float64: return ::onnx::TensorProto::DOUBLE;
    case DType::Int64: return ::onnx::TensorProto::INT64;
    case DType::Int32: return ::onnx::TensorProto::INT32;
    case DType::UInt8: return ::onnx::TensorProto::UINT8;
    case DType::Bool: return ::onnx::TensorProto::BOOL;
    case DType::Float16: return ::onnx::TensorProto::FLOAT16;
    case DType::BFloat16: return ::onnx::TensorProto::BFLOAT16;
  }
  return ::onnx::TensorProto::UNDEFINED;
}

void fill_tensor(::onnx::TensorProto* tp, const std::string& name, const Tensor& t) {
  tp->set_name(name);
  tp->set_data_type(onnx_type(t.dtype()));
  for (int64_t d : t.shape()) tp->add_dims(d);
  const Tensor c = t.to(Device::cpu()).contiguous();
  tp->set_raw_data(std::string(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * dtype_size(c.dtype())));
}

std::string join(const std::vector<double>& v) {
  std::ostringstream os;
  os.precision(9);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
}

// Builds the graph; `shape` follows the activation ([C, H, W] for images, [F] after
// flattening) so pooling sizes can be fixed where ONNX needs them.
class Emitter {
 public:
  explicit Emitter(::onnx::GraphProto* g) : g_(g) {}

  std::string node(const std::string& op, const std::vector<std::string>& inputs, const std::string& name,
                   const std::function<void(::onnx::NodeProto*)>& attrs = {}) {
    ::onnx::NodeProto* n = g_->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(count_) : name);
    for (const auto& i : inputs) n->add_input(i);
    const std::string out = (name.empty() ? op : name) + "_out" + std::to_string(count_++);
    n->add_output(out);
    if (attrs) attrs(n);
    return out;
  }
  std::string init(const std::string& name, const Tensor& t) {
    fill_tensor(g_->add_initializer(), name, t);
    return name;
  }
  static void ints(::onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void integer(::onnx::NodeProto* n, const char* name, int64_t v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(::onnx::AttributeProto::INT), a->set_i(v);
  }
  static void real(::onnx::NodeProto* n, const char* name, double v) {
    auto* a = n->add_attribute();
    a->set_name(name), a->set_type(::onnx::AttributeProto::FLOAT), a->set_f(float(v));
  }

  std::string emit(nn::Module& m, const std::string& prefix, const std::string& x);

  std::vector<int64_t> shape;

 private:
  std::string p(const std::string& prefix, const std::string& name) { return prefix.empty() ? name : prefix + "." + name; }
  std::string flatten(const std::string& name, const std::string& x);  // [N, ...] -> [N, prod]
  std::string pool(const std::string& op, const Pool2dOptions& o, const std::string& name, const std::string& x, bool is_max);
  ::onnx::GraphProto* g_;
  int count_ = 0;
};

std::string Emitter::flatten(const std::string& name, const std::string& x) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  shape = {n};
  return node("Flatten", {x}, name, [](::onnx::NodeProto* nd) { integer(nd, "axis", 1); });
}

std::string Emitter::pool(const std::string& op, const Pool2dOptions& o, const std::string& name, const std::string& x, bool is_max) {
  const int64_t sh = o.stride[0] ? o.stride[0] : o.kernel[0], sw = o.stride[1] ? o.stride[1] : o.kernel[1];
  const std::string out = node(op, {x}, name, [&](::onnx::NodeProto* n) {
    ints(n, "kernel_shape", {o.kernel[0], o.kernel[1]});
    ints(n, "strides", {sh, sw});
    ints(n, "pads", {o.padding[0], o.padding[1], o.padding[2], o.padding[3]});
    if (o.ceil_mode) integer(n, "ceil_mode", 1);
    if (is_max && (o.dilation[0] != 1 || o.dilation[1] != 1)) ints(n, "dilations", {o.dilation[0], o.dilation[1]});
    if (!is_max) integer(n, "count_include_pad", o.count_include_pad ? 1 : 0);
  });
  for (int d = 0; d < 2; ++d) {
    const int64_t in = shape[size_t(1 + d)] + o.padding[size_t(d)] + o.padding[size_t(d + 2)];
    const int64_t ext = (o.kernel[size_t(d)] - 1) * (is_max ? o.dilation[size_t(d)] : 1) + 1, s = d ? sw : sh;
    int64_t outd = o.ceil_mode ? (in - ext + s - 1) / s + 1 : (in - ext) / s + 1;
    if (o.ceil_mode && (outd - 1) * s >= shape[size_t(1 + d)] + o.padding[size_t(d)]) --outd;
    shape[size_t(1 + d)] = outd;
  }
  return out;
}

std::string Emitter::emit(nn::Module& m, const std::string& prefix, const std::string& x) {
  const std::string where = prefix.empty() ? m.type_name() : prefix;
  if (auto* c = dynamic_cast<nn::Conv2d*>(&m)) {
    const auto& o = c->options();
    std::vector<std::string> ins = {x, init(p(prefix, "weight"), c->weight)};
    if (c->bias.defined()) ins.push_back(init(p(prefix, "bias"), c->bias));
    const std::string out = node("Conv", ins, prefix, [&](::onnx::NodeProto* n) {
      ints(n, "kernel_shape", {o.kernel[0], o.kernel[1]});
      ints(n, "strides", {o.stride[0], o.stride[1]});
      ints(n, "pads", {o.padding[0], o.padding[1], o.padding[2], o.padding[3]});
      ints(n, "dilations", {o.dilation[0], o.dilation[1]});
      integer(n, "group", o.groups);
    });
    for (int d = 0; d < 2; ++d)
      shape[size_t(1 + d)] = (shape[size_t(1 + d)] + o.padding[size_t(d)] + o.padding[size_t(d + 2)] -
                              o.dilation[size_t(d)] * (o.kernel[size_t(d)] - 1) - 1) / o.stride[size_t(d)] + 1;
    shape[0] = o.out_channels;
    return out;
  }
  if (auto* b = dynamic_cast<nn::BatchNorm2d*>(&m)) {
    const int64_t c = b->options().num_features;
    const Tensor w = b->weight.defined() ? b->weight : ones({c}), bias = b->bias.defined() ? b->bias : zeros({c});
    return node("BatchNormalization",
                {x, init(p(prefix, "weight"), w), init(p(prefix, "bias"), bias), init(p(prefix, "running_mean"), b->running_mean),
                 init(p(prefix, "running_var"), b->running_var)},
                prefix, [&](::onnx::NodeProto* n) { real(n, "epsilon", b->options().eps); });
  }
  if (auto* l = dynamic_cast<nn::Linear*>(&m)) {
    std::vector<std::string> ins = {x, init(p(prefix, "weight"), l->weight)};
    if (l->bias.defined()) ins.push_back(init(p(prefix, "bias"), l->bias));
    shape = {l->out_features()};
    return node("Gemm", ins, prefix, [&](::onnx::NodeProto* n) { integer(n, "transB", 1); });
  }
  if (dynamic_cast<nn::ReLU*>(&m)) return node("Relu", {x}, prefix);
  if (auto* mp = dynamic_cast<nn::MaxPool2d*>(&m)) return pool("MaxPool", mp->options(), prefix, x, true);
  if (auto* ap = dynamic_cast<nn::AvgPool2d*>(&m)) return pool("AveragePool", ap->options(), prefix, x, false);
  if (auto* ad = dynamic_cast<nn::AdaptiveAvgPool2d*>(&m)) {
    const auto size = ad->output_size();
    HONE_CHECK(shape.size() == 3, "export_onnx: ", where, ": adaptive pooling of a non-image activation");
    if (size[0] == 1 && size[1] == 1) {
      shape = {shape[0], 1, 1};
      return node("GlobalAveragePool", {x}, prefix);
    }
    // ONNX has no adaptive pool: at the export's input size it is a plain average pool
    // with kernel = stride = in / out (which must divide).
    HONE_CHECK(shape[1] % size[0] == 0 && shape[2] % size[1] == 0, "export_onnx: ", where, ": adaptive pooling ",
               shape[1], "x", shape[2], " -> ", size[0], "x", size[1], " is not a plain average pool at this input size");
    if (shape[1] == size[0] && shape[2] == size[1]) return x;
    return pool("AveragePool", {.kernel = {shape[1] / size[0], shape[2] / size[1]}}, prefix, x, false);
  }
  if (dynamic_cast<nn::Dropout*>(&m) || dynamic_cast<nn::Identity*>(&m)) return x;
  if (auto* f = dynamic_cast<nn::Flatten*>(&m)) {
    HONE_CHECK(f->start_dim() == 1 && f->end_dim() == -1, "export_onnx: ", where, ": only Flatten(1, -1) is exported");
    return flatten(prefix, x);
  }
  if (dynamic_cast<nn::Sequential*>(&m)) {
    std::string y = x;
    for (const auto& [name, child] : m.children()) y = emit(*child, p(prefix, name), y);
    return y;
  }
  if (m.type_name() == "BasicBlock" || m.type_name() == "Bottleneck") {
    const std::vector<int64_t> in_shape = shape;
    std::string y = x;
    const int convs = m.type_name() == "BasicBlock" ? 2 : 3;
    for (int i = 1; i <= convs; ++i) {
      y = emit(m.module("conv" + std::to_string(i)), p(prefix, "conv" + std::to_string(i)), y);
      y = emit(m.module("bn" + std::to_string(i)), p(prefix, "bn" + std::to_string(i)), y);
      if (i < convs) y = node("Relu", {y}, p(prefix, "relu" + std::to_string(i)));
    }
    std::string skip = x;
    const std::vector<int64_t> out_shape = shape;
    for (const auto& [name, child] : m.children())
      if (name == "downsample") {
        shape = in_shape;
        skip = emit(*child, p(prefix, "downsample"), x);
      }
    shape = out_shape;
    return node("Relu", {node("Add", {y, skip}, p(prefix, "add"))}, p(prefix, "relu"));
  }
  if (dynamic_cast<models::ResNet*>(&m) || dynamic_cast<models::VGG*>(&m)) {
    std::string y = x;
    for (const auto& [name, child] : m.children()) {
      y = emit(*child, p(prefix, name), y);
      if (name == "avgpool") y = flatten(p(prefix, "flatten"), y);  // as both networks' forward does
    }
    return y;
  }
  fail("export_onnx: ", where, ": module type ", m.type_name(), " cannot be exported");
}

// ---- imported graphs ----

void copy_attribute(::onnx::NodeProto* n, const Attribute& a) {
  auto* out = n->add_attribute();
  out->set_name(a.name);
  using A = ::onnx::AttributeProto;
  switch (a.kind) {
    case Attribute::Kind::Float: out->set_type(A::FLOAT), out->set_f(float(a.f)); break;
    case Attribute::Kind::Int: out->set_type(A::INT), out->set_i(a.i); break;
    case Attribute::Kind::String: out->set_type(A::STRING), out->set_s(a.s); break;
    case Attribute::Kind::Tensor: out->set_type(A::TENSOR), fill_tensor(out->mutable_t(), "", a.t); break;
    case Attribute::Kind::Floats:
      out->set_type(A::FLOATS);
      for (double f : a.floats) out->add_floats(float(f));
      break;
    case Attribute::Kind::Ints:
      out->set_type(A::INTS);
      for (int64_t i : a.ints) out->add_ints(i);
      break;
    case Attribute::Kind::Strings:
      out->set_type(A::STRINGS);
      for (const auto& s : a.strings) out->add_strings(s);
      break;
    case Attribute::Kind::Other: fail("export_onnx: attribute '", a.name, "' of an unsupported kind");
  }
}

void export_graph(const OnnxModule& module, ::onnx::GraphProto* g) {
  const Model& model = module.model();
  const auto& weights = module.weights();
  for (const auto& [name, t] : weights) fill_tensor(g->add_initializer(), name, t);
  int extra = 0;
  auto constant = [&](const Tensor& t) {
    const std::string name = "hone_export_const_" + std::to_string(extra++);
    fill_tensor(g->add_initializer(), name, t);
    return name;
  };
  auto ints_of = [&](const Node& n, size_t i) {
    auto it = weights.find(n.inputs.at(i));
    HONE_CHECK(it != weights.end(), "export_onnx: ", n.describe(), ": input ", i, " must be a constant to export at opset 17");
    return it->second.contiguous().to_vector<int64_t>();
  };
  const int64_t from = model.opset;
  for (const Node& n : model.nodes) {
    auto add = [&](const std::string& op, const std::vector<std::string>& ins, const std::vector<std::string>& outs,
                   const std::vector<std::string>& skip_attrs) {
      ::onnx::NodeProto* p = g->add_node();
      p->set_op_type(op), p->set_name(n.name);
      for (const auto& i : ins) p->add_input(i);
      for (const auto& o : outs) p->add_output(o);
      for (const Attribute& a : n.attributes)
        if (std::find(skip_attrs.begin(), skip_attrs.end(), a.name) == skip_attrs.end()) copy_attribute(p, a);
      return p;
    };
    const std::vector<std::string> out1 = {n.outputs.at(0)};
    if (n.op_type == "Dropout") {
      add("Identity", {n.inputs.at(0)}, out1, {"ratio", "seed", "is_test"});
    } else if (n.op_type == "BatchNormalization") {
      add(n.op_type, n.inputs, out1, {"spatial", "is_test", "consumed_inputs", "training_mode", "momentum"});
    } else if (n.op_type == "Softmax" && from < 13) {  // old semantics: softmax of the 2-D view at axis
      const std::string s = n.name + "_shape", f = n.name + "_2d", y = n.name + "_sm";
      add("Shape", {n.inputs.at(0)}, {s}, {"axis"});
      add("Flatten", {n.inputs.at(0)}, {f}, {});
      Emitter::integer(add("Softmax", {f}, {y}, {"axis"}), "axis", 1);
      add("Reshape", {y, s}, out1, {"axis"});
    } else if (n.op_type == "ReduceMean" && from >= 18) {
      auto* p = add(n.op_type, {n.inputs.at(0)}, out1, {"noop_with_empty_axes"});
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) Emitter::ints(p, "axes", ints_of(n, 1));
    } else if (n.op_type == "Unsqueeze" && from < 13) {
      const std::vector<int64_t> axes = n.attr_ints("axes", {});
      add(n.op_type, {n.inputs.at(0), constant(from_vector(axes, {int64_t(axes.size())}, {.dtype = DType::Int64}))}, out1, {"axes"});
    } else if (n.op_type == "Clip" && from < 11) {
      std::vector<std::string> ins = {n.inputs.at(0)};
      ins.push_back(n.find("min") ? constant(scalar_tensor(n.attr_float("min", 0))) : "");
      if (n.find("max")) ins.push_back(constant(scalar_tensor(n.attr_float("max", 0))));
      add(n.op_type, ins, out1, {"min", "max"});
    } else if (from < 7 && (n.op_type == "Add" || n.op_type == "Sub" || n.op_type == "Mul" || n.op_type == "Div")) {
      add(n.op_type, n.inputs, out1, {"broadcast", "axis"});
    } else {
      add(n.op_type, n.inputs, n.outputs, {});
    }
  }
  // Node names must be unique (a rewritten node becomes several).
  std::set<std::string> names;
  for (auto& p : *g->mutable_node()) {
    std::string name = p.name();
    for (int k = 1; !names.insert(name).second; ++k) name = p.name() + "_" + std::to_string(k);
    p.set_name(name);
  }
  // Inputs and outputs keep their dims, the first one (the batch) made symbolic: old
  // files fix it at 1, and hone runs any batch.
  auto value = [](::onnx::ValueInfoProto* out, const ValueInfo& v) {
    out->set_name(v.name);
    auto* tt = out->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    for (size_t d = 0; d < v.dims.size(); ++d) {
      auto* dim = tt->mutable_shape()->add_dim();
      if (d == 0) dim->set_dim_param("batch");
      else if (v.dims[d] >= 0) dim->set_dim_value(v.dims[d]);
      else dim->set_dim_param(d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : "d" + std::to_string(d));
    }
  };
  for (const ValueInfo& v : model.inputs) value(g->add_input(), v);
  for (const ValueInfo& v : model.outputs) value(g->add_output(), v);
}

std::vector<double> parse_doubles(const std::string& s) {
  std::vector<double> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    try {
      out.push_back(std::stod(item));
    } catch (const std::exception&) {
      return {};
    }
  }
  return out;
}

// Hands protobuf's output to the file as it is produced, so the model is never held
// twice in memory. Protobuf only sees a failed write; the error itself is kept here.
class FileSink : public google::protobuf::io::CopyingOutputStream {
 public:
  explicit FileSink(AtomicFile& file) : file_(file) {}
  bool Write(const void* buffer, int size) override {
    try {
      file_.write(buffer, size_t(size));
      return true;
    } catch (...) {
      error = std::current_exception();
      return false;
    }
  }
  std::exception_ptr error;

 private:
  AtomicFile& file_;
};

}  // namespace

void export_onnx(nn::Module& model, const std::filesystem::path& path, const ExportOptions& options) {
  ::onnx::ModelProto mp;
  mp.set_ir_version(8);
  mp.set_producer_name("hone");
  mp.set_producer_version(HONE_VERSION);
  mp.add_opset_import()->set_version(kExportOpset);
  ::onnx::GraphProto* g = mp.mutable_graph();
  g->set_name(options.graph_name);
  std::vector<std::pair<std::string, std::string>> metadata;
  if (auto* imported = dynamic_cast<OnnxModule*>(&model)) {
    export_graph(*imported, g);
    for (const auto& kv : imported->model().metadata)
      if (kv.first.rfind("hone.", 0) != 0) metadata.push_back(kv);
  } else {
    const auto& size = options.preprocessing.input_size;
    HONE_CHECK(size.size() == 2, "export_onnx: preprocessing.input_size must be {H, W} for a native model");
    Emitter e(g);
    e.shape = {options.channels, size[0], size[1]};
    const std::string y = e.emit(model, "", "input");
    auto* in = g->add_input();
    in->set_name("input");
    auto* tt = in->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(::onnx::TensorProto::FLOAT);
    tt->mutable_shape()->add_dim()->set_dim_param("batch");
    for (int64_t d : {options.channels, size[0], size[1]}) tt->mutable_shape()->add_dim()->set_dim_value(d);
    // Name the output "output" through a final Identity.
    ::onnx::NodeProto* id = g->add_node();
    id->set_op_type("Identity"), id->set_name("output"), id->add_input(y), id->add_output("output");
    auto* out = g->add_output();
    out->set_name("output");
    auto* ot = out->mutable_type()->mutable_tensor_type();
    ot->set_elem_type(::onnx::TensorProto::FLOAT);
    ot->mutable_shape()->add_dim()->set_dim_param("batch");
    for (int64_t d : e.shape) ot->mutable_shape()->add_dim()->set_dim_value(d);
  }
  const Preprocessing& pre = options.preprocessing;
  if (pre.input_size.size() == 2)
    metadata.emplace_back("hone.input_size", std::to_string(pre.input_size[0]) + "," + std::to_string(pre.input_size[1]));
  if (pre.resize >= 0) metadata.emplace_back("hone.resize", std::to_string(pre.resize));
  if (!pre.mean.empty()) metadata.emplace_back("hone.mean", join(pre.mean));
  if (!pre.std.empty()) metadata.emplace_back("hone.std", join(pre.std));
  if (!pre.class_names.empty()) {
    std::string names;
    for (const auto& c : pre.class_names) {
      HONE_CHECK(c.find('\n') == std::string::npos, "export_onnx: a class name contains a newline: '", c, "'");
      names += (names.empty() ? "" : "\n") + c;
    }
    metadata.emplace_back("hone.class_names", names);
  }
  for (const auto& [k, v] : metadata) {
    auto* p = mp.add_metadata_props();
    p->set_key(k), p->set_value(v);
  }
  HONE_CHECK(mp.ByteSizeLong() < (size_t(1) << 31), "export_onnx: the model is over 2 GiB, protobuf's limit");
  const std::string where = "export_onnx: " + path.string() + ": ";
  AtomicFile file(path.string(), where);  // a crash or a full disk mid-write never leaves a half file at `path`
  FileSink sink(file);
  google::protobuf::io::CopyingOutputStreamAdaptor out(&sink, 1 << 20);
  const bool written = mp.SerializeToZeroCopyStream(&out) && out.Flush();
  if (sink.error) std::rethrow_exception(sink.error);
  HONE_CHECK(written, where, "protobuf could not serialize the model");
  file.commit();
}

Preprocessing read_preprocessing(const Model& model) {
  Preprocessing p;
  const std::string size = model.metadata_value("hone.input_size");
  for (double d : parse_doubles(size)) p.input_size.push_back(int64_t(d));
  const std::vector<double> resize = parse_doubles(model.metadata_value("hone.resize"));
  if (resize.size() == 1) p.resize = int64_t(resize[0]);
  p.mean = parse_doubles(model.metadata_value("hone.mean"));
  p.std = parse_doubles(model.metadata_value("hone.std"));
  std::stringstream names(model.metadata_value("hone.class_names"));
  for (std::string line; std::getline(names, line);) p.class_names.push_back(line);
  return p;
}

}  // namespace hone::io::onnx
