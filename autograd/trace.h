#pragma once
// Tracing: a record of the ops one forward pass actually ran, for exporters (export_onnx)
// that must write down what the forward does rather than re-derive it from module types.
//
// A Tracer installed with TraceGuard (per thread, for a scope, like NoGradGuard) receives
// one TraceEvent per op: its name, input and output tensors (held, so their TensorImpls stay
// valid identities while the trace lives) and its attributes. Ops report through
// HONE_TRACE, one statement before their return; with no tracer installed that statement
// is one thread-local pointer test and builds nothing.
//
// What a trace means: a tensor's value is what the *last* event naming it as an output
// computed. An op built from other traced ops (dropout from mul, flatten from reshape)
// reports after its parts, so its event supersedes theirs; a reader walks back from the
// outputs through these producers and never sees the parts. An event that returns one of
// its inputs unchanged produces nothing new.
#include <array>
#include <concepts>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "autograd/ops/padding.h"
#include "tensor/tensor.h"

namespace hone::autograd {

// One attribute: an integer (bools and enums as 0/1/...), a list of integers, a real or a
// string. Enough for conv geometry, pooling windows, batch-norm modes, shapes and axes.
struct TraceAttribute {
  using Value = std::variant<int64_t, std::vector<int64_t>, double, std::string>;
  std::string name;
  Value value;

  template <std::integral T>
  TraceAttribute(std::string n, T v) : name(std::move(n)), value(int64_t(v)) {}
  template <class E>
    requires std::is_enum_v<E>
  TraceAttribute(std::string n, E v) : name(std::move(n)), value(int64_t(v)) {}
  template <std::floating_point T>
  TraceAttribute(std::string n, T v) : name(std::move(n)), value(double(v)) {}
  TraceAttribute(std::string n, std::vector<int64_t> v) : name(std::move(n)), value(std::move(v)) {}
  template <size_t N>
  TraceAttribute(std::string n, const std::array<int64_t, N>& v) : name(std::move(n)), value(std::vector<int64_t>(v.begin(), v.end())) {}
  TraceAttribute(std::string n, const Padding2d& p) : TraceAttribute(std::move(n), p.sides) {}  // top, left, bottom, right
  TraceAttribute(std::string n, std::string v) : name(std::move(n)), value(std::move(v)) {}
  TraceAttribute(std::string n, const char* v) : name(std::move(n)), value(std::string(v)) {}
};

struct TraceEvent {
  std::string op;                   // the op's own name, as in its errors ("conv2d")
  std::vector<Tensor> inputs;       // in the op's argument order; undefined where optional and absent
  std::vector<Tensor> outputs;
  std::vector<TraceAttribute> attributes;

  bool has(const std::string& name) const;
  // Typed lookups; a missing attribute or another kind is a hone::Error naming op and attribute.
  int64_t i(const std::string& name) const;
  const std::vector<int64_t>& ints(const std::string& name) const;
  double f(const std::string& name) const;
  const std::string& s(const std::string& name) const;
};

class Tracer {
 public:
  const std::vector<TraceEvent>& events() const { return events_; }
  void report(TraceEvent e) { events_.push_back(std::move(e)); }

 private:
  std::vector<TraceEvent> events_;
};

// Installs `t` as this thread's tracer for the guard's lifetime (guards nest).
class TraceGuard {
 public:
  explicit TraceGuard(Tracer& t);
  ~TraceGuard();
  TraceGuard(const TraceGuard&) = delete;
  TraceGuard& operator=(const TraceGuard&) = delete;

 private:
  Tracer* previous_;
};

namespace detail {
extern thread_local constinit Tracer* current_tracer;  // constinit: no TLS init wrapper on the hot path
void report(const char* op, std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> outputs,
            std::initializer_list<TraceAttribute> attributes = {});
}  // namespace detail

// Whether a tracer is installed on this thread (a forward being exported op by op).
inline bool tracing() { return detail::current_tracer != nullptr; }

}  // namespace hone::autograd

// HONE_TRACE("conv2d", {input, weight, bias}, {out}, {{"group", o.groups}, ...}): reports
// the op to the installed tracer. Arguments are evaluated only while one is installed.
#define HONE_TRACE(op, ...)                                                          \
  do {                                                                               \
    if (::hone::autograd::detail::current_tracer) [[unlikely]]                       \
      ::hone::autograd::detail::report(op, __VA_ARGS__);                             \
  } while (0)
