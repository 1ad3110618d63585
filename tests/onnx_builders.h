#pragma once
// Small ONNX files built in tests with the protobuf classes the library uses: a float
// initializer, a graph input/output, a node with attributes, and writing the model out.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "onnx.pb.h"

namespace hone::test::onnx_builders {

inline ::onnx::TensorProto float_tensor(const std::string& name, const std::vector<int64_t>& dims,
                                        const std::vector<float>& v) {
  ::onnx::TensorProto t;
  t.set_name(name);
  t.set_data_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t.add_dims(d);
  t.set_raw_data(std::string(reinterpret_cast<const char*>(v.data()), v.size() * 4));
  return t;
}

inline void add_value(::google::protobuf::RepeatedPtrField<::onnx::ValueInfoProto>* to, const std::string& name,
                      const std::vector<int64_t>& dims) {
  auto* v = to->Add();
  v->set_name(name);
  auto* tt = v->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(::onnx::TensorProto::FLOAT);
  for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
}

// A model of one graph at `opset` with input "x" of `in_dims` and output "y".
inline ::onnx::ModelProto graph_model(const std::vector<int64_t>& in_dims, int opset = 13) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("g");
  add_value(g->mutable_input(), "x", in_dims);
  add_value(g->mutable_output(), "y", {});
  return m;
}

inline ::onnx::NodeProto* add_node(::onnx::ModelProto& m, const std::string& op, const std::vector<std::string>& inputs,
                                   const std::vector<std::string>& outputs, const std::string& name = "") {
  auto* n = m.mutable_graph()->add_node();
  n->set_op_type(op);
  n->set_name(name.empty() ? op : name);
  for (const auto& i : inputs) n->add_input(i);
  for (const auto& o : outputs) n->add_output(o);
  return n;
}

inline void set_ints(::onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::INTS);
  for (int64_t x : v) a->add_ints(x);
}
inline void set_int(::onnx::NodeProto* n, const std::string& name, int64_t v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::INT), a->set_i(v);
}
inline void set_float(::onnx::NodeProto* n, const std::string& name, float v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::FLOAT), a->set_f(v);
}
inline void set_string(::onnx::NodeProto* n, const std::string& name, const std::string& v) {
  auto* a = n->add_attribute();
  a->set_name(name), a->set_type(::onnx::AttributeProto::STRING), a->set_s(v);
}

inline std::filesystem::path write(const std::filesystem::path& p, const ::onnx::ModelProto& m) {
  std::ofstream out(p, std::ios::binary);
  m.SerializeToOstream(&out);
  return p;
}

}  // namespace hone::test::onnx_builders
