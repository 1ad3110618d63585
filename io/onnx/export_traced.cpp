// export_onnx for native modules: run the forward once under a tracer (autograd/trace.h)
// and write the ops the output depends on, each through its entry in kOps, the one place
// that maps a hone op to ONNX nodes. Nothing here knows a module type: an edit to a
// block's forward is what gets exported, and a new layer made of existing ops needs
// nothing here.
//
// The trace runs at batch 1 on a random input in eval mode, under NoGradGuard, and again at
// batch 2 on another, to prove the graph holds for any batch and any input: a tensor that no
// traced op computed (a scalar, a constant made in forward) is written as a constant, and
// must be the same both times; if it is not, an op without a trace hook computed it from
// the input (or from its batch size, or forward draws random numbers), and the export would
// be silently wrong, so it is an error. So is a forward whose ops depend on the input's
// values, or whose shapes change with the batch anywhere but in the leading dim.
#include <algorithm>
#include <cstring>
#include <functional>
#include <numeric>
#include <set>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/trace.h"
#include "io/onnx/export_internal.h"
#include "nn/layers.h"
#include "onnx.pb.h"
#include "tensor/error.h"

namespace hone::io::onnx::detail {

namespace {

using autograd::TraceEvent;
using Id = const TensorImpl*;
Id id(const Tensor& t) { return t.unsafe_impl(); }

// eval() for the trace; afterwards every module's own training flag (and each BatchNorm2d's
// mode, which set_mode() may have set apart from it) as it was.
class EvalScope {
 public:
  explicit EvalScope(nn::Module& model) {
    for (const auto& [_, m] : model.named_modules()) {
      training_.emplace_back(m, m->is_training());
      if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(m)) bn_modes_.emplace_back(bn, bn->mode());
    }
    model.eval();
  }
  ~EvalScope() {
    for (auto& [m, on] : training_) m->train(on);  // parents first: each call resets its subtree
    for (auto& [bn, mode] : bn_modes_) bn->set_mode(mode);
  }

 private:
  std::vector<std::pair<nn::Module*, bool>> training_;
  std::vector<std::pair<nn::BatchNorm2d*, nn::BatchNormMode>> bn_modes_;
};

// One traced forward, with each event input's producer resolved: the last event before it
// that output that tensor (-1: none, so the graph input, a parameter or a constant).
struct Trace {
  autograd::Tracer tracer;
  Tensor input, output;
  std::vector<std::vector<int>> producers;
  int output_producer = -1;

  const std::vector<TraceEvent>& events() const { return tracer.events(); }
};

std::unique_ptr<Trace> run_traced(nn::Module& model, const Shape& shape, const TensorOptions& opts, uint64_t seed) {
  auto t = std::make_unique<Trace>();
  Generator gen(seed);  // not the context's: exporting leaves the user's random stream alone
  t->input = randn(shape, opts, &gen);
  {
    autograd::TraceGuard guard(t->tracer);
    t->output = model(t->input);
  }
  std::unordered_map<Id, int> latest;
  auto producer = [&](const Tensor& x) {
    auto it = x.defined() ? latest.find(id(x)) : latest.end();
    return it == latest.end() ? -1 : it->second;
  };
  for (size_t i = 0; i < t->events().size(); ++i) {
    const TraceEvent& e = t->events()[i];
    auto& p = t->producers.emplace_back();
    for (const Tensor& x : e.inputs) p.push_back(producer(x));
    for (const Tensor& y : e.outputs) {
      const bool passes_input_through =
          std::any_of(e.inputs.begin(), e.inputs.end(), [&](const Tensor& x) { return x.defined() && x.is_same(y); });
      if (y.defined() && !passes_input_through) latest[id(y)] = int(i);
    }
  }
  t->output_producer = producer(t->output);
  return t;
}

// The events the output depends on, in the order they ran.
std::vector<int> needed_events(const Trace& t) {
  std::vector<bool> need(t.events().size(), false);
  std::vector<int> stack;
  if (t.output_producer >= 0) stack.push_back(t.output_producer);
  while (!stack.empty()) {
    const int i = stack.back();
    stack.pop_back();
    if (need[size_t(i)]) continue;
    need[size_t(i)] = true;
    for (int p : t.producers[size_t(i)])
      if (p >= 0) stack.push_back(p);
  }
  std::vector<int> out;
  for (size_t i = 0; i < need.size(); ++i)
    if (need[i]) out.push_back(int(i));
  return out;
}

bool same_values(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor x = a.to(Device::cpu()).contiguous(), y = b.to(Device::cpu()).contiguous();
  return std::memcmp(x.data_ptr(), y.data_ptr(), size_t(x.numel()) * dtype_size(x.dtype())) == 0;
}

// Builds the graph from one trace: names values, adds nodes and initializers.
class Builder {
 public:
  Builder(::onnx::GraphProto* g, const Trace& t, const nn::Module& model) : g_(g), t_(t) {
    for (const auto& list : {model.named_parameters(), model.named_buffers()})
      for (const auto& [name, tensor] : list)
        if (tensor.defined()) state_names_.emplace(id(tensor), name), names_.insert(name);
    values_[id(t.input)] = "input";
    names_.insert({"input", "output"});
  }

  // The module an event belongs to, from the parameters and buffers it reads ("" if none).
  std::string module_of(const TraceEvent& e) const {
    for (const Tensor& x : e.inputs)
      if (auto it = x.defined() ? state_names_.find(id(x)) : state_names_.end(); it != state_names_.end())
        return it->second.rfind('.') == std::string::npos ? "" : it->second.substr(0, it->second.rfind('.'));
    return "";
  }
  // For errors: the event's module, else the nearest module upstream of it.
  std::string location(int i) const {
    for (int k = i, hops = 0; k >= 0 && hops < 64; ++hops) {
      const TraceEvent& e = t_.events()[size_t(k)];
      if (std::string m = module_of(e); !m.empty()) return k == i ? "in " + m : "after " + m;
      const auto& p = t_.producers[size_t(k)];
      k = p.empty() ? -1 : *std::max_element(p.begin(), p.end());
    }
    return "in the model's forward";
  }

  void begin(int event) {
    event_ = event;
    where_ = module_of(t_.events()[size_t(event)]);
  }
  const std::string& where() const { return where_; }
  [[noreturn]] void refuse(const std::string& why) const {
    fail("export_onnx: ", t_.events()[size_t(event_)].op, " (", location(event_), "): ", why);
  }

  // The ONNX name of a traced tensor: a node output, "input", a parameter or buffer (an
  // initializer under its state_dict name), else a constant of its traced value.
  std::string value(const Tensor& x) {
    if (auto it = values_.find(id(x)); it != values_.end()) return it->second;
    auto named = state_names_.find(id(x));
    const std::string name = named != state_names_.end() ? named->second : unique("const_" + std::to_string(constants_++));
    fill_tensor(g_->add_initializer(), name, x);
    return values_[id(x)] = name;
  }
  std::string constant(const Tensor& x, const std::string& hint) {
    const std::string name = unique(hint);
    fill_tensor(g_->add_initializer(), name, x);
    return name;
  }
  std::string ints(const std::vector<int64_t>& v) {
    return constant(from_vector(v, {int64_t(v.size())}), where_.empty() ? "shape" : where_ + ".shape");
  }
  void bind(const Tensor& x, const std::string& name) { values_[id(x)] = name; }

  // A node named after the event's module (or its op type), with one fresh output; with
  // `result`, that output is the traced tensor's value.
  ::onnx::NodeProto* node(const std::string& op, const std::vector<std::string>& inputs, const Tensor& result = Tensor()) {
    ::onnx::NodeProto* n = g_->add_node();
    const std::string name = unique(where_.empty() ? op : where_);
    n->set_op_type(op), n->set_name(name);
    for (const auto& i : inputs) n->add_input(i);
    n->add_output(name + "_out");
    if (result.defined()) bind(result, n->output(0));
    return n;
  }

 private:
  std::string unique(const std::string& base) {
    std::string name = base;
    for (int k = 1; !names_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }

  ::onnx::GraphProto* g_;
  const Trace& t_;
  std::unordered_map<Id, std::string> state_names_, values_;
  std::set<std::string> names_;
  int constants_ = 0, event_ = -1;
  std::string where_;
};

using Emit = std::function<void(const TraceEvent&, Builder&)>;

Emit unary(const char* onnx_op) {
  return [onnx_op](const TraceEvent& e, Builder& b) { b.node(onnx_op, {b.value(e.inputs[0])}, e.outputs[0]); };
}
Emit binary(const char* onnx_op) {
  return [onnx_op](const TraceEvent& e, Builder& b) {
    std::string rhs = b.value(e.inputs[1]);
    if (e.has("alpha") && e.f("alpha") != 1.0)  // add/sub: a + alpha * b
      rhs = b.node("Mul", {rhs, b.constant(scalar_tensor(e.f("alpha"), {.dtype = e.inputs[1].dtype()}), "alpha")})->output(0);
    b.node(onnx_op, {b.value(e.inputs[0]), rhs}, e.outputs[0]);
  };
}
Emit alias() {
  return [](const TraceEvent& e, Builder& b) { b.bind(e.outputs[0], b.value(e.inputs[0])); };
}
Emit pool(const char* onnx_op) {
  return [onnx_op](const TraceEvent& e, Builder& b) {
    auto* n = b.node(onnx_op, {b.value(e.inputs[0])}, e.outputs[0]);
    set_ints(n, "kernel_shape", e.ints("kernel"));
    set_ints(n, "strides", e.ints("stride"));
    set_ints(n, "pads", e.ints("padding"));
    if (e.i("ceil_mode")) set_int(n, "ceil_mode", 1);
    if (e.has("dilation") && e.ints("dilation") != std::vector<int64_t>{1, 1}) set_ints(n, "dilations", e.ints("dilation"));
    if (e.has("count_include_pad")) set_int(n, "count_include_pad", e.i("count_include_pad"));
  };
}
// view, reshape, squeeze, unsqueeze and flatten (a reshape): the traced shape, except that
// a leading dim equal to the input's is the batch and stays symbolic (Reshape's 0).
void emit_reshape(const TraceEvent& e, Builder& b) {
  const Shape &in = e.inputs[0].shape(), &out = e.outputs[0].shape();
  const std::string x = b.value(e.inputs[0]);
  if (in.size() >= 2 && out.size() == 2 && out[0] == in[0] &&
      out[1] == std::accumulate(in.begin() + 1, in.end(), int64_t(1), std::multiplies<>()))
    return (void)set_int(b.node("Flatten", {x}, e.outputs[0]), "axis", 1);
  Shape target = out;
  if (!target.empty() && !in.empty() && target[0] == in[0]) target[0] = 0;
  b.node("Reshape", {x, b.ints(target)}, e.outputs[0]);
}

// The op -> ONNX table. An op missing here is refused, naming it and its module.
const std::unordered_map<std::string, Emit>& ops() {
  static const std::unordered_map<std::string, Emit> table = {
      {"conv2d",
       [](const TraceEvent& e, Builder& b) {
         const Tensor& w = e.inputs[1];
         std::vector<std::string> ins = {b.value(e.inputs[0]), b.value(w)};
         if (e.inputs[2].defined()) ins.push_back(b.value(e.inputs[2]));
         auto* n = b.node("Conv", ins, e.outputs[0]);
         set_ints(n, "kernel_shape", {w.size(2), w.size(3)});
         set_ints(n, "strides", e.ints("stride"));
         set_ints(n, "pads", e.ints("padding"));
         set_ints(n, "dilations", e.ints("dilation"));
         set_int(n, "group", e.i("groups"));
       }},
      {"batch_norm",
       [](const TraceEvent& e, Builder& b) {
         if (e.i("use_batch_stats"))
           b.refuse("normalises with batch statistics (training mode); ONNX inference uses running statistics");
         const Tensor &x = e.inputs[0], &w = e.inputs[1], &bias = e.inputs[2];
         const TensorOptions o{.dtype = x.dtype(), .device = x.device()};
         const std::string prefix = b.where().empty() ? "batch_norm" : b.where();
         const bool relu = e.i("fuse_relu");  // batch_norm(..., {.fuse_relu = true}): ONNX has no fused node
         auto* n = b.node("BatchNormalization",
                          {b.value(x), w.defined() ? b.value(w) : b.constant(ones({x.size(1)}, o), prefix + ".weight"),
                           bias.defined() ? b.value(bias) : b.constant(zeros({x.size(1)}, o), prefix + ".bias"),
                           b.value(e.inputs[3]), b.value(e.inputs[4])},
                          relu ? Tensor() : e.outputs[0]);
         set_float(n, "epsilon", e.f("eps"));
         if (relu) b.node("Relu", {n->output(0)}, e.outputs[0]);
       }},
      {"linear",
       [](const TraceEvent& e, Builder& b) {
         const Tensor &x = e.inputs[0], &bias = e.inputs[2];
         if (x.dim() == 2) {
           std::vector<std::string> ins = {b.value(x), b.value(e.inputs[1])};
           if (bias.defined()) ins.push_back(b.value(bias));
           return set_int(b.node("Gemm", ins, e.outputs[0]), "transB", 1);
         }
         auto* wt = b.node("Transpose", {b.value(e.inputs[1])});
         set_ints(wt, "perm", {1, 0});
         auto* mm = b.node("MatMul", {b.value(x), wt->output(0)}, bias.defined() ? Tensor() : e.outputs[0]);
         if (bias.defined()) b.node("Add", {mm->output(0), b.value(bias)}, e.outputs[0]);
       }},
      {"add_relu",
       [](const TraceEvent& e, Builder& b) {
         auto* sum = b.node("Add", {b.value(e.inputs[0]), b.value(e.inputs[1])});
         b.node("Relu", {sum->output(0)}, e.outputs[0]);
       }},
      {"relu", unary("Relu")}, {"sigmoid", unary("Sigmoid")}, {"tanh", unary("Tanh")}, {"exp", unary("Exp")},
      {"log", unary("Log")}, {"sqrt", unary("Sqrt")}, {"abs", unary("Abs")}, {"neg", unary("Neg")},
      {"add", binary("Add")}, {"sub", binary("Sub")}, {"mul", binary("Mul")}, {"div", binary("Div")},
      {"matmul", binary("MatMul")},
      {"pow",
       [](const TraceEvent& e, Builder& b) {
         const std::string base = b.value(e.inputs[0]);
         b.node("Pow",
                {base, e.inputs.size() == 2 ? b.value(e.inputs[1])
                                            : b.constant(scalar_tensor(e.f("exponent"), {.dtype = e.inputs[0].dtype()}), "exponent")},
                e.outputs[0]);
       }},
      {"max_pool2d", pool("MaxPool")},
      {"avg_pool2d", pool("AveragePool")},
      {"adaptive_avg_pool2d",
       [](const TraceEvent& e, Builder& b) {
         const Tensor& x = e.inputs[0];
         const std::vector<int64_t>& size = e.ints("output_size");
         const int64_t h = x.size(2), w = x.size(3);
         if (size[0] == 1 && size[1] == 1) return (void)b.node("GlobalAveragePool", {b.value(x)}, e.outputs[0]);
         // ONNX has no adaptive pool: at the traced size it is a plain average pool with
         // kernel = stride = in / out, where that divides.
         if (h % size[0] != 0 || w % size[1] != 0)
           b.refuse(hone::detail::concat("adaptive pooling ", h, "x", w, " -> ", size[0], "x", size[1],
                                   " is not a plain average pool at this input size"));
         if (h == size[0] && w == size[1]) return b.bind(e.outputs[0], b.value(x));
         auto* n = b.node("AveragePool", {b.value(x)}, e.outputs[0]);
         set_ints(n, "kernel_shape", {h / size[0], w / size[1]});
         set_ints(n, "strides", {h / size[0], w / size[1]});
       }},
      {"view", emit_reshape}, {"reshape", emit_reshape}, {"squeeze", emit_reshape}, {"unsqueeze", emit_reshape},
      {"permute", [](const TraceEvent& e, Builder& b) {
         set_ints(b.node("Transpose", {b.value(e.inputs[0])}, e.outputs[0]), "perm", e.ints("dims"));
       }},
      {"expand", [](const TraceEvent& e, Builder& b) {
         b.node("Expand", {b.value(e.inputs[0]), b.ints(e.ints("shape"))}, e.outputs[0]);
       }},
      {"slice", [](const TraceEvent& e, Builder& b) {
         b.node("Slice", {b.value(e.inputs[0]), b.ints({e.i("start")}), b.ints({e.i("end")}), b.ints({e.i("dim")}),
                          b.ints({e.i("step")})}, e.outputs[0]);
       }},
      {"contiguous", alias()}, {"clone", alias()},
      {"to", [](const TraceEvent& e, Builder& b) {
         if (!e.has("dtype")) return b.bind(e.outputs[0], b.value(e.inputs[0]));  // a device move
         set_int(b.node("Cast", {b.value(e.inputs[0])}, e.outputs[0]), "to", onnx_type(DType(e.i("dtype"))));
       }},
      {"softmax", [](const TraceEvent& e, Builder& b) {
         set_int(b.node("Softmax", {b.value(e.inputs[0])}, e.outputs[0]), "axis", e.i("dim"));
       }},
      {"log_softmax", [](const TraceEvent& e, Builder& b) {
         set_int(b.node("LogSoftmax", {b.value(e.inputs[0])}, e.outputs[0]), "axis", e.i("dim"));
       }},
      {"sum", [](const TraceEvent& e, Builder& b) {  // opset 13+: axes is an input; none reduces all
         std::vector<std::string> ins = {b.value(e.inputs[0])};
         if (!e.ints("dims").empty()) ins.push_back(b.ints(e.ints("dims")));
         set_int(b.node("ReduceSum", ins, e.outputs[0]), "keepdims", e.i("keepdim"));
       }},
      {"mean", [](const TraceEvent& e, Builder& b) {  // opset 17: axes is still an attribute
         auto* n = b.node("ReduceMean", {b.value(e.inputs[0])}, e.outputs[0]);
         if (!e.ints("dims").empty()) set_ints(n, "axes", e.ints("dims"));
         set_int(n, "keepdims", e.i("keepdim"));
       }},
      {"max", [](const TraceEvent& e, Builder& b) {
         const std::string x = b.value(e.inputs[0]);
         auto* values = b.node("ReduceMax", {x}, e.outputs[0]);
         set_ints(values, "axes", {e.i("dim")});
         set_int(values, "keepdims", e.i("keepdim"));
         auto* indices = b.node("ArgMax", {x}, e.outputs[1]);
         set_int(indices, "axis", e.i("dim"));
         set_int(indices, "keepdims", e.i("keepdim"));
       }},
  };
  return table;
}

// `b` ran the forward again at batch 2 on another input. The graph is right for any batch
// only if the same ops ran, each value either kept its shape or grew in its leading dim
// alone, and every constant (an input no traced op computed that is neither the graph
// input nor a parameter or buffer) came out the same.
void check_against(const Trace& a, const Trace& b, const std::vector<int>& needed, const Builder& names,
                   const nn::Module& model) {
  const char* why = ": the forward's ops depend on the input's values or batch size, which a graph cannot express";
  HONE_CHECK(a.events().size() == b.events().size(), "export_onnx: the forward ran ", a.events().size(), " ops at batch 1 and ",
             b.events().size(), " at batch 2", why);
  for (size_t i = 0; i < a.events().size(); ++i)
    HONE_CHECK(a.events()[i].op == b.events()[i].op, "export_onnx: op ", i, " of the forward was ", a.events()[i].op,
               " at batch 1 and ", b.events()[i].op, " at batch 2", why);
  std::set<Id> state;
  for (const auto& list : {model.named_parameters(), model.named_buffers()})
    for (const auto& [_, t] : list) state.insert(id(t));
  for (int i : needed) {
    const TraceEvent &ea = a.events()[size_t(i)], &eb = b.events()[size_t(i)];
    for (size_t k = 0; k < ea.outputs.size() && k < eb.outputs.size(); ++k) {
      if (!ea.outputs[k].defined()) continue;
      const Shape &sa = ea.outputs[k].shape(), &sb = eb.outputs[k].shape();
      Shape batched = sa;
      if (!batched.empty() && batched[0] == 1) batched[0] = 2;
      HONE_CHECK(sb == sa || sb == batched, "export_onnx: ", ea.op, " (", names.location(i), ") gives ", sa, " at batch 1 and ",
                 sb, " at batch 2: the graph carries the batch only as the leading dim");
    }
    for (size_t k = 0; k < ea.inputs.size() && k < eb.inputs.size(); ++k) {
      const Tensor &x = ea.inputs[k], &y = eb.inputs[k];
      if (!x.defined() || a.producers[size_t(i)][k] >= 0 || x.is_same(a.input) || state.count(id(x))) continue;
      HONE_CHECK(y.defined() && same_values(x, y), "export_onnx: ", ea.op, " (", names.location(i), ") reads input ", k,
                 ", a tensor that no traced op computed and that changes with the model's input or batch size (an op "
                 "without a trace hook, detach(), x.size(0), or random numbers drawn in forward): the export cannot "
                 "reproduce it");
    }
  }
}

}  // namespace

void export_traced(nn::Module& model, int64_t channels, const std::vector<int64_t>& input_size, ::onnx::GraphProto* g) {
  TensorOptions opts{.dtype = DType::Float32};
  for (const auto& [_, p] : model.named_parameters())
    if (p.defined() && is_floating(p.dtype())) {
      opts = {.dtype = p.dtype(), .device = p.device()};
      break;
    }
  std::unique_ptr<Trace> trace, again;
  {
    EvalScope eval(model);
    NoGradGuard no_grad;
    trace = run_traced(model, {1, channels, input_size[0], input_size[1]}, opts, 1);
    try {
      again = run_traced(model, {2, channels, input_size[0], input_size[1]}, opts, 2);
    } catch (const Error& e) {
      fail("export_onnx: the forward fails at batch 2, and the exported graph takes any batch: ", e.what());
    }
  }
  const std::vector<int> needed = needed_events(*trace);
  Builder b(g, *trace, model);
  for (int i : needed) {
    const TraceEvent& e = trace->events()[size_t(i)];
    b.begin(i);
    auto entry = ops().find(e.op);
    if (entry == ops().end()) b.refuse("this op has no ONNX mapping (add one to the table in io/onnx/export_traced.cpp)");
    entry->second(e, b);
  }
  check_against(*trace, *again, needed, b, model);
  const std::string y = b.value(trace->output);

  auto declare = [](::onnx::ValueInfoProto* v, const std::string& name, const Tensor& t) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(onnx_type(t.dtype()));
    for (int64_t d = 0; d < t.dim(); ++d)
      if (d == 0) tt->mutable_shape()->add_dim()->set_dim_param("batch");
      else tt->mutable_shape()->add_dim()->set_dim_value(t.size(d));
  };
  declare(g->add_input(), "input", trace->input);
  // The output is named "output" through a final Identity.
  ::onnx::NodeProto* id = g->add_node();
  id->set_op_type("Identity"), id->set_name("output"), id->add_input(y), id->add_output("output");
  declare(g->add_output(), "output", trace->output);
}

}  // namespace hone::io::onnx::detail
