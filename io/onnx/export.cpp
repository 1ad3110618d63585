// export_onnx: files, metadata and imported graphs (node by node) at opset 17; native
// modules are traced (export_traced.cpp).
#include "io/onnx/export.h"

#include <algorithm>
#include <cmath>
#include <set>
#include <cstring>
#include <exception>
#include <sstream>

#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "hone_config.h"
#include "io/atomic_file.h"
#include "io/onnx/export_internal.h"
#include "io/onnx/import.h"
#include "onnx.pb.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace detail {

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

void set_ints(::onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
void set_int(::onnx::NodeProto* n, const char* name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::INT), a->set_i(v);
}
void set_float(::onnx::NodeProto* n, const char* name, double v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::FLOAT), a->set_f(float(v));
}

}  // namespace detail

namespace {

using namespace detail;

std::string join(const std::vector<double>& v) {
  std::ostringstream os;
  os.precision(9);
  for (size_t i = 0; i < v.size(); ++i) os << (i ? "," : "") << v[i];
  return os.str();
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
      set_int(add("Softmax", {f}, {y}, {"axis"}), "axis", 1);
      add("Reshape", {y, s}, out1, {"axis"});
    } else if (n.op_type == "ReduceMean" && from >= 18) {
      auto* p = add(n.op_type, {n.inputs.at(0)}, out1, {"noop_with_empty_axes"});
      if (n.inputs.size() > 1 && !n.inputs[1].empty()) set_ints(p, "axes", ints_of(n, 1));
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
      else dim->set_dim_param(d < v.dim_names.size() && !v.dim_names[d].empty() ? v.dim_names[d] : std::string("d").append(std::to_string(d)));
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
  mp.add_opset_import()->set_version(detail::kExportOpset);
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
    detail::export_traced(model, options.channels, size, g);
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
