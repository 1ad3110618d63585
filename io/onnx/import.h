#pragma once
// import_onnx: any graph made of the ops ResNet and VGG exports use becomes a trainable
// module run by hone's own ops. Float initializers become parameters named as in the file
// (so freeze()/unfreeze() patterns work on them: a dotted name such as
// "layer1.0.conv1.weight" is placed in child modules "layer1" > "0" > "conv1", so
// named_parameters() gives the file's names back), BatchNormalization statistics become
// buffers, integer initializers (shapes, axes) stay constants.
//
// Ops (default domain, opsets 6-21): Conv, BatchNormalization, Relu, Clip, MaxPool,
// AveragePool, GlobalAveragePool, ReduceMean, Add, Sub, Mul, Div, Sum, Flatten, Reshape,
// Shape, Gather, Unsqueeze, Concat, Constant, Gemm, MatMul, Dropout, Softmax, Identity.
// Spatial ops are 2-D. Gather and Concat run on any dtype but are not differentiable (in
// these networks they compute shapes). Anything else is refused at import, naming the op,
// the node and the opset.
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/onnx/blocked_run.h"
#include "io/onnx/model.h"
#include "models/classifier.h"
#include "nn/module.h"

namespace hone::io::onnx {

// The ops import_onnx runs (for `hone inspect` and the conformance report).
bool op_supported(const std::string& op_type);
// Checks what a node of a supported op decides on its own, before any input is seen: the
// number of inputs and outputs, and every attribute (kinds; strides, dilations, kernel sizes
// and groups >= 1, pads >= 0 and below the kernel for pooling, all of them below 2^31;
// repeated axes; ratios in [0, 1); finite alpha, beta, epsilon ...). A hone::Error names the
// file, the node and the attribute. OnnxModule's constructor (and so `hone inspect`) and
// load_onnx_weights run it on every node.
void validate_node(const Node& n, const Model& m);

class Folder;  // import.cpp: the module holding one part of dotted parameter names

class OnnxModule : public models::Classifier {
 public:
  explicit OnnxModule(Model model);

  // The graph's first input -> its first output.
  Tensor forward(const Tensor& x) override;
  // Every graph input in order (Model::inputs) -> every graph output in order.
  std::vector<Tensor> run(const std::vector<Tensor>& inputs);

  const Model& model() const { return model_; }
  // Initializers by name, with their current values (parameters as trained so far).
  const std::map<std::string, Tensor>& weights() const { return weights_; }
  // The handle forward (and export) reads for initializer `name`: nn::Piggyback swaps it
  // for a masked weight while its scope lives. Throws for an unknown name.
  Tensor* weight_slot(const std::string& name);
  // True when the graph has no BatchNormalization and Conv biases not named as a conv's own
  // ("conv1.weight_bias", "onnx::Conv_193"): the exporter folded BN into the convolutions
  // (today's PyTorch exports). A heuristic, for reports; load_onnx_weights decides folding
  // against the model's structure instead.
  bool bn_folded() const;
  // Cuts the graph after its last Gemm/MatMul whose weight is an initializer and gives that
  // layer a fresh weight and bias for `num_classes` outputs (uniform +-1/sqrt(fan_in), as
  // nn::Linear). Later nodes (a Softmax, say) are dropped: the new layer's output is the
  // graph's output.
  void replace_head(int64_t num_classes, Generator* gen = nullptr) override;

  // The classifier view (models/classifier.h). The head is the last Gemm/MatMul with an
  // initializer weight; features are its input, flattened; forward_head runs the nodes
  // from the head to the output.
  Tensor forward_features(const Tensor& x) override;
  Tensor forward_head(const Tensor& features) override;
  int64_t num_classes() const override;
  int64_t feature_dim() const override;
  std::vector<std::string> head_patterns() const override;  // the head's initializer names
  void freeze_batchnorm(bool all) override;
  void reset_parameters(Generator* gen) override;  // by node: Conv, Gemm, MatMul, BatchNormalization
  // A dotted name ("layer1.0.conv1.weight") as it is; otherwise ("onnx::Conv_196", as
  // torch.onnx.export names weights it folded BN into) the module path in the name of
  // the first node that reads it: "/layer1/layer1.0/conv1/Conv" -> "layer1.0.conv1".
  std::string stage_path(const std::string& parameter) const override;

  // set_blocked_inference (Classifier) switches the blocked fast path for convs, pools and
  // what they fuse (blocked_run.h).
  // How many nodes the last forward ran blocked (0 when the path was off or unavailable).
  size_t last_blocked_nodes() const { return blocked_enabled_ && BlockedRunner::available() ? blocked_->last_blocked_nodes() : 0; }

 private:
  enum class BnPolicy { AsMode = 0, WhereFrozen = 1, All = 2 };
  void run_nodes(std::unordered_map<std::string, Tensor>& values, size_t begin, size_t end);
  const Node* fusable_relu(size_t i, size_t end, const std::unordered_map<std::string, Tensor>& values,
                           const BlockedRunner::Reads& reads) const;
  size_t head_node() const;
  std::pair<int64_t, int64_t> head_shape() const;  // {in, out}
  void add_weight(const std::string& name, const Tensor& t, bool buffer);
  void remove_weight(const std::string& name);
  Folder* folder(const std::vector<std::string>& parts, bool create);
  Model model_;
  std::map<std::string, Tensor> weights_;  // parameters, buffers and constant initializers by name
  int64_t declared_batch_ = -1;            // a fixed batch dim on the first input, if any
  BnPolicy bn_policy_ = BnPolicy::AsMode;
  std::shared_ptr<BlockedRunner> blocked_ = std::make_shared<BlockedRunner>();
};

std::shared_ptr<OnnxModule> import_onnx(const std::filesystem::path& path);

}  // namespace hone::io::onnx
