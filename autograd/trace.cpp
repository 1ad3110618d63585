// Tracer plumbing: the per-thread pointer the ops test, and typed attribute lookups.
#include "autograd/trace.h"

#include "tensor/error.h"

namespace hone::autograd {

namespace detail {
constinit thread_local Tracer* current_tracer = nullptr;

void report(const char* op, std::initializer_list<Tensor> inputs, std::initializer_list<Tensor> outputs,
            std::initializer_list<TraceAttribute> attributes) {
  current_tracer->report({op, inputs, outputs, attributes});
}
}  // namespace detail

TraceGuard::TraceGuard(Tracer& t) : previous_(detail::current_tracer) { detail::current_tracer = &t; }
TraceGuard::~TraceGuard() { detail::current_tracer = previous_; }

namespace {
template <class T>
const T& lookup(const TraceEvent& e, const std::string& name, const char* kind) {
  for (const TraceAttribute& a : e.attributes)
    if (a.name == name) {
      const T* v = std::get_if<T>(&a.value);
      HONE_CHECK(v, "trace: ", e.op, ": attribute '", name, "' is not ", kind);
      return *v;
    }
  fail("trace: ", e.op, ": no attribute '", name, "'");
}
}  // namespace

bool TraceEvent::has(const std::string& name) const {
  for (const TraceAttribute& a : attributes)
    if (a.name == name) return true;
  return false;
}
int64_t TraceEvent::i(const std::string& name) const { return lookup<int64_t>(*this, name, "an integer"); }
const std::vector<int64_t>& TraceEvent::ints(const std::string& name) const {
  return lookup<std::vector<int64_t>>(*this, name, "a list of integers");
}
double TraceEvent::f(const std::string& name) const { return lookup<double>(*this, name, "a real"); }
const std::string& TraceEvent::s(const std::string& name) const { return lookup<std::string>(*this, name, "a string"); }

}  // namespace hone::autograd
