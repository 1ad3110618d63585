#pragma once
// Internal to io/onnx/export*.cpp: what export.cpp (files, metadata, imported graphs) and
// export_traced.cpp (native modules) share. The protobuf classes stay out of this header.
#include <string>

#include "nn/module.h"

namespace onnx {
class GraphProto;
class NodeProto;
class TensorProto;
}  // namespace onnx

namespace hone::io::onnx::detail {

constexpr int64_t kExportOpset = 17;

int onnx_type(DType t);
void fill_tensor(::onnx::TensorProto* tp, const std::string& name, const Tensor& t);
void set_int(::onnx::NodeProto* n, const char* name, int64_t v);
void set_ints(::onnx::NodeProto* n, const char* name, const std::vector<int64_t>& v);
void set_float(::onnx::NodeProto* n, const char* name, double v);

// Writes into `g` what model's forward runs on one [1, channels, H, W] input: graph input
// "input" and output "output", batch dim symbolic (see export_traced.cpp).
void export_traced(nn::Module& model, int64_t channels, const std::vector<int64_t>& input_size, ::onnx::GraphProto* g);

}  // namespace hone::io::onnx::detail
