// autograd/trace: what each hooked op reports, nesting of guards, composite ops, and that
// nothing is recorded (or built) while no tracer is installed.
#include <gtest/gtest.h>

#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "autograd/ops/conv2d.h"
#include "autograd/ops/nn.h"
#include "autograd/ops/pooling.h"
#include "autograd/trace.h"

namespace hone {
namespace {

using autograd::TraceEvent;
using autograd::TraceGuard;
using autograd::Tracer;

std::vector<std::string> ops_of(const Tracer& t) {
  std::vector<std::string> out;
  for (const TraceEvent& e : t.events()) out.push_back(e.op);
  return out;
}

TEST(Trace, NothingIsRecordedWithoutATracer) {
  EXPECT_EQ(autograd::detail::current_tracer, nullptr) << "tracing is off by default";
  Tracer idle;
  const Tensor x = uniform({1, 2, 4, 4}, -1, 1), w = uniform({3, 2, 3, 3}, -1, 1);
  relu(conv2d(x, w)).flatten(1).sum();
  EXPECT_TRUE(idle.events().empty());
  {
    Tracer active;
    TraceGuard guard(active);
    relu(x);
    EXPECT_EQ(active.events().size(), 1u);
  }
  EXPECT_EQ(autograd::detail::current_tracer, nullptr) << "the guard uninstalls its tracer";
  relu(x);
  EXPECT_TRUE(idle.events().empty());
}

TEST(Trace, GuardsNestAndRestore) {
  Tracer outer, inner;
  const Tensor x = uniform({4}, -1, 1);
  TraceGuard a(outer);
  exp(x);
  {
    TraceGuard b(inner);
    neg(x);
  }
  tanh(x);
  EXPECT_EQ(ops_of(outer), (std::vector<std::string>{"exp", "tanh"}));
  EXPECT_EQ(ops_of(inner), (std::vector<std::string>{"neg"}));
}

TEST(Trace, Conv2dReportsItsTensorsAndGeometry) {
  const Tensor x = uniform({1, 2, 7, 7}, -1, 1), w = uniform({4, 1, 3, 3}, -1, 1), b = uniform({4}, -1, 1);
  Tracer t;
  Tensor y;
  {
    TraceGuard g(t);
    y = conv2d(x, w, b, {.stride = {2, 1}, .padding = {1, 0, 1, 2}, .dilation = {1, 2}, .groups = 2});
  }
  ASSERT_EQ(t.events().size(), 1u);
  const TraceEvent& e = t.events()[0];
  EXPECT_EQ(e.op, "conv2d");
  ASSERT_EQ(e.inputs.size(), 3u);
  EXPECT_TRUE(e.inputs[0].is_same(x) && e.inputs[1].is_same(w) && e.inputs[2].is_same(b));
  ASSERT_EQ(e.outputs.size(), 1u);
  EXPECT_TRUE(e.outputs[0].is_same(y));
  EXPECT_EQ(e.ints("stride"), (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(e.ints("padding"), (std::vector<int64_t>{1, 0, 1, 2}));
  EXPECT_EQ(e.ints("dilation"), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(e.i("groups"), 2);
  EXPECT_FALSE(e.has("bias"));
  EXPECT_THROW(e.f("groups"), Error);  // another kind
  EXPECT_THROW(e.i("nothing"), Error);
}

TEST(Trace, BatchNormReportsModeAndConstants) {
  const Tensor x = uniform({2, 3, 2, 2}, -1, 1), mean = zeros({3}), var = ones({3});
  Tracer t;
  {
    TraceGuard g(t);
    batch_norm(x, Tensor(), Tensor(), mean, var, {.use_batch_stats = false, .momentum = 0.2, .eps = 1e-3});
  }
  ASSERT_EQ(t.events().size(), 1u);
  const TraceEvent& e = t.events()[0];
  EXPECT_EQ(e.inputs.size(), 5u);
  EXPECT_FALSE(e.inputs[1].defined());
  EXPECT_TRUE(e.inputs[3].is_same(mean));
  EXPECT_EQ(e.i("use_batch_stats"), 0);
  EXPECT_DOUBLE_EQ(e.f("eps"), 1e-3);
  EXPECT_DOUBLE_EQ(e.f("momentum"), 0.2);
  EXPECT_EQ(e.i("convention"), int64_t(BatchNormConvention::PyTorch));
}

// One event per op, named as the op's errors name it; an op built from others (matmul's
// batching views) reports last, after its parts.
TEST(Trace, EveryHookedOpReportsOnce) {
  NoGradGuard no_grad;  // tracing does not depend on grad mode
  const Tensor x = uniform({1, 2, 4, 4}, 0.5, 1.5), m = uniform({4, 4}, -1, 1);
  const std::vector<std::pair<std::string, std::function<void()>>> cases = {
      {"add", [&] { add(x, x, 2.0); }}, {"sub", [&] { sub(x, x); }}, {"mul", [&] { mul(x, x); }},
      {"div", [&] { div(x, x); }}, {"pow", [&] { pow(x, 2.0); }}, {"neg", [&] { neg(x); }},
      {"exp", [&] { exp(x); }}, {"log", [&] { log(x); }}, {"sqrt", [&] { sqrt(x); }}, {"abs", [&] { abs(x); }},
      {"relu", [&] { relu(x); }}, {"sigmoid", [&] { sigmoid(x); }}, {"tanh", [&] { tanh(x); }},
      {"sum", [&] { sum(x, {1}); }}, {"mean", [&] { mean(x); }}, {"max", [&] { max(x, 1); }},
      {"matmul", [&] { matmul(m, m); }}, {"linear", [&] { linear(m, m); }}, {"add_relu", [&] { add_relu(x, x); }},
      {"softmax", [&] { softmax(x, 1); }}, {"log_softmax", [&] { log_softmax(x, 1); }},
      {"max_pool2d", [&] { max_pool2d(x, {.kernel = {2, 2}}); }}, {"avg_pool2d", [&] { avg_pool2d(x, {.kernel = {2, 2}}); }},
      {"adaptive_avg_pool2d", [&] { adaptive_avg_pool2d(x, {2, 1}); }}, {"view", [&] { x.view({2, 16}); }},
      {"reshape", [&] { x.reshape({-1}); }}, {"unsqueeze", [&] { x.unsqueeze(0); }}, {"squeeze", [&] { x.squeeze(0); }},
      {"permute", [&] { x.permute({0, 2, 3, 1}); }}, {"slice", [&] { x.slice(2, 1, 3); }},
      {"expand", [&] { x.expand({3, 2, 4, 4}); }}, {"clone", [&] { x.clone(); }}, {"to", [&] { x.to(DType::Float64); }},
  };
  for (const auto& [op, run] : cases) {
    Tracer t;
    {
      TraceGuard g(t);
      run();
    }
    ASSERT_FALSE(t.events().empty()) << op;
    if (op == "matmul") EXPECT_EQ(ops_of(t).back(), op);
    else EXPECT_EQ(ops_of(t), std::vector<std::string>{op});
    for (const TraceEvent& e : t.events())
      for (const Tensor& o : e.outputs) EXPECT_TRUE(o.defined()) << op;
  }
}

// A composite op reports after its parts; dropout at inference runs (and reports) nothing.
TEST(Trace, CompositeOpsReportAfterTheirParts) {
  const Tensor x = uniform({2, 3, 2}, -1, 1).permute({0, 2, 1});  // not contiguous: reshape copies
  Tracer t;
  Tensor y, same;
  {
    TraceGuard g(t);
    y = x.flatten(1);
    same = dropout(y, 0.5, /*training=*/false);
  }
  EXPECT_EQ(ops_of(t), (std::vector<std::string>{"contiguous", "reshape"}));
  EXPECT_TRUE(t.events().back().outputs[0].is_same(y));
  EXPECT_TRUE(same.is_same(y));
}

}  // namespace
}  // namespace hone
