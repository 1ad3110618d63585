// load_onnx_weights: structure matching between an ONNX graph and a built-in network.
#include "io/onnx/weights.h"

#include <unordered_map>

#include "autograd/grad_mode.h"
#include "io/onnx/import.h"
#include "io/onnx/model.h"
#include "nn/layers.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace {

// One parametric layer of the file.
struct FileLayer {
  enum Kind { Conv, BatchNorm, Linear } kind;
  const Node* node;
  Tensor weight, bias;                       // Conv, Linear (bias may be undefined)
  Tensor scale, shift, mean, var;            // BatchNorm
  std::array<int64_t, 2> stride{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};   // top, left, bottom, right
  bool has_pads = false;                     // false when auto_pad decides them
  const FileLayer* batch_norm = nullptr;     // Conv: the BN that reads its output, if any
  bool follows_conv = false;                 // BatchNorm: paired with the conv it reads
};

// One parametric layer of the model.
struct ModelLayer {
  FileLayer::Kind kind;
  std::string name;
  nn::Module* module;
  bool matched = false;
};


class Matcher {
 public:
  Matcher(const Model& m) : model_(m) {
    for (const auto& [name, t] : m.initializers) inits_[name] = t;
    for (const Node& n : m.nodes) {
      if (n.domain.empty() && op_supported(n.op_type)) validate_node(n, m);  // arity and attributes, as import_onnx
      for (const std::string& o : n.outputs) producer_[o] = &n;
      for (size_t i = 0; i < n.inputs.size(); ++i) users_[n.inputs[i]].push_back(&n);
    }
  }

  // The initializer behind a node input, looking through Identity nodes.
  Tensor init(const Node& n, size_t i) const {
    if (i >= n.inputs.size() || n.inputs[i].empty()) return Tensor();
    std::string name = n.inputs[i];
    for (int hops = 0; hops < 8; ++hops) {
      if (auto it = inits_.find(name); it != inits_.end()) return it->second;
      auto p = producer_.find(name);
      if (p == producer_.end() || p->second->op_type != "Identity" || p->second->inputs.empty()) break;
      name = p->second->inputs[0];
    }
    return Tensor();
  }

  std::vector<FileLayer> layers() const {
    std::vector<FileLayer> out;
    out.reserve(model_.nodes.size());
    std::unordered_map<const Node*, size_t> conv_at;
    for (const Node& n : model_.nodes) {
      FileLayer l{};
      l.node = &n;
      if (n.op_type == "Conv") {
        l.kind = FileLayer::Conv;
        l.weight = init(n, 1);
        l.bias = init(n, 2);
        HONE_CHECK(l.weight.defined(), where(n), ": the weight is not an initializer");
        const auto s = n.attr_ints("strides", {1, 1});
        const auto p = n.attr_ints("pads", {0, 0, 0, 0});
        if (s.size() == 2) l.stride = {s[0], s[1]};
        if (p.size() == 4) l.pads = {p[0], p[1], p[2], p[3]};
        l.has_pads = n.attr_string("auto_pad", "NOTSET") == "NOTSET";
        conv_at[&n] = out.size();
      } else if (n.op_type == "BatchNormalization") {
        l.kind = FileLayer::BatchNorm;
        l.scale = init(n, 1), l.shift = init(n, 2), l.mean = init(n, 3), l.var = init(n, 4);
        HONE_CHECK(l.scale.defined() && l.shift.defined() && l.mean.defined() && l.var.defined(), where(n),
                   ": scale, B, mean and var must be initializers");
      } else if (n.op_type == "Gemm" || n.op_type == "MatMul") {
        Tensor w = init(n, 1);
        if (!w.defined()) continue;  // a product of two activations: no weights
        HONE_CHECK(w.dim() == 2, where(n), ": weight of rank ", w.dim());
        l.kind = FileLayer::Linear;
        const bool out_first = n.op_type == "Gemm" && n.attr_int("transB", 0) != 0;
        HONE_CHECK(n.op_type == "MatMul" || n.attr_int("transA", 0) == 0, where(n), ": transA=1 is not a linear layer");
        l.weight = out_first ? w : w.transpose(0, 1).contiguous();  // [out, in]
        if (n.op_type == "Gemm") {
          l.bias = init(n, 2);
          HONE_CHECK(n.attr_float("alpha", 1.0) == 1.0 && (!l.bias.defined() || n.attr_float("beta", 1.0) == 1.0), where(n),
                     ": alpha/beta other than 1 are not a plain linear layer");
        } else if (auto u = users_.find(n.outputs.at(0)); u != users_.end() && u->second.size() == 1 &&
                                                          u->second[0]->op_type == "Add") {
          const Node& add = *u->second[0];  // MatMul + Add(bias)
          l.bias = init(add, add.inputs.at(0) == n.outputs[0] ? 1 : 0);
        }
        if (l.bias.defined() && l.bias.dim() != 1) l.bias = l.bias.reshape({l.bias.numel()});
      } else {
        continue;
      }
      out.push_back(l);
    }
    // A BN reading a conv's output belongs to it.
    for (FileLayer& l : out)
      if (l.kind == FileLayer::BatchNorm)
        if (auto p = producer_.find(l.node->inputs.at(0)); p != producer_.end())
          if (auto c = conv_at.find(p->second); c != conv_at.end()) {
            out[c->second].batch_norm = &l;
            l.follows_conv = true;
          }
    return out;
  }

  std::string where(const Node& n) const { return model_.path.string() + ": " + n.describe(); }

 private:
  const Model& model_;
  std::unordered_map<std::string, Tensor> inits_;
  std::unordered_map<std::string, const Node*> producer_;
  std::unordered_map<std::string, std::vector<const Node*>> users_;
};

bool conv_fits(const FileLayer& f, const nn::Conv2d& c) {
  const auto& o = c.options();
  return f.weight.shape() == c.weight.shape() && f.stride == o.stride && (!f.has_pads || f.pads == o.padding);
}

bool layer_fits(const FileLayer& f, const ModelLayer& m) {
  if (f.kind != m.kind) return false;
  switch (f.kind) {
    case FileLayer::Conv: return conv_fits(f, static_cast<nn::Conv2d&>(*m.module));
    case FileLayer::BatchNorm: return f.scale.numel() == static_cast<nn::BatchNorm2d&>(*m.module).options().num_features;
    case FileLayer::Linear: return f.weight.shape() == static_cast<nn::Linear&>(*m.module).weight.shape();
  }
  return false;
}

std::string describe(const FileLayer& f) {
  switch (f.kind) {
    case FileLayer::Conv: return "weight " + shape_str(f.weight.shape()) + " stride " + detail::concat(f.stride[0], "x", f.stride[1]);
    case FileLayer::BatchNorm: return "BN over " + std::to_string(f.scale.numel()) + " channels";
    case FileLayer::Linear: return "weight " + shape_str(f.weight.shape());
  }
  return "";
}

std::string describe(const ModelLayer& m) {
  if (m.kind == FileLayer::Conv) {
    const auto& c = static_cast<nn::Conv2d&>(*m.module);
    return m.name + " (Conv2d, weight " + shape_str(c.weight.shape()) + " stride " +
           detail::concat(c.options().stride[0], "x", c.options().stride[1]) + ")";
  }
  if (m.kind == FileLayer::BatchNorm)
    return m.name + " (BatchNorm2d over " + std::to_string(static_cast<nn::BatchNorm2d&>(*m.module).options().num_features) + " channels)";
  return m.name + " (Linear, weight " + shape_str(static_cast<nn::Linear&>(*m.module).weight.shape()) + ")";
}

void copy_into(Tensor dst, const Tensor& src, const std::string& what) {
  HONE_CHECK(src.numel() == dst.numel(), what, ": expected ", dst.shape(), ", found ", src.shape());
  dst.copy_(src.reshape(dst.shape()).to(dst.dtype()));
}

}  // namespace

WeightsReport load_onnx_weights(nn::Module& model, const std::filesystem::path& path) {
  const Model file = read_model(path);
  Matcher matcher(file);
  const std::vector<FileLayer> layers = matcher.layers();
  std::vector<ModelLayer> mine;
  for (const auto& [name, m] : model.named_modules()) {
    if (dynamic_cast<nn::Conv2d*>(m)) mine.push_back({FileLayer::Conv, name, m});
    else if (dynamic_cast<nn::BatchNorm2d*>(m)) mine.push_back({FileLayer::BatchNorm, name, m});
    else if (dynamic_cast<nn::Linear*>(m)) mine.push_back({FileLayer::Linear, name, m});
  }
  const std::string file_name = path.string();
  WeightsReport report;
  report.opset = file.opset;
  report.producer = file.producer_name + (file.producer_version.empty() ? "" : " " + file.producer_version);

  NoGradGuard no_grad;
  size_t next = 0;  // first unmatched model layer
  constexpr size_t kLookahead = 4;
  for (const FileLayer& f : layers) {
    if (f.follows_conv) continue;  // matched together with its conv (below)
    while (next < mine.size() && mine[next].matched) ++next;
    HONE_CHECK(next < mine.size(), matcher.where(*f.node), " (", describe(f), "): the model has no layer left for it");
    size_t pick = mine.size();
    for (size_t i = next, seen = 0; i < mine.size() && seen < kLookahead; ++i) {
      if (mine[i].matched) continue;
      ++seen;
      if (layer_fits(f, mine[i])) {
        pick = i;
        break;
      }
    }
    HONE_CHECK(pick < mine.size(), matcher.where(*f.node), ": expected ", describe(mine[next]), ", found ", describe(f));
    ModelLayer& m = mine[pick];
    m.matched = true;
    const std::string what = file_name + ": " + f.node->describe() + " -> " + m.name;
    if (f.kind == FileLayer::Linear) {
      auto& lin = static_cast<nn::Linear&>(*m.module);
      copy_into(lin.weight, f.weight, what + ".weight");
      HONE_CHECK(f.bias.defined() == lin.bias.defined(), what, ": the file ", f.bias.defined() ? "has" : "has no",
                 " bias, the model ", lin.bias.defined() ? "has" : "has none");
      if (f.bias.defined()) copy_into(lin.bias, f.bias, what + ".bias");
      ++report.linears;
      continue;
    }
    if (f.kind == FileLayer::BatchNorm) fail(what, ": a BatchNormalization that follows no Conv is not supported");
    auto& conv = static_cast<nn::Conv2d&>(*m.module);
    copy_into(conv.weight, f.weight, what + ".weight");
    ++report.convs;
    // The model's BN for this conv: the next unmatched layer if it is a BN of the conv's width.
    nn::BatchNorm2d* bn = nullptr;
    std::string bn_name;
    for (size_t i = pick + 1; i < mine.size(); ++i) {
      if (mine[i].matched) continue;
      if (mine[i].kind == FileLayer::BatchNorm &&
          static_cast<nn::BatchNorm2d&>(*mine[i].module).options().num_features == conv.options().out_channels) {
        bn = static_cast<nn::BatchNorm2d*>(mine[i].module);
        bn_name = mine[i].name;
        mine[i].matched = true;
      }
      break;
    }
    if (conv.bias.defined()) {
      HONE_CHECK(f.bias.defined(), what, ": the model's conv has a bias, the file's has none");
      copy_into(conv.bias, f.bias, what + ".bias");
    } else if (f.bias.defined()) {  // only a folded BN may leave a bias the model's conv has not
      HONE_CHECK(bn && !f.batch_norm, what, ": the file's conv has a bias, the model's has none");
    }
    if (f.batch_norm) {
      HONE_CHECK(bn, what, ": the file normalises this conv's output with ", f.batch_norm->node->describe(),
                 " but the model has no BatchNorm2d after ", m.name);
      const FileLayer& b = *f.batch_norm;
      const std::string bw = file_name + ": " + b.node->describe() + " -> " + bn_name;
      copy_into(bn->weight, b.scale, bw + ".weight");
      copy_into(bn->bias, b.shift, bw + ".bias");
      copy_into(bn->running_mean, b.mean, bw + ".running_mean");
      copy_into(bn->running_var, b.var, bw + ".running_var");
      ++report.batch_norms;
    } else if (bn) {
      // Folded by the exporter: the conv's bias is all that is left of the BN.
      HONE_CHECK(f.bias.defined(), what, ": the model has ", bn_name,
                 " after this conv, but the file has neither a BatchNormalization nor a folded conv bias");
      bn->weight.fill_(1.0);
      if (conv.bias.defined()) bn->bias.fill_(0.0);  // VGG-BN: the conv's own bias took it (above)
      else copy_into(bn->bias, f.bias, what + " (folded BN bias) -> " + bn_name + ".bias");
      bn->running_mean.fill_(0.0);
      bn->running_var.fill_(1.0 - bn->options().eps);
      bn->set_mode(nn::BatchNormMode::Frozen);
      ++report.folded_batch_norms;
    }
  }
  for (const ModelLayer& m : mine)
    HONE_CHECK(m.matched, file_name, ": the file has no layer for the model's ", describe(m));
  return report;
}

}  // namespace hone::io::onnx
