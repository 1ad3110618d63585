// import_onnx: runs an ONNX graph node by node with hone's differentiable ops.
#include "io/onnx/import.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <set>
#include <sstream>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/conv2d.h"
#include "autograd/ops/nn.h"
#include "autograd/ops/pooling.h"
#include "tensor/error.h"

namespace hone::io::onnx {

namespace {

using Values = std::unordered_map<std::string, Tensor>;

constexpr int64_t kMaxWindow = INT32_MAX;  // kernel, stride, dilation, pads: PyTorch stores them as int32
constexpr size_t kMaxRank = 32;            // of any tensor a node makes

struct Ctx {
  const Node& node;
  const Model& model;
  Values& values;
  bool training;
  int64_t declared_batch;
  int bn_policy;  // OnnxModule::BnPolicy

  bool has(size_t i) const { return i < node.inputs.size() && !node.inputs[i].empty(); }
  const Tensor& in(size_t i) const {
    HONE_CHECK(has(i), node.describe(), ": input ", i, " is missing");
    auto it = values.find(node.inputs[i]);
    HONE_CHECK(it != values.end(), node.describe(), ": input '", node.inputs[i], "' has no value");
    return it->second;
  }
  [[noreturn]] void bad(const std::string& what) const { fail(node.describe(), " (opset ", model.opset, "): ", what); }
};

std::vector<int64_t> int_values(const Ctx& c, const Tensor& t) {
  if (t.dtype() == DType::Int64) return (t).contiguous().to_vector<int64_t>();
  if (t.dtype() == DType::Int32) {
    std::vector<int64_t> out;
    for (int32_t v : (t).contiguous().to_vector<int32_t>()) out.push_back(v);
    return out;
  }
  c.bad("expected an integer tensor");
}

// A one-element input (Clip's bounds, Dropout's ratio) as a double.
double scalar_value(const Ctx& c, size_t i) {
  const Tensor& t = c.in(i);
  if (t.numel() != 1) c.bad("input " + std::to_string(i) + " must hold one value, got " + std::to_string(t.numel()));
  if (!is_floating(t.dtype()) && t.dtype() != DType::Int64 && t.dtype() != DType::Int32)
    c.bad("input " + std::to_string(i) + " must be a number");
  return t.to(DType::Float64).contiguous().to_vector<double>()[0];
}

Tensor int_tensor(const std::vector<int64_t>& v) {
  return from_vector(v, {int64_t(v.size())}, {.dtype = DType::Int64, .device = Device::cpu()});
}

int64_t norm_axis(const Ctx& c, int64_t axis, int64_t rank) {
  if (axis < 0) axis += rank;
  if (axis < 0 || axis >= rank) c.bad("axis out of range for a rank-" + std::to_string(rank) + " input");
  return axis;
}

// A spatial op's window attributes, 2-D only. validate_node has checked their lengths,
// ranges and auto_pad when the module was built.
struct Window {
  std::array<int64_t, 2> kernel{1, 1}, stride{1, 1}, dilation{1, 1};
  std::array<int64_t, 4> pads{0, 0, 0, 0};  // top, left, bottom, right
};

Window window(const Ctx& c, const Tensor& x, std::vector<int64_t> kernel) {
  if (x.dim() != 4) c.bad("only 2-D spatial inputs ([N, C, H, W]) are supported, got rank " + std::to_string(x.dim()));
  Window w;
  if (kernel.empty()) kernel = c.node.attr_ints("kernel_shape", {});
  const auto strides = c.node.attr_ints("strides", {1, 1});
  const auto dil = c.node.attr_ints("dilations", {1, 1});
  const auto pads = c.node.attr_ints("pads", {0, 0, 0, 0});
  w.kernel = {kernel[0], kernel[1]};
  w.stride = {strides[0], strides[1]};
  w.dilation = {dil[0], dil[1]};
  w.pads = {pads[0], pads[1], pads[2], pads[3]};
  const std::string auto_pad = c.node.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (int d = 0; d < 2; ++d) {
      const int64_t in = x.size(2 + d), out = (in + w.stride[d] - 1) / w.stride[d];
      const int64_t total = std::max<int64_t>(0, (out - 1) * w.stride[d] + (w.kernel[d] - 1) * w.dilation[d] + 1 - in);
      const int64_t small = total / 2, large = total - small;
      w.pads[d] = auto_pad == "SAME_UPPER" ? small : large;
      w.pads[2 + d] = auto_pad == "SAME_UPPER" ? large : small;
    }
  } else if (auto_pad == "VALID") {
    w.pads = {0, 0, 0, 0};
  }
  return w;
}

std::vector<int64_t> axes_of(const Ctx& c, size_t input_index) {
  if (c.has(input_index)) return int_values(c, c.in(input_index));
  return c.node.attr_ints("axes", {});
}

// Concatenation along `axis` for any dtype (not differentiable): each part copied into its
// slice of the output. The engine of Concat and Gather.
Tensor raw_concat(const Ctx& c, const std::vector<Tensor>& parts, int64_t axis) {
  const Tensor& first = parts[0];
  Shape shape = first.shape();
  int64_t total = 0;
  for (const Tensor& p : parts) {
    if (p.dim() != first.dim() || p.dtype() != first.dtype()) c.bad("inputs differ in rank or type");
    for (int64_t d = 0; d < p.dim(); ++d)
      if (d != axis && p.size(d) != first.size(d)) c.bad("inputs differ outside the concat axis");
    total += p.size(axis);
  }
  shape[size_t(axis)] = total;
  Tensor out = empty(shape, {.dtype = first.dtype(), .device = Device::cpu()});
  int64_t at = 0;
  for (const Tensor& p : parts) {
    raw::copy(out.narrow(axis, at, p.size(axis)), p);
    at += p.size(axis);
  }
  return out;
}

void no_grad_through(const Ctx& c, const std::vector<Tensor>& ts) {
  if (!GradMode::is_enabled()) return;
  for (const Tensor& t : ts)
    if (t.requires_grad()) c.bad("is not differentiable in hone, and its input needs a gradient");
}

Tensor run_conv(const Ctx& c) {
  const Tensor& x = c.in(0);
  const Tensor& w = c.in(1);
  if (w.dim() != 4) c.bad("only 2-D convolutions are supported (weight of rank " + std::to_string(w.dim()) + ")");
  const Window win = window(c, x, c.node.attr_ints("kernel_shape", {w.size(2), w.size(3)}));
  Conv2dFuncOptions o;
  o.stride = win.stride;
  o.dilation = win.dilation;
  o.padding = win.pads;
  o.groups = c.node.attr_int("group", 1);
  return conv2d(x, w, c.has(2) ? c.in(2) : Tensor(), o);
}

Tensor run_batch_norm(const Ctx& c, bool fuse_relu = false) {
  BatchNormFuncOptions o;
  o.fuse_relu = fuse_relu;
  o.eps = c.node.attr_float("epsilon", 1e-5);
  o.momentum = c.node.attr_float("momentum", 0.9);
  o.convention = BatchNormConvention::Onnx;
  // Frozen batch norm (freeze_batchnorm): running statistics even while training.
  const bool frozen = c.bn_policy == 2 || (c.bn_policy == 1 && !c.in(1).requires_grad());
  o.use_batch_stats = c.training && !frozen;
  o.update_running_stats = c.training && !frozen;
  return batch_norm(c.in(0), c.in(1), c.in(2), c.in(3), c.in(4), o);
}

Tensor run_pool(const Ctx& c, bool is_max) {
  const Tensor& x = c.in(0);
  const Window win = window(c, x, {});
  Pool2dOptions o;
  o.kernel = win.kernel;
  o.stride = win.stride;
  o.padding = win.pads;
  o.dilation = win.dilation;
  o.ceil_mode = c.node.attr_int("ceil_mode", 0) != 0;
  if (is_max) {
    return max_pool2d(x, o);
  }
  o.count_include_pad = c.node.attr_int("count_include_pad", 0) != 0;
  return avg_pool2d(x, o);
}

Tensor run_clip(const Ctx& c) {
  const Tensor& x = c.in(0);
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  if (c.model.opset < 11) {
    lo = c.node.attr_float("min", lo);
    hi = c.node.attr_float("max", hi);
  } else {
    if (c.has(1)) lo = scalar_value(c, 1);
    if (c.has(2)) hi = scalar_value(c, 2);
    if (std::isnan(lo) || std::isnan(hi)) c.bad("a NaN bound");
  }
  // clip(x) = lo + relu(x - lo) - relu(x - hi), written so each bound costs one relu.
  Tensor y = x;
  if (std::isfinite(lo)) y = add(relu(sub(y, scalar_like(lo, x))), scalar_like(lo, x));
  if (std::isfinite(hi)) y = sub(y, relu(sub(y, scalar_like(hi, x))));
  if (lo > hi) y = mul(ones_like(x), scalar_like(hi, x));  // ONNX: min > max gives max everywhere
  return y;
}

Tensor run_reshape(const Ctx& c) {
  const Tensor& x = c.in(0);
  std::vector<int64_t> shape = c.model.opset >= 5 ? int_values(c, c.in(1)) : c.node.attr_ints("shape", {});
  if (shape.size() > kMaxRank) c.bad("a target shape of more than " + std::to_string(kMaxRank) + " dims");
  const bool allowzero = c.node.attr_int("allowzero", 0) != 0;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !allowzero) {
      if (int64_t(i) >= x.dim()) c.bad("a 0 in the target shape copies a dim the input does not have");
      shape[i] = x.size(int64_t(i));
    }
    if (shape[i] == -1) {
      if (infer >= 0) c.bad("more than one -1 in the target shape");
      infer = int64_t(i);
    } else if (shape[i] < 0) {
      c.bad("negative dim in the target shape");
    } else {
      known *= shape[i];
    }
  }
  // Old exports hard-code the export batch (e.g. Reshape to [1, 512]): when the shape
  // fits only with the live batch in its place, use the live batch.
  if (infer < 0 && known != x.numel() && !shape.empty() && x.dim() > 0 && known > 0 &&
      (shape[0] == c.declared_batch || shape[0] == 1) && (known / shape[0]) * x.size(0) == x.numel())
    shape[0] = x.size(0), known = x.numel();
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) c.bad("cannot infer the -1 dim");
    shape[size_t(infer)] = x.numel() / known;
  }
  return x.reshape(Shape(shape.begin(), shape.end()));
}

Tensor run_gemm(const Ctx& c) {
  Tensor a = c.in(0), b = c.in(1);
  if (a.dim() != 2 || b.dim() != 2) c.bad("A and B must be 2-D");
  const double alpha = c.node.attr_float("alpha", 1.0), beta = c.node.attr_float("beta", 1.0);
  if (c.node.attr_int("transA", 0)) a = a.transpose(0, 1);
  const bool trans_b = c.node.attr_int("transB", 0) != 0;
  if (alpha == 1.0 && trans_b && (!c.has(2) || (beta == 1.0 && c.in(2).dim() == 1 && c.in(2).size(0) == b.size(0))))
    return linear(a, b, c.has(2) ? c.in(2) : Tensor());  // the usual classifier layer
  Tensor y = matmul(a, trans_b ? b.transpose(0, 1) : b);
  if (alpha != 1.0) y = mul(y, scalar_like(alpha, y));
  if (c.has(2) && beta != 0.0) {
    Tensor bias = c.in(2);
    if (beta != 1.0) bias = mul(bias, scalar_like(beta, bias));
    y = add(y, bias);
  }
  return y;
}

Tensor run_softmax(const Ctx& c) {
  const Tensor& x = c.in(0);
  if (c.model.opset >= 13) return softmax(x, norm_axis(c, c.node.attr_int("axis", -1), x.dim()));
  // Before opset 13: the input is seen as 2-D, [prod(dims < axis), prod(dims >= axis)].
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 1), x.dim());
  int64_t rows = 1;
  for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
  return softmax(x.reshape({rows, x.numel() / std::max<int64_t>(rows, 1)}), 1).reshape(x.shape());
}

Tensor run_gather(const Ctx& c) {
  const Tensor& data = c.in(0);
  no_grad_through(c, {data});
  const std::vector<int64_t> idx = int_values(c, c.in(1));
  const int64_t axis = norm_axis(c, c.node.attr_int("axis", 0), data.dim());
  const int64_t n = data.size(axis);
  std::vector<Tensor> slices;
  for (int64_t i : idx) {
    if (i < -n || i >= n) c.bad("index " + std::to_string(i) + " out of range for a dim of " + std::to_string(n));
    slices.push_back(data.narrow(axis, i < 0 ? i + n : i, 1));
  }
  Shape out_shape;
  for (int64_t d = 0; d < axis; ++d) out_shape.push_back(data.size(d));
  for (int64_t d : c.in(1).shape()) out_shape.push_back(d);
  for (int64_t d = axis + 1; d < data.dim(); ++d) out_shape.push_back(data.size(d));
  if (slices.empty()) return empty(out_shape, {.dtype = data.dtype(), .device = Device::cpu()});
  return raw_concat(c, slices, axis).reshape(out_shape);
}

Tensor run_unsqueeze(const Ctx& c) {
  Tensor x = c.in(0);
  std::vector<int64_t> axes = axes_of(c, 1);
  if (size_t(x.dim()) + axes.size() > kMaxRank) c.bad("the result would have more than " + std::to_string(kMaxRank) + " dims");
  const int64_t rank = x.dim() + int64_t(axes.size());
  for (int64_t& a : axes) a = norm_axis(c, a, rank);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) c.bad("axes repeat an axis");
  for (int64_t a : axes) x = x.unsqueeze(a);
  return x;
}

Tensor run_reduce_mean(const Ctx& c) {
  const Tensor& x = c.in(0);
  std::vector<int64_t> axes = c.model.opset >= 18 ? axes_of(c, 1) : c.node.attr_ints("axes", {});
  const bool keep = c.node.attr_int("keepdims", 1) != 0;
  if (axes.empty() && c.node.attr_int("noop_with_empty_axes", 0) != 0) return x;
  for (int64_t& a : axes) a = norm_axis(c, a, x.dim());
  std::vector<int64_t> sorted = axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) c.bad("axes repeat an axis");
  if (axes.empty())
    for (int64_t d = 0; d < x.dim(); ++d) axes.push_back(d);
  return mean(x, axes, keep);
}

Tensor run_constant(const Ctx& c) {
  if (const Attribute* a = c.node.find("value")) return a->t;
  if (const Attribute* a = c.node.find("value_float")) return scalar_tensor(a->f);
  if (const Attribute* a = c.node.find("value_floats")) {
    std::vector<float> v(a->floats.begin(), a->floats.end());
    return from_vector(v, {int64_t(v.size())});
  }
  if (const Attribute* a = c.node.find("value_int"))
    return from_vector(std::vector<int64_t>{a->i}, {}, {.dtype = DType::Int64, .device = Device::cpu()});
  if (const Attribute* a = c.node.find("value_ints")) return int_tensor(a->ints);
  c.bad("no value attribute (sparse and string constants are not supported)");
}

Tensor binary(const Ctx& c, Tensor (*op)(const Tensor&, const Tensor&)) {
  if (c.model.opset < 7 && c.node.attr_int("broadcast", 0) && c.node.find("axis"))
    c.bad("legacy broadcast with an axis attribute is not supported");
  return op(c.in(0), c.in(1));
}

Tensor add2(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor sub2(const Tensor& a, const Tensor& b) { return sub(a, b); }

using OpFn = std::function<Tensor(const Ctx&)>;
const std::unordered_map<std::string, OpFn>& ops() {
  static const std::unordered_map<std::string, OpFn> table = {
      {"Conv", run_conv},
      {"BatchNormalization", [](const Ctx& c) { return run_batch_norm(c); }},
      {"Relu", [](const Ctx& c) { return relu(c.in(0)); }},
      {"Clip", run_clip},
      {"MaxPool", [](const Ctx& c) { return run_pool(c, true); }},
      {"AveragePool", [](const Ctx& c) { return run_pool(c, false); }},
      {"GlobalAveragePool",
       [](const Ctx& c) {
         if (c.in(0).dim() != 4) c.bad("only 2-D spatial inputs are supported");
         return global_avg_pool2d(c.in(0));
       }},
      {"ReduceMean", run_reduce_mean},
      {"Add", [](const Ctx& c) { return binary(c, add2); }},
      {"Sub", [](const Ctx& c) { return binary(c, sub2); }},
      {"Mul", [](const Ctx& c) { return binary(c, mul); }},
      {"Div", [](const Ctx& c) { return binary(c, div); }},
      {"Sum",
       [](const Ctx& c) {
         Tensor y = c.in(0);
         for (size_t i = 1; i < c.node.inputs.size(); ++i) y = add(y, c.in(i));
         return y;
       }},
      {"Flatten",
       [](const Ctx& c) {
         const Tensor& x = c.in(0);
         int64_t axis = c.node.attr_int("axis", 1);
         if (axis < 0) axis += x.dim();
         if (axis < 0 || axis > x.dim()) c.bad("axis out of range");
         int64_t rows = 1;
         for (int64_t d = 0; d < axis; ++d) rows *= x.size(d);
         return x.reshape({rows, rows ? x.numel() / rows : 0});
       }},
      {"Reshape", run_reshape},
      {"Shape",
       [](const Ctx& c) {
         const Tensor& x = c.in(0);
         int64_t start = c.node.attr_int("start", 0), end = c.node.attr_int("end", x.dim());
         if (start < 0) start += x.dim();
         if (end < 0) end += x.dim();
         start = std::clamp<int64_t>(start, 0, x.dim()), end = std::clamp<int64_t>(end, 0, x.dim());
         std::vector<int64_t> dims;
         for (int64_t d = start; d < end; ++d) dims.push_back(x.size(d));
         return int_tensor(dims);
       }},
      {"Gather", run_gather},
      {"Unsqueeze", run_unsqueeze},
      {"Concat",
       [](const Ctx& c) {
         std::vector<Tensor> parts;
         for (size_t i = 0; i < c.node.inputs.size(); ++i)
           if (c.has(i)) parts.push_back(c.in(i));
         if (parts.empty()) c.bad("no inputs");
         no_grad_through(c, parts);
         return raw_concat(c, parts, norm_axis(c, c.node.attr_int("axis", 0), parts[0].dim()));
       }},
      {"Constant", run_constant},
      {"Gemm", run_gemm},
      {"MatMul", [](const Ctx& c) { return matmul(c.in(0), c.in(1)); }},
      {"Dropout",
       [](const Ctx& c) {
         double ratio = c.node.attr_float("ratio", 0.5);
         if (c.model.opset >= 12 && c.has(1)) ratio = scalar_value(c, 1);
         if (!(ratio >= 0 && ratio < 1)) c.bad("ratio must be in [0, 1), got " + std::to_string(ratio));
         return dropout(c.in(0), ratio, c.training);
       }},
      {"Softmax", run_softmax},
      {"Identity", [](const Ctx& c) { return c.in(0); }},
  };
  return table;
}

// ---- validation of the graph as built (before any forward) ----------------------------
// Everything a node's attributes and arity decide is checked here, when the module is
// built, so `hone inspect` refuses what a forward pass would: a zero stride would divide by
// zero in the SAME-padding arithmetic, a window of 2^62 would loop for ever. What depends on
// the input (ranks, axes against them, sizes) is checked by the ops at run time.


struct Arity {
  size_t min_in, max_in, min_out = 1, max_out = 1;
};

Arity arity(const Node& n, int64_t opset) {
  const std::string& op = n.op_type;
  constexpr size_t many = std::numeric_limits<size_t>::max();
  if (op == "Conv" || op == "Gemm") return {2, 3};
  if (op == "BatchNormalization") return {5, 5, 1, 5};
  if (op == "Clip") return opset < 11 ? Arity{1, 1} : Arity{1, 3};
  if (op == "MaxPool") return {1, 1, 1, 2};
  if (op == "ReduceMean") return opset < 18 ? Arity{1, 1} : Arity{1, 2};
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Gather" || op == "MatMul") return {2, 2};
  if (op == "Sum" || op == "Concat") return {1, many};
  if (op == "Reshape") return opset < 5 ? Arity{1, 1} : Arity{2, 2};
  if (op == "Unsqueeze") return opset < 13 ? Arity{1, 1} : Arity{2, 2};
  if (op == "Constant") return {0, 0};
  if (op == "Dropout") return opset < 12 ? Arity{1, 1, 1, 2} : Arity{1, 3, 1, 2};
  return {1, 1};  // Relu, AveragePool, GlobalAveragePool, Flatten, Shape, Softmax, Identity
}

void check_bool(const Node& n, const std::string& attr, const std::function<void(const std::string&)>& bad) {
  const int64_t v = n.attr_int(attr, 0);
  if (v != 0 && v != 1) bad("attribute '" + attr + "' must be 0 or 1, got " + std::to_string(v));
}

void check_finite(const Node& n, const std::string& attr, const std::function<void(const std::string&)>& bad) {
  if (n.find(attr) && !std::isfinite(n.attr_float(attr, 0))) bad("attribute '" + attr + "' must be finite");
}

// ints of `attr` (when present): `count` entries (0: any), each in [lo, kMaxWindow].
void check_ints(const Node& n, const std::string& attr, size_t count, int64_t lo,
                const std::function<void(const std::string&)>& bad) {
  if (!n.find(attr)) return;
  const std::vector<int64_t> v = n.attr_ints(attr, {});
  if (count && v.size() != count)
    bad("attribute '" + attr + "' must have " + std::to_string(count) + " entries (2-D), got " + std::to_string(v.size()));
  for (int64_t x : v)
    if (x < lo || x > kMaxWindow)
      bad("attribute '" + attr + "' has " + std::to_string(x) + ", outside [" + std::to_string(lo) + ", 2^31-1]");
}

void check_unique_axes(const Node& n, const std::function<void(const std::string&)>& bad) {
  if (!n.find("axes")) return;
  std::vector<int64_t> axes = n.attr_ints("axes", {});
  if (axes.size() > kMaxRank) bad("more than " + std::to_string(kMaxRank) + " axes");
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) bad("attribute 'axes' repeats an axis");
}

void check_window(const Node& n, bool pool, const std::function<void(const std::string&)>& bad) {
  check_ints(n, "kernel_shape", 2, 1, bad);
  check_ints(n, "strides", 2, 1, bad);
  check_ints(n, "dilations", 2, 1, bad);
  check_ints(n, "pads", 4, 0, bad);
  const std::string auto_pad = n.attr_string("auto_pad", "NOTSET");
  if (auto_pad != "NOTSET" && auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER" && auto_pad != "VALID")
    bad("unknown auto_pad '" + auto_pad + "'");
  if (!pool) return;
  if (!n.find("kernel_shape")) bad("attribute 'kernel_shape' is required");
  const std::vector<int64_t> k = n.attr_ints("kernel_shape", {});
  const std::vector<int64_t> pads = n.attr_ints("pads", {0, 0, 0, 0});
  for (size_t i = 0; i < 4; ++i)  // the ONNX checker's rule: a pad smaller than the kernel
    if (pads[i] >= k[i % 2])
      bad("pad " + std::to_string(pads[i]) + " is not smaller than the kernel (" + std::to_string(k[i % 2]) + ")");
  check_bool(n, "ceil_mode", bad);
}

}  // namespace

void validate_node(const Node& n, const Model& m) {
  const auto bad = [&](const std::string& what) { fail(m.path.string(), ": ", n.describe(), " (opset ", m.opset, "): ", what); };
  const Arity a = arity(n, m.opset);
  if (n.inputs.size() < a.min_in || n.inputs.size() > a.max_in)
    bad("takes " + (a.min_in == a.max_in ? std::to_string(a.min_in) : std::to_string(a.min_in) + " to " +
        (a.max_in == std::numeric_limits<size_t>::max() ? std::string("any number of") : std::to_string(a.max_in))) +
        " inputs, got " + std::to_string(n.inputs.size()));
  for (size_t i = 0; i < a.min_in; ++i)
    if (n.inputs[i].empty() && n.op_type != "Sum" && n.op_type != "Concat") bad("required input " + std::to_string(i) + " is empty");
  if (n.outputs.size() < a.min_out || n.outputs.size() > a.max_out || n.outputs[0].empty())
    bad("must have " + std::to_string(a.min_out) + (a.max_out > a.min_out ? " to " + std::to_string(a.max_out) : "") +
        " outputs, the first named, got " + std::to_string(n.outputs.size()));
  for (size_t i = 1; i < n.outputs.size(); ++i)  // MaxPool's indices, Dropout's mask, BN's training outputs
    if (!n.outputs[i].empty()) bad("output " + std::to_string(i) + " ('" + n.outputs[i] + "') is not supported");
  const std::string& op = n.op_type;
  if (op == "Conv") {
    check_window(n, false, bad);
    const int64_t group = n.attr_int("group", 1);
    if (group < 1 || group > kMaxWindow) bad("attribute 'group' must be positive, got " + std::to_string(group));
  } else if (op == "MaxPool" || op == "AveragePool") {
    check_window(n, true, bad);
    if (op == "MaxPool" && n.attr_int("storage_order", 0) != 0) bad("storage_order=1 is not supported");
    if (op == "AveragePool") {
      check_bool(n, "count_include_pad", bad);
      for (int64_t d : n.attr_ints("dilations", {1, 1}))
        if (d != 1) bad("dilated average pooling is not supported");
    }
  } else if (op == "BatchNormalization") {
    check_finite(n, "epsilon", bad);
    check_finite(n, "momentum", bad);
    if (n.attr_float("epsilon", 1e-5) < 0) bad("attribute 'epsilon' must not be negative");
    if (n.attr_int("spatial", 1) != 1) bad("spatial=0 (per-activation statistics) is not supported");
    if (n.attr_int("training_mode", 0) != 0) bad("training_mode=1 is not supported (hone switches modes itself)");
  } else if (op == "Clip") {
    for (const char* attr : {"min", "max"})
      if (n.find(attr) && std::isnan(n.attr_float(attr, 0))) bad(std::string("attribute '") + attr + "' is NaN");
  } else if (op == "ReduceMean") {
    check_bool(n, "keepdims", bad);
    check_bool(n, "noop_with_empty_axes", bad);
    check_unique_axes(n, bad);
  } else if (op == "Unsqueeze") {
    if (m.opset < 13 && !n.find("axes")) bad("attribute 'axes' is required before opset 13");
    check_unique_axes(n, bad);
  } else if (op == "Reshape") {
    check_bool(n, "allowzero", bad);
    if (m.opset < 5 && n.attr_ints("shape", {}).size() > kMaxRank) bad("a target shape of more than 32 dims");
  } else if (op == "Concat") {
    if (m.opset >= 4 && !n.find("axis")) bad("attribute 'axis' is required");
    (void)n.attr_int("axis", 0);
  } else if (op == "Constant") {
    int values = 0;
    for (const Attribute& at : n.attributes) {
      if (at.name == "value" || at.name == "value_float" || at.name == "value_floats" || at.name == "value_int" ||
          at.name == "value_ints")
        ++values;
      else if (at.name == "sparse_value" || at.name == "value_string" || at.name == "value_strings")
        bad("sparse and string constants are not supported");
    }
    if (values != 1) bad("needs exactly one value attribute, got " + std::to_string(values));
    if (n.find("value") && n.find("value")->kind != Attribute::Kind::Tensor) bad("attribute 'value' should be a tensor");
    if (n.find("value_float")) (void)n.attr_float("value_float", 0);
    if (n.find("value_int")) (void)n.attr_int("value_int", 0);
    if (n.find("value_ints")) (void)n.attr_ints("value_ints", {});
    if (const Attribute* f = n.find("value_floats"); f && f->kind != Attribute::Kind::Floats)
      bad("attribute 'value_floats' should be a list of floats");
  } else if (op == "Gemm") {
    check_finite(n, "alpha", bad);
    check_finite(n, "beta", bad);
    check_bool(n, "transA", bad);
    check_bool(n, "transB", bad);
  } else if (op == "Dropout") {
    const double ratio = n.attr_float("ratio", 0.5);
    if (!(ratio >= 0 && ratio < 1)) bad("attribute 'ratio' must be in [0, 1), got " + std::to_string(ratio));
  } else if (op == "Flatten" || op == "Softmax" || op == "Gather") {
    (void)n.attr_int("axis", 0);
  } else if (op == "Shape") {
    (void)n.attr_int("start", 0), (void)n.attr_int("end", 0);
  }
}

namespace {

// Splits "layer1.0.conv1.weight" into its parts; names with empty parts stay whole, with
// their dots made underscores.
std::vector<std::string> name_parts(const std::string& name) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t dot; (dot = name.find('.', start)) != std::string::npos; start = dot + 1) parts.push_back(name.substr(start, dot - start));
  parts.push_back(name.substr(start));
  for (const std::string& p : parts)
    if (p.empty()) {
      std::string flat = name;
      std::replace(flat.begin(), flat.end(), '.', '_');
      return {flat};
    }
  return parts;
}

}  // namespace

// A plain holder of parameters for one component of dotted initializer names.
class Folder : public nn::Module {
 public:
  Folder() : nn::Module("Folder") {}
  Tensor forward(const Tensor&) override { fail("an ONNX parameter folder has no forward"); }
  Folder* child(const std::string& name, bool create) {
    for (const auto& [n, m] : children())
      if (n == name) return static_cast<Folder*>(m.get());
    return create ? register_module(name, std::make_shared<Folder>()).get() : nullptr;
  }
  void add(const std::string& name, const Tensor& t, bool buffer) {
    if (buffer) register_buffer(name, t);
    else register_parameter(name, t);
  }
  void remove(const std::string& name) { unregister_tensor(name); }
};

bool op_supported(const std::string& op_type) { return ops().count(op_type) > 0; }

OnnxModule::OnnxModule(Model model) : models::Classifier("OnnxModule"), model_(std::move(model)) {
  for (const Node& n : model_.nodes) {
    HONE_CHECK(n.domain.empty(), model_.path.string(), ": ", n.describe(), ": domain '", n.domain, "' is not supported");
    HONE_CHECK(op_supported(n.op_type), model_.path.string(), ": unsupported op '", n.op_type, "' at ", n.describe(),
               " (opset ", model_.opset, ")");
    validate_node(n, model_);
  }
  HONE_CHECK(!model_.outputs.empty(), model_.path.string(), ": the graph has no outputs");
  for (const ValueInfo& v : model_.inputs)
    HONE_CHECK(v.is_tensor, model_.path.string(), ": graph input '", v.name, "' is not a tensor (sequence and map types are not supported)");
  for (const ValueInfo& v : model_.outputs)
    HONE_CHECK(v.is_tensor, model_.path.string(), ": graph output '", v.name, "' is not a tensor (sequence and map types are not supported)");
  // Which initializers are BatchNormalization statistics (buffers), which are weights.
  std::set<std::string> statistics;
  for (const Node& n : model_.nodes)
    if (n.op_type == "BatchNormalization")
      for (size_t i = 3; i < std::min<size_t>(5, n.inputs.size()); ++i) statistics.insert(n.inputs[i]);
  for (auto& [name, t] : model_.initializers) {
    if (is_floating(t.dtype())) add_weight(name, t, statistics.count(name) > 0);
    weights_[name] = t;
  }
  if (!model_.inputs.empty() && !model_.inputs[0].dims.empty() && model_.inputs[0].dims[0] > 0)
    declared_batch_ = model_.inputs[0].dims[0];
}

// Parameters live in Folder children named by the parts of the dotted name; a name
// without dots sits on the module itself.
void OnnxModule::add_weight(const std::string& name, const Tensor& t, bool buffer) {
  const std::vector<std::string> parts = name_parts(name);
  if (parts.size() == 1) {
    if (buffer) register_buffer(name, t);
    else register_parameter(name, t);
    return;
  }
  folder(parts, true)->add(parts.back(), t, buffer);
}

void OnnxModule::remove_weight(const std::string& name) {
  const std::vector<std::string> parts = name_parts(name);
  if (parts.size() == 1) unregister_tensor(name);
  else if (Folder* f = folder(parts, false)) f->remove(parts.back());
}

// The Folder that holds the last part of `parts` (which has at least two), made on the way
// when `create`, else nullptr where one is missing.
Folder* OnnxModule::folder(const std::vector<std::string>& parts, bool create) {
  Folder* f = nullptr;
  for (const auto& [n, m] : children())
    if (n == parts[0]) f = static_cast<Folder*>(m.get());
  if (!f && !create) return nullptr;
  if (!f) f = register_module(parts[0], std::make_shared<Folder>()).get();
  for (size_t i = 1; f && i + 1 < parts.size(); ++i) f = f->child(parts[i], create);
  return f;
}

bool OnnxModule::bn_folded() const {
  // No BatchNormalization, and a conv bias not named as a conv's own: "features.0.bias"
  // beside "features.0.weight" (or the zoo's "..._conv0_bias") is a native bias; exporters
  // name folded ones otherwise ("conv1.weight_bias", "onnx::Conv_193").
  bool folded_bias = false;
  for (const Node& n : model_.nodes) {
    if (n.op_type == "BatchNormalization") return false;
    if (n.op_type != "Conv" || n.inputs.size() < 3 || n.inputs[2].empty()) continue;
    const std::string& w = n.inputs[1];
    const std::string& b = n.inputs[2];
    const bool native = w.size() >= 6 && w.compare(w.size() - 6, 6, "weight") == 0 && b == w.substr(0, w.size() - 6) + "bias";
    if (!native) folded_bias = true;
  }
  return folded_bias;
}

Tensor OnnxModule::forward(const Tensor& x) {
  HONE_CHECK(!model_.inputs.empty(), model_.path.string(), ": the graph has no inputs");
  std::vector<Tensor> ins{x};
  for (size_t i = 1; i < model_.inputs.size(); ++i)
    fail(model_.path.string(), ": forward(x) takes the first input only, but the graph also needs '", model_.inputs[i].name,
         "': use run()");
  return run(ins).at(0);
}

std::vector<Tensor> OnnxModule::run(const std::vector<Tensor>& inputs) {
  const std::string& file = model_.path.string();
  HONE_CHECK(inputs.size() == model_.inputs.size(), file, ": the graph takes ", model_.inputs.size(), " inputs, got ",
             inputs.size());
  Values values;
  for (const auto& [name, t] : weights_) values[name] = t;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const ValueInfo& vi = model_.inputs[i];
    if (!vi.dims.empty()) {
      HONE_CHECK(inputs[i].dim() == int64_t(vi.dims.size()), file, ": input '", vi.name, "' should have rank ",
                 vi.dims.size(), ", got shape ", inputs[i].shape());
      for (size_t d = 1; d < vi.dims.size(); ++d)  // the batch dim may differ (old exports fix it at 1)
        HONE_CHECK(vi.dims[d] < 0 || vi.dims[d] == inputs[i].size(int64_t(d)), file, ": input '", vi.name, "' should be ",
                   vi.dims, ", got ", inputs[i].shape());
    }
    values[vi.name] = inputs[i];
  }
  run_nodes(values, 0, model_.nodes.size());
  std::vector<Tensor> outs;
  for (const ValueInfo& o : model_.outputs) {
    auto it = values.find(o.name);
    HONE_CHECK(it != values.end(), file, ": graph output '", o.name, "' was not computed");
    outs.push_back(it->second);
  }
  return outs;
}

// The Relu after node i, when it reads node i's one output and nothing else does: a
// BatchNormalization or an Add (of two float32 tensors of one shape) then runs fused with it
// (batch_norm's fuse_relu, add_relu: the same numbers, one pass fewer over memory each way).
const Node* OnnxModule::fusable_relu(size_t i, size_t end, const Values& values, const BlockedRunner::Reads& reads) const {
  const Node& n = model_.nodes[i];
  if (i + 1 >= end || !n.domain.empty() || n.outputs.size() != 1 || (n.op_type != "BatchNormalization" && n.op_type != "Add"))
    return nullptr;
  const Node& r = model_.nodes[i + 1];
  if (r.op_type != "Relu" || !r.domain.empty() || r.inputs.size() != 1 || r.inputs[0] != n.outputs[0] ||
      r.outputs.size() != 1)
    return nullptr;
  auto it = reads.find(n.outputs[0]);
  if (it == reads.end() || it->second != 1) return nullptr;
  if (n.op_type == "Add") {
    auto a = values.find(n.inputs.size() == 2 ? n.inputs[0] : ""), b = values.find(n.inputs.size() == 2 ? n.inputs[1] : "");
    if (a == values.end() || b == values.end() || a->second.shape() != b->second.shape() ||
        a->second.dtype() != DType::Float32 || b->second.dtype() != DType::Float32)
      return nullptr;
  }
  return &r;
}

void OnnxModule::run_nodes(std::unordered_map<std::string, Tensor>& values, size_t begin, size_t end) {
  BlockedRunner::Reads reads;  // by the nodes from begin on and by graph outputs
  for (size_t i = begin; i < model_.nodes.size(); ++i)
    for (const std::string& in : model_.nodes[i].inputs) ++reads[in];
  for (const ValueInfo& o : model_.outputs) ++reads[o.name];
  auto run_node = [&](size_t i) -> size_t {
    const Node& n = model_.nodes[i];
    Ctx c{n, model_, values, is_training(), declared_batch_, int(bn_policy_)};
    const Node* relu = fusable_relu(i, end, values, reads);
    Tensor y;
    try {
      if (relu) y = n.op_type == "Add" ? add_relu(c.in(0), c.in(1)) : run_batch_norm(c, true);
      else y = ops().at(n.op_type)(c);
    } catch (const Error& e) {
      const std::string msg = e.what();
      if (msg.find(n.describe()) != std::string::npos) throw;
      fail(model_.path.string(), ": ", n.describe(), ": ", msg);
    }
    const Node& last = relu ? *relu : n;
    if (!last.outputs.empty() && !last.outputs[0].empty()) values[last.outputs[0]] = y;
    return relu ? 2 : 1;
  };
  if (blocked_enabled_ && BlockedRunner::available()) {
    blocked_->run(model_, values, begin, end, {.training = is_training(), .bn_policy = int(bn_policy_), .isa = blocked_isa_},
                  reads, run_node);
    return;
  }
  for (size_t i = begin; i < end;) i += run_node(i);
}

size_t OnnxModule::head_node() const {
  for (int64_t i = int64_t(model_.nodes.size()) - 1; i >= 0; --i) {
    const Node& n = model_.nodes[size_t(i)];
    if ((n.op_type == "Gemm" || n.op_type == "MatMul") && n.inputs.size() > 1 && weights_.count(n.inputs[1]))
      return size_t(i);
  }
  fail(model_.path.string(), ": no Gemm or MatMul with an initializer weight: the graph has no classifier head");
}

Tensor OnnxModule::forward_features(const Tensor& x) {
  HONE_CHECK(model_.inputs.size() == 1, model_.path.string(), ": forward_features takes graphs with one input, this has ",
             model_.inputs.size());
  const size_t head = head_node();
  Values values;
  for (const auto& [name, t] : weights_) values[name] = t;
  values[model_.inputs[0].name] = x;
  run_nodes(values, 0, head);
  auto it = values.find(model_.nodes[head].inputs[0]);
  HONE_CHECK(it != values.end(), model_.path.string(), ": the head's input was not computed");
  return it->second.dim() == 2 ? it->second : it->second.flatten(1);
}

Tensor OnnxModule::forward_head(const Tensor& features) {
  const size_t head = head_node();
  Values values;
  for (const auto& [name, t] : weights_) values[name] = t;
  values[model_.nodes[head].inputs[0]] = features;
  run_nodes(values, head, model_.nodes.size());
  auto it = values.find(model_.outputs.at(0).name);
  HONE_CHECK(it != values.end(), model_.path.string(), ": graph output '", model_.outputs.at(0).name,
             "' does not follow from the head alone");
  return it->second;
}

std::pair<int64_t, int64_t> OnnxModule::head_shape() const {
  const Node& n = model_.nodes[head_node()];
  const Tensor& w = weights_.at(n.inputs[1]);
  HONE_CHECK(w.dim() == 2, model_.path.string(), ": the head ", n.describe(), " has a weight of rank ", w.dim());
  const bool out_first = n.op_type == "Gemm" && n.attr_int("transB", 0) != 0;  // weight [out, in]
  return out_first ? std::pair{w.size(1), w.size(0)} : std::pair{w.size(0), w.size(1)};
}

int64_t OnnxModule::num_classes() const { return head_shape().second; }
int64_t OnnxModule::feature_dim() const { return head_shape().first; }

std::vector<std::string> OnnxModule::head_patterns() const {
  const size_t head = head_node();
  const Node& n = model_.nodes[head];
  std::vector<std::string> out;
  for (size_t i = 1; i < n.inputs.size(); ++i)
    if (weights_.count(n.inputs[i])) out.push_back(n.inputs[i]);
  // A MatMul head's bias is in the Add after it (replace_head writes it so).
  if (n.op_type == "MatMul" && head + 1 < model_.nodes.size()) {
    const Node& a = model_.nodes[head + 1];
    if (a.op_type == "Add")
      for (const auto& in : a.inputs)
        if (weights_.count(in)) out.push_back(in);
  }
  return out;
}

void OnnxModule::reset_parameters(Generator* gen) {
  auto w = [&](const Node& n, size_t i) {
    return i < n.inputs.size() && weights_.count(n.inputs[i]) ? weights_.at(n.inputs[i]) : Tensor();
  };
  for (const Node& n : model_.nodes) {
    if (n.op_type == "Conv" || (n.op_type == "Gemm" && n.attr_int("transB", 0) != 0)) {
      if (w(n, 1).defined()) models::reset_linear_like(w(n, 1), w(n, 2), gen);
    } else if (n.op_type == "Gemm" || n.op_type == "MatMul") {  // weight [in, out]
      if (w(n, 1).defined() && w(n, 1).dim() == 2) {
        Tensor wt = w(n, 1).t();  // a view: reset as [out, in]
        models::reset_linear_like(wt, n.op_type == "Gemm" ? w(n, 2) : Tensor(), gen);
      }
    } else if (n.op_type == "BatchNormalization") {
      models::reset_batchnorm(w(n, 1), w(n, 2), w(n, 3), w(n, 4));
    }
  }
}

std::string OnnxModule::stage_path(const std::string& parameter) const {
  if (parameter.find('.') != std::string::npos && parameter.rfind("onnx::", 0) != 0) return parameter;
  for (const Node& n : model_.nodes) {
    if (std::find(n.inputs.begin(), n.inputs.end(), parameter) == n.inputs.end()) continue;
    if (n.name.empty() || n.name[0] != '/') return parameter;
    // Scopes are attribute names, a Sequential's child qualified by its parent's
    // ("layer1", "layer1.0", "conv1"): a part that extends the previous one replaces it.
    std::vector<std::string> path;
    std::stringstream parts(n.name.substr(1));
    std::vector<std::string> scopes;
    for (std::string part; std::getline(parts, part, '/');) scopes.push_back(part);
    if (!scopes.empty()) scopes.pop_back();  // the op ("Conv")
    for (const auto& part : scopes) {
      if (!path.empty() && part.rfind(path.back() + ".", 0) == 0) path.back() = part;
      else path.push_back(part);
    }
    if (path.empty()) return parameter;
    std::string out;
    for (const auto& p : path) out += (out.empty() ? "" : ".") + p;
    return out;
  }
  return parameter;
}

void OnnxModule::freeze_batchnorm(bool all) { bn_policy_ = all ? BnPolicy::All : BnPolicy::WhereFrozen; }

Tensor* OnnxModule::weight_slot(const std::string& name) {
  auto it = weights_.find(name);
  HONE_CHECK(it != weights_.end(), model_.path.string(), ": weight_slot: no initializer '", name, "'");
  return &it->second;
}

void OnnxModule::replace_head(int64_t num_classes, Generator* gen) {
  const std::string& file = model_.path.string();
  HONE_CHECK(num_classes > 0, "replace_head: num_classes must be positive, got ", num_classes);
  int64_t head = int64_t(head_node());
  Node& n = model_.nodes[size_t(head)];
  const Tensor& w = weights_.at(n.inputs[1]);
  HONE_CHECK(w.dim() == 2, file, ": replace_head: ", n.describe(), " has a weight of rank ", w.dim());
  const bool out_first = n.op_type == "Gemm" && n.attr_int("transB", 0) != 0;  // weight [out, in]
  const int64_t fan_in = out_first ? w.size(1) : w.size(0);
  const double bound = 1.0 / std::sqrt(double(fan_in));
  // The new layer takes the old one's names (fc.weight stays fc.weight), so patterns such
  // as "fc.*" still pick the head.
  const std::string wname = n.inputs[1];
  const bool had_bias = n.op_type == "Gemm" && n.inputs.size() > 2 && weights_.count(n.inputs[2]) > 0;
  const std::string bname = had_bias ? n.inputs[2] : wname + "_bias";
  Tensor nw = uniform(out_first ? Shape{num_classes, fan_in} : Shape{fan_in, num_classes}, -bound, bound, {}, gen);
  Tensor nb = uniform({num_classes}, -bound, bound, {}, gen);
  remove_weight(wname);
  if (had_bias) remove_weight(bname);
  add_weight(wname, nw, false);
  add_weight(bname, nb, false);
  weights_[wname] = nw;
  weights_[bname] = nb;
  n.inputs[1] = wname;
  const std::string out = n.outputs.at(0);
  if (n.op_type == "Gemm") {
    n.inputs.resize(3);
    n.inputs[2] = bname;
    for (Attribute& a : n.attributes)
      if (a.name == "alpha" || a.name == "beta") a.f = 1.0;
  } else {  // MatMul + a new Add for the bias
    n.outputs[0] = out + ".matmul";
    Node addn;
    addn.name = n.name + "_bias";
    addn.op_type = "Add";
    addn.inputs = {out + ".matmul", bname};
    addn.outputs = {out};
    model_.nodes.insert(model_.nodes.begin() + head + 1, addn);
    ++head;
  }
  model_.nodes.resize(size_t(head + 1));
  model_.outputs = {ValueInfo{.name = out, .is_tensor = true, .dims = {-1, num_classes}, .dim_names = {"", ""}}};
  // The old head's weights are no longer used by any node: drop them from the parameters.
  std::set<std::string> used;
  for (const Node& m : model_.nodes) used.insert(m.inputs.begin(), m.inputs.end());
  for (auto it = weights_.begin(); it != weights_.end();) {
    if (used.count(it->first)) {
      ++it;
    } else {
      remove_weight(it->first);
      it = weights_.erase(it);
    }
  }
}

std::shared_ptr<OnnxModule> import_onnx(const std::filesystem::path& path) {
  return std::make_shared<OnnxModule>(read_model(path));
}

}  // namespace hone::io::onnx
