// Optimizers, gradient clipping, learning-rate schedules and early stopping. The golden
// trajectories come from PyTorch 1.13 (tools/golden/optim_golden.py).
#include <cmath>
#include <cstring>
#include <functional>
#include <iterator>
#include <memory>

#include "golden/optim_golden.h"
#include "nn/layers.h"
#include "nn/optim.h"
#include "nn/schedule.h"
#include "test_util.h"

namespace hone {
namespace {

namespace G = golden::optim;
using namespace optim;

// ---- helpers ---------------------------------------------------------------------------

struct Params {
  Tensor p0, p1;
  std::vector<Tensor> both() const { return {p0, p1}; }
  NamedParameters named() const { return {{"p0", p0}, {"p1", p1}}; }
};

Params golden_params(DType dtype = DType::Float64) {
  Tensor p0 = from_vector<double>({std::begin(G::kP0Init), std::end(G::kP0Init)}, {2, 3}).to(dtype);
  Tensor p1 = from_vector<double>({std::begin(G::kP1Init), std::end(G::kP1Init)}).to(dtype);
  return {p0.set_requires_grad(), p1.set_requires_grad()};
}

// The golden gradients of step t; p1 gets none when `skip` says so for that step.
void set_golden_grads(const Params& ps, int t, bool skip = false) {
  Tensor p0 = ps.p0, p1 = ps.p1;
  p0.set_grad(from_vector<double>({std::begin(G::kGrad0[t]), std::end(G::kGrad0[t])}, {2, 3}).to(p0.dtype()));
  if (skip && G::kSkipP1[t]) p1.set_grad(Tensor());
  else p1.set_grad(from_vector<double>({std::begin(G::kGrad1[t]), std::end(G::kGrad1[t])}).to(p1.dtype()));
}

std::vector<double> flat(const Params& ps) {
  std::vector<double> v = ps.p0.to_vector<double>(), b = ps.p1.to_vector<double>();
  v.insert(v.end(), b.begin(), b.end());
  return v;
}

// The raw bits, so that -0.0 != 0.0 and a nan equals itself: "bit for bit".
std::vector<uint64_t> bits(const Tensor& t) {
  std::vector<double> v = t.to_vector<double>();
  std::vector<uint64_t> out(v.size());
  std::memcpy(out.data(), v.data(), v.size() * sizeof(double));
  return out;
}

using Golden = double[G::kSteps][10];
using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(const Params&)>;

// Steps a fresh optimizer over the golden params and compares every step with PyTorch.
void expect_golden_trajectory(const MakeOptimizer& make, const Golden& golden, bool skip = false,
                              DType dtype = DType::Float64, double rtol = 1e-9, double atol = 1e-12) {
  Params ps = golden_params(dtype);
  std::unique_ptr<Optimizer> opt = make(ps);
  for (int t = 0; t < G::kSteps; ++t) {
    set_golden_grads(ps, t, skip);
    opt->step();
    const std::vector<double> got = flat(ps);
    for (size_t j = 0; j < got.size(); ++j)
      EXPECT_NEAR(got[j], golden[t][j], atol + rtol * std::abs(golden[t][j])) << "step " << t + 1 << " element " << j;
  }
  EXPECT_EQ(opt->step_count(), G::kSteps);
  EXPECT_TRUE(ps.p0.is_leaf() && ps.p1.is_leaf()) << "an optimizer step must not record autograd history";
}

// ---- golden trajectories ---------------------------------------------------------------

TEST(OptimGolden, SgdPlain) {
  expect_golden_trajectory([](const Params& p) { return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.1}); },
                           G::kSgdPlain);
}

TEST(OptimGolden, SgdMomentumDampening) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.05, .momentum = 0.9, .dampening = 0.25});
  }, G::kSgdMomentumDampening);
}

TEST(OptimGolden, SgdNesterov) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
  }, G::kSgdNesterov);
}

TEST(OptimGolden, SgdWeightDecay) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.1, .momentum = 0.5, .weight_decay = 0.05});
  }, G::kSgdWeightDecay);
}

TEST(OptimGolden, Adam) {
  expect_golden_trajectory([](const Params& p) { return std::make_unique<Adam>(p.both(), AdamOptions{.lr = 0.01}); },
                           G::kAdam);
}

TEST(OptimGolden, AdamL2WeightDecay) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<Adam>(
        p.both(), AdamOptions{.lr = 0.02, .beta1 = 0.8, .beta2 = 0.95, .eps = 1e-6, .weight_decay = 0.1});
  }, G::kAdamL2);
}

TEST(OptimGolden, AdamWDefaultDecay) {
  expect_golden_trajectory([](const Params& p) { return std::make_unique<AdamW>(p.both(), AdamWOptions{.lr = 0.01}); },
                           G::kAdamW);
}

TEST(OptimGolden, AdamWDecoupledDecay) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<AdamW>(p.both(), AdamWOptions{.lr = 0.05, .beta1 = 0.85, .beta2 = 0.99, .weight_decay = 0.2});
  }, G::kAdamWDecay);
}

TEST(OptimGolden, SgdTwoGroupsWithOwnLrAndDecay) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(std::vector<ParamGroup>{{.params = {p.p0}},
                                                         {.params = {p.p1}, .lr = 0.2, .weight_decay = 0.05}},
                                 SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01});
  }, G::kSgdTwoGroups);
}

TEST(OptimGolden, AdamTwoGroupsWithOwnLr) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<Adam>(std::vector<ParamGroup>{{.params = {p.p0}}, {.params = {p.p1}, .lr = 0.003}},
                                  AdamOptions{.lr = 0.01, .weight_decay = 0.01});
  }, G::kAdamTwoGroups);
}

// p1 has no gradient at some steps: it must keep its value and its state (Adam's step
// count, the momentum buffer) exactly as PyTorch does.
TEST(OptimGolden, AdamWSkipsParamsWithoutGrad) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<AdamW>(p.both(), AdamWOptions{.lr = 0.02, .weight_decay = 0.1});
  }, G::kAdamWSkip, /*skip=*/true);
}

TEST(OptimGolden, SgdMomentumSkipsParamsWithoutGrad) {
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  }, G::kSgdMomentumSkip, /*skip=*/true);
}

// float32 parameters take the same path in float32 arithmetic: close to the float64 golden.
TEST(OptimGolden, Float32ParamsFollowTheFloat64Trajectory) {
  expect_golden_trajectory([](const Params& p) { return std::make_unique<Adam>(p.both(), AdamOptions{.lr = 0.01}); },
                           G::kAdam, false, DType::Float32, 1e-5, 1e-6);
  expect_golden_trajectory([](const Params& p) {
    return std::make_unique<SGD>(p.both(), SGDOptions{.lr = 0.05, .momentum = 0.9, .nesterov = true});
  }, G::kSgdNesterov, false, DType::Float32, 1e-5, 1e-6);
}

// ---- parameter selection, groups, multipliers ------------------------------------------

TEST(Optim, FrozenAndGradlessParamsAreUntouchedBitForBit) {
  auto run = [](const std::function<std::unique_ptr<Optimizer>(NamedParameters)>& make) {
    Tensor live = from_vector<double>({1.5, -2.0, 0.25}).set_requires_grad();
    Tensor frozen = from_vector<double>({-0.0, 3.0, 1e-300});  // requires_grad false...
    frozen.set_grad(from_vector<double>({1.0, 1.0, 1.0}));     // ...even with a stale grad
    Tensor unused = from_vector<double>({0.7, -0.7}).set_requires_grad();  // no grad at all
    const auto frozen_bits = bits(frozen), unused_bits = bits(unused), live_bits = bits(live);
    std::unique_ptr<Optimizer> opt = make({{"live", live}, {"frozen", frozen}, {"unused", unused}});
    for (int i = 0; i < 3; ++i) {
      live.set_grad(from_vector<double>({0.5, -0.25, 1.0}));
      opt->step();
    }
    EXPECT_EQ(bits(frozen), frozen_bits);
    EXPECT_EQ(bits(unused), unused_bits);
    EXPECT_NE(bits(live), live_bits);
    // Every parameter is listed with its group; only the live one has state.
    for (const auto& [key, value] : opt->state_dict())
      if (key.rfind("param.live.", 0) != 0 && key != "step" && key != "lr")
        EXPECT_TRUE(key == "param.frozen.group" || key == "param.unused.group") << key << ": a skipped parameter got state";
  };
  run([](NamedParameters p) {
    return std::make_unique<SGD>(std::move(p), SGDOptions{.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  });
  run([](NamedParameters p) { return std::make_unique<Adam>(std::move(p), AdamOptions{.weight_decay = 0.1}); });
  run([](NamedParameters p) { return std::make_unique<AdamW>(std::move(p), AdamWOptions{.weight_decay = 0.5}); });
}

TEST(Optim, LrMultTenMovesTenTimesAsFar) {
  Tensor a = zeros({4}, {.dtype = DType::Float64}).set_requires_grad();
  Tensor b = zeros({4}, {.dtype = DType::Float64}).set_requires_grad();
  SGD opt({{.params = {a}, .name = "backbone"}, {.params = {b}, .lr_mult = 10, .name = "head"}}, {.lr = 0.01});
  EXPECT_DOUBLE_EQ(opt.group_lr(1), 10 * opt.group_lr(0));
  const std::vector<double> g = {0.5, -1.0, 2.0, 0.125};
  a.set_grad(from_vector<double>(g));
  b.set_grad(from_vector<double>(g));
  opt.step();
  std::vector<double> da = a.to_vector<double>(), db = b.to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) {
    EXPECT_DOUBLE_EQ(da[i], -0.01 * g[i]);
    EXPECT_DOUBLE_EQ(db[i], 10 * da[i]);
  }
}

TEST(Optim, DecayMultZeroDisablesDecayForThatGroup) {
  // Zero gradients, so weight decay is the only force.
  Tensor a = from_vector<double>({1.0, -2.0}).set_requires_grad();
  Tensor b = from_vector<double>({1.0, -2.0}).set_requires_grad();
  auto zero_grads = [&] {
    a.set_grad(zeros({2}, {.dtype = DType::Float64}));
    b.set_grad(zeros({2}, {.dtype = DType::Float64}));
  };
  {
    SGD opt({{.params = {a}}, {.params = {b}, .decay_mult = 0}}, {.lr = 0.1, .weight_decay = 0.5});
    EXPECT_EQ(opt.group_weight_decay(1), 0.0);
    zero_grads();
    opt.step();
    test::expect_close(a, {1.0 - 0.1 * 0.5 * 1.0, -2.0 + 0.1 * 0.5 * 2.0}, 1e-15, 0);
    EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{1.0, -2.0}));
  }
  {
    AdamW opt({{.params = {a}}, {.params = {b}, .decay_mult = 0}}, {.lr = 0.1, .weight_decay = 0.5});
    const std::vector<double> a0 = a.to_vector<double>();
    zero_grads();
    opt.step();
    test::expect_close(a, {a0[0] * (1 - 0.1 * 0.5), a0[1] * (1 - 0.1 * 0.5)}, 1e-15, 0);
    EXPECT_EQ(b.to_vector<double>(), (std::vector<double>{1.0, -2.0}));
  }
}

TEST(Optim, GroupsWithOwnLrFollowTheSchedule) {
  Tensor a = zeros({1}).set_requires_grad(), b = zeros({1}).set_requires_grad();
  SGD opt({{.params = {a}}, {.params = {b}, .lr_mult = 2, .lr = 0.2}}, {.lr = 0.05});
  EXPECT_DOUBLE_EQ(opt.group_lr(0), 0.05);
  EXPECT_DOUBLE_EQ(opt.group_lr(1), 0.4);
  opt.set_lr(0.025);  // what a schedule does: everything halves
  EXPECT_DOUBLE_EQ(opt.lr(), 0.025);
  EXPECT_DOUBLE_EQ(opt.group_lr(0), 0.025);
  EXPECT_DOUBLE_EQ(opt.group_lr(1), 0.2);
}

TEST(Optim, ZeroGrad) {
  Tensor a = from_vector<float>({1, 2}).set_requires_grad();
  SGD opt(std::vector<Tensor>{a});
  a.set_grad(from_vector<float>({3, 4}));
  opt.zero_grad(/*set_to_none=*/false);
  ASSERT_TRUE(a.grad().defined());
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{0, 0}));
  opt.zero_grad();
  EXPECT_FALSE(a.grad().defined());
}

// Two half batches with loss/2 each accumulate the full batch's gradient of the mean loss.
TEST(Optim, GradientAccumulationMatchesTheFullBatch) {
  const Tensor x = from_vector<double>({1, 2, 0.5, -1, 0, 3, 2, 2, -1, 0.5, 1, 1}, {4, 3});
  const Tensor y = from_vector<double>({1, -2, 0.5, 3});
  auto loss_on = [&](const Tensor& w, int64_t start, int64_t rows) {
    Tensor r = matmul(x.narrow(0, start, rows), w) - y.narrow(0, start, rows);
    return (r * r).mean();
  };
  Tensor w_full = from_vector<double>({0.1, -0.2, 0.3}).set_requires_grad();
  Tensor w_acc = from_vector<double>({0.1, -0.2, 0.3}).set_requires_grad();
  SGD full(std::vector<Tensor>{w_full}, {.lr = 0.05, .momentum = 0.9});
  SGD acc(std::vector<Tensor>{w_acc}, {.lr = 0.05, .momentum = 0.9});
  for (int step = 0; step < 3; ++step) {
    full.zero_grad();
    loss_on(w_full, 0, 4).backward();
    full.step();
    acc.zero_grad();
    (loss_on(w_acc, 0, 2) / 2.0).backward();
    (loss_on(w_acc, 2, 2) / 2.0).backward();
    acc.step();
    test::expect_close(w_acc, w_full, 1e-13, 1e-12);
  }
  EXPECT_NE(w_full.to_vector<double>(), (std::vector<double>{0.1, -0.2, 0.3}));
}

// ---- clip_grad_norm ----------------------------------------------------------------------

TEST(ClipGradNorm, ScalesByMaxNormOverNormWhenAbove) {
  Tensor a = zeros({2}, {.dtype = DType::Float64}).set_requires_grad();
  Tensor b = zeros({1}, {.dtype = DType::Float32}).set_requires_grad();
  Tensor c = zeros({3}).set_requires_grad();  // no grad: ignored
  a.set_grad(from_vector<double>({3, 4}));
  b.set_grad(from_vector<float>({12}));
  EXPECT_DOUBLE_EQ(clip_grad_norm({a, b, c}, 6.5), 13.0);  // sqrt(9 + 16 + 144)
  const double coef = 6.5 / (13.0 + 1e-6);
  test::expect_close(a.grad(), {3 * coef, 4 * coef}, 1e-15, 0);
  test::expect_close(b.grad(), {12 * coef}, 1e-6, 1e-7);
  EXPECT_FALSE(c.grad().defined());
}

TEST(ClipGradNorm, LeavesGradsAloneWhenBelow) {
  Tensor a = zeros({2}, {.dtype = DType::Float64}).set_requires_grad();
  a.set_grad(from_vector<double>({0.3, -0.4}));
  const auto before = bits(a.grad());
  EXPECT_NEAR(clip_grad_norm({a}, 1.0), 0.5, 1e-15);
  EXPECT_EQ(bits(a.grad()), before);
  SGD opt(std::vector<Tensor>{a});
  EXPECT_NEAR(clip_grad_norm(opt, 0.25), 0.5, 1e-15);
  test::expect_close(a.grad(), {0.3 * 0.25 / (0.5 + 1e-6), -0.4 * 0.25 / (0.5 + 1e-6)}, 1e-15, 0);
}

// ---- state_dict ----------------------------------------------------------------------------

Params copy_of(const Params& ps) {
  NoGradGuard no_grad;
  return {ps.p0.detach().clone().set_requires_grad(), ps.p1.detach().clone().set_requires_grad()};
}

void expect_round_trip(const std::function<std::unique_ptr<Optimizer>(const Params&)>& make,
                       const std::vector<std::string>& expected_keys) {
  Params ps = golden_params();
  std::unique_ptr<Optimizer> first = make(ps);
  for (int t = 0; t < 3; ++t) {
    set_golden_grads(ps, t);
    first->step();
  }
  std::map<std::string, Tensor> saved = first->state_dict();
  for (const auto& key : expected_keys) EXPECT_TRUE(saved.count(key)) << "missing " << key;
  EXPECT_EQ(saved.at("step").item<double>(), 3.0);

  Params copy = copy_of(ps);
  std::unique_ptr<Optimizer> second = make(copy);
  second->load_state_dict(saved);
  EXPECT_EQ(second->step_count(), 3);
  const auto saved_bits = bits(saved.begin()->second);
  for (int t = 3; t < G::kSteps; ++t) {
    set_golden_grads(ps, t);
    set_golden_grads(copy, t);
    first->step();
    second->step();
    EXPECT_EQ(bits(ps.p0), bits(copy.p0)) << "step " << t + 1;
    EXPECT_EQ(bits(ps.p1), bits(copy.p1)) << "step " << t + 1;
  }
  EXPECT_EQ(bits(saved.begin()->second), saved_bits) << "state_dict must hold copies, not the live buffers";
}

TEST(OptimState, SgdRoundTripGivesTheIdenticalNextStep) {
  expect_round_trip([](const Params& p) {
    return std::make_unique<SGD>(p.named(), SGDOptions{.lr = 0.05, .momentum = 0.9, .weight_decay = 0.01, .nesterov = true});
  }, {"step", "lr", "param.p0.group", "param.p0.momentum_buffer", "param.p1.momentum_buffer"});
}

TEST(OptimState, AdamAndAdamWRoundTripGiveTheIdenticalNextStep) {
  expect_round_trip([](const Params& p) { return std::make_unique<Adam>(p.named(), AdamOptions{.lr = 0.01}); },
                    {"step", "lr", "param.p0.exp_avg", "param.p0.exp_avg_sq", "param.p1.step"});
  expect_round_trip([](const Params& p) {
    return std::make_unique<AdamW>(std::vector<ParamGroup>{{.params = {p.p0}, .param_names = {"p0"}},
                                                           {.params = {p.p1}, .lr_mult = 3, .param_names = {"p1"}}},
                                   AdamWOptions{.lr = 0.01});
  }, {"param.p1.group", "param.p1.exp_avg", "param.p1.step"});
}

TEST(OptimState, LoadRestoresTheBaseLr) {
  Params ps = golden_params();
  SGD a(ps.named(), {.lr = 0.1});
  a.set_lr(0.0125);
  SGD b(copy_of(ps).named(), {.lr = 0.1});
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.lr(), 0.0125);
}

TEST(OptimState, LoadNamesMissingUnknownAndMisShapedKeys) {
  Params ps = golden_params();
  Adam adam(ps.named());
  set_golden_grads(ps, 0);
  adam.step();
  const std::map<std::string, Tensor> good = adam.state_dict();
  auto without = [&](const std::string& key) {
    auto s = good;
    s.erase(key);
    return s;
  };
  auto with = [&](const std::string& key, Tensor value) {
    auto s = good;
    s[key] = value;
    return s;
  };
  const Tensor count = scalar_tensor(1.0, {.dtype = DType::Float64});
  Adam fresh(copy_of(ps).named());
  test::expect_error([&] { fresh.load_state_dict(without("param.p1.exp_avg_sq")); },
                          {"missing key", "param.p1.exp_avg_sq"});
  test::expect_error([&] { fresh.load_state_dict(without("param.p0.group")); }, {"missing key", "param.p0.group"});
  test::expect_error([&] { fresh.load_state_dict(without("step")); }, {"missing key", "\"step\""});
  test::expect_error([&] { fresh.load_state_dict(with("param.p0.exp_avg", zeros({3, 2}))); },
                          {"param.p0.exp_avg", "[3,2]", "[2,3]"});
  test::expect_error([&] { fresh.load_state_dict(with("param.p0.momentum_buffer", zeros({2, 3}))); },
                          {"unknown key", "momentum_buffer", "exp_avg"});
  test::expect_error([&] { fresh.load_state_dict(with("param.p0.group", zeros({2}))); }, {"param.p0.group", "one number"});
  test::expect_error([&] { fresh.load_state_dict(with("param.p9.group", count)); }, {"saved but not in this optimizer: p9"});
  test::expect_error([&] { fresh.load_state_dict(with("param.p9.exp_avg", zeros({2, 3}))); }, {"saved but not", "p9"});
  test::expect_error([&] { fresh.load_state_dict(with("param.p0.group", count)); },
                          {"in another group", "p0 (saved in group 1, here in group 0)"});
  test::expect_error([&] { fresh.load_state_dict(with("momentum", zeros({1}))); }, {"unknown key", "momentum"});
  test::expect_error([&] { fresh.load_state_dict(with("param..group", count)); }, {"unknown key", "param..group"});
  // A failed load changes nothing: the fresh optimizer still has no state.
  EXPECT_EQ(fresh.state_dict().size(), 4u);  // step, lr and each parameter's group
  EXPECT_EQ(fresh.step_count(), 0);
}

// Counts are float64 in the file: one past what int64 holds would be undefined behaviour
// to convert, one that is negative, fractional or nan is no count.
TEST(OptimState, CountsOutOfRangeAreRefused) {
  Params ps = golden_params();
  Adam adam(ps.named());
  set_golden_grads(ps, 0);
  adam.step();
  Adam fresh(copy_of(ps).named());
  for (double bad : {1e30, -1.0, 2.5, std::nan(""), 9007199254740994.0}) {
    SCOPED_TRACE(bad);
    for (const char* key : {"step", "param.p0.step", "param.p1.group"}) {
      auto s = adam.state_dict();
      s[key] = scalar_tensor(bad, {.dtype = DType::Float64});
      test::expect_error([&] { fresh.load_state_dict(s); }, {key});
      test::expect_error([&] { fresh.check_state_dict(s); }, {key});
    }
  }
  EXPECT_EQ(fresh.step_count(), 0);
}

// State goes to the parameter of the same name wherever it sits: two parameters of one
// shape swapped in order (what another freeze pattern does to positions) keep their own.
TEST(OptimState, StateFollowsTheParameterNameNotItsPosition) {
  auto make = [](const Tensor& a, const Tensor& b, bool swapped) {
    NamedParameters named = {{"a", a}, {"b", b}};
    if (swapped) std::swap(named[0], named[1]);
    return SGD(named, {.lr = 0.1, .momentum = 0.9});
  };
  Tensor a = from_vector<double>({1, 2}).set_requires_grad(), b = from_vector<double>({3, 4}).set_requires_grad();
  SGD first = make(a, b, false);
  a.set_grad(from_vector<double>({1, -1}));  // only `a` moves: only `a` has momentum
  first.step();
  NoGradGuard no_grad;
  Tensor a2 = a.detach().clone().set_requires_grad(), b2 = b.detach().clone().set_requires_grad();
  SGD second = make(a2, b2, true);
  second.load_state_dict(first.state_dict());
  for (Tensor p : {a, a2}) p.set_grad(from_vector<double>({0.5, 0.5}));
  for (Tensor p : {b, b2}) p.set_grad(from_vector<double>({-0.25, -0.25}));
  first.step();
  second.step();
  EXPECT_EQ(bits(a2), bits(a));
  EXPECT_EQ(bits(b2), bits(b));
}

TEST(OptimState, StateOfOtherParametersIsRefusedNamingThem) {
  Tensor w1 = zeros({2, 2}).set_requires_grad(), w2 = zeros({2, 2}).set_requires_grad(),
         w3 = zeros({2, 2}).set_requires_grad();
  SGD saved(NamedParameters{{"layer1.w", w1}, {"layer2.w", w2}}, {.momentum = 0.9});
  SGD other(NamedParameters{{"layer1.w", w1}, {"layer3.w", w3}}, {.momentum = 0.9});
  test::expect_error([&] { other.load_state_dict(saved.state_dict()); },
                     {"SGD.load_state_dict", "other parameters", "1 saved but not in this optimizer: layer2.w",
                      "1 in this optimizer but not saved: layer3.w"});
  SGD regrouped({{.params = {w1}, .param_names = {"layer1.w"}}, {.params = {w2}, .param_names = {"layer2.w"}}},
                {.momentum = 0.9});
  test::expect_error([&] { regrouped.load_state_dict(saved.state_dict()); },
                     {"in another group", "layer2.w (saved in group 0, here in group 1)"});
}

TEST(OptimState, UnnamedParametersAndPositionalKeysAreRefused) {
  Params ps = golden_params();
  SGD unnamed(ps.both(), {.momentum = 0.9});
  test::expect_error([&] { unnamed.state_dict(); }, {"SGD.state_dict", "parameter 0 of group 0", "no name",
                                                     "named_parameters"});
  SGD named(ps.named(), {.momentum = 0.9});
  test::expect_error([&] { unnamed.load_state_dict(named.state_dict()); }, {"SGD.load_state_dict", "no name"});
  // What hone wrote before state was keyed by name.
  auto old = named.state_dict();
  old["group.0.param.1.momentum_buffer"] = zeros({2});
  test::expect_error([&] { named.load_state_dict(old); }, {"group.0.param.1.momentum_buffer", "by position"});
}

TEST(OptimState, NameParametersNamesEachGroupFromTheModule) {
  nn::Linear fc(3, 2);
  SGD opt({{.params = {fc.bias}}, {.params = {fc.weight}, .lr_mult = 10}});
  opt.name_parameters(fc);
  EXPECT_EQ(opt.groups()[0].param_names, std::vector<std::string>{"bias"});
  EXPECT_EQ(opt.groups()[1].param_names, std::vector<std::string>{"weight"});
  EXPECT_EQ(opt.state_dict().count("param.weight.group"), 1u);
  SGD stray(std::vector<Tensor>{fc.weight, zeros({4}).set_requires_grad()});
  test::expect_error([&] { stray.name_parameters(fc); }, {"parameter 1 of group 0", "[4]", "not a parameter of the Linear"});
  EXPECT_TRUE(stray.groups()[0].param_names.empty()) << "a failed call names nothing";
}

// ---- option checks ---------------------------------------------------------------------------

TEST(OptimErrors, BadOptionsAreRefusedWithClearText) {
  Tensor p = zeros({2}).set_requires_grad();
  const std::vector<Tensor> ps = {p};
  test::expect_error([&] { SGD(ps, {.lr = -0.1}); }, {"SGD", "learning rate", "-0.1"});
  test::expect_error([&] { SGD(ps, {.momentum = -0.5}); }, {"SGD", "momentum"});
  test::expect_error([&] { SGD(ps, {.weight_decay = -1}); }, {"SGD", "weight_decay"});
  test::expect_error([&] { SGD(ps, {.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                          {"Nesterov", "dampening"});
  test::expect_error([&] { SGD(ps, {.nesterov = true}); }, {"Nesterov", "momentum"});
  test::expect_error([&] { Adam(ps, {.lr = -1}); }, {"Adam", "learning rate"});
  test::expect_error([&] { Adam(ps, {.beta1 = 1.0}); }, {"Adam", "beta1"});
  test::expect_error([&] { Adam(ps, {.beta2 = -0.1}); }, {"Adam", "beta2"});
  test::expect_error([&] { Adam(ps, {.eps = -1e-8}); }, {"Adam", "eps"});
  test::expect_error([&] { AdamW(ps, {.weight_decay = -0.01}); }, {"AdamW", "weight_decay"});
  test::expect_error([&] { SGD({{.params = ps, .lr_mult = -1, .name = "fc"}}); }, {"lr_mult", "\"fc\""});
  test::expect_error([&] { SGD({{.params = ps, .lr = -2}}); }, {"learning rate", "group 0"});
  test::expect_error([&] { SGD({{.params = ps}, {.params = ps}}); }, {"more than once"});
  test::expect_error([&] { SGD(std::vector<ParamGroup>{{.params = {}}}); }, {"no parameters"});
  test::expect_error([&] { SGD(std::vector<Tensor>{zeros({2}, {.dtype = DType::Int64})}); }, {"int64"});
  Tensor q = zeros({2}).set_requires_grad();
  test::expect_error([&] { SGD({{.params = {p, q}, .param_names = {"p"}}}); }, {"1 param_names for 2 parameters"});
  test::expect_error([&] { SGD({{.params = {p}, .param_names = {""}}}); }, {"parameter 0", "empty name"});
  test::expect_error([&] { SGD({{.params = {p}, .param_names = {"w"}}, {.params = {q}, .param_names = {"w"}}}); },
                     {"\"w\"", "more than one parameter"});
  SGD renamed(NamedParameters{{"a", p}, {"b", q}});
  renamed.groups()[0].param_names[1] = "a";  // groups() is writable: state_dict checks again
  test::expect_error([&] { renamed.state_dict(); }, {"state_dict", "\"a\"", "more than one parameter"});
  SGD ok(ps);
  test::expect_error([&] { ok.set_lr(-1); }, {"learning rate"});
  test::expect_error([&] { clip_grad_norm(ps, -1); }, {"max_norm"});
}

// ---- schedules ---------------------------------------------------------------------------------

template <size_t N>
void expect_schedule(LRSchedule& sched, const double (&golden)[N]) {
  for (size_t k = 0; k < N; ++k)
    EXPECT_NEAR(sched.lr_at(int64_t(k)), golden[k], 1e-15 + 1e-9 * golden[k]) << "step " << k;
  // Driven through an optimizer, as in training.
  Tensor p = zeros({1}).set_requires_grad();
  SGD opt(std::vector<Tensor>{p}, {.lr = 123.0});
  sched.apply(opt);
  EXPECT_NEAR(opt.lr(), golden[0], 1e-15 + 1e-9 * golden[0]);
  for (size_t k = 1; k < N; ++k) {
    sched.step(opt);
    EXPECT_EQ(sched.step_count(), int64_t(k));
    EXPECT_NEAR(opt.lr(), golden[k], 1e-15 + 1e-9 * golden[k]) << "after " << k << " steps";
  }
}

TEST(ScheduleGolden, StepLR) {
  StepLR s(0.1, 3, 0.5);
  expect_schedule(s, G::kStepLR);
}

TEST(ScheduleGolden, MultiStepLR) {
  MultiStepLR s(0.1, {9, 2, 5}, 0.3);  // order does not matter
  expect_schedule(s, G::kMultiStepLR);
}

TEST(ScheduleGolden, ExponentialLR) {
  ExponentialLR s(0.1, 0.8);
  expect_schedule(s, G::kExponentialLR);
}

TEST(ScheduleGolden, CosineWithWarmup) {
  CosineWithWarmup s(0.1, 3, 12, 0.001, 0.1);
  expect_schedule(s, G::kCosineWithWarmup);
  EXPECT_EQ(s.lr_at(13), 0.001);  // holds min_lr after total_steps
  EXPECT_EQ(s.lr_at(1000), 0.001);
}

TEST(ScheduleGolden, CosineWithoutWarmup) {
  CosineWithWarmup s(0.05, 0, 10);
  expect_schedule(s, G::kCosineNoWarmup);
}

TEST(ScheduleGolden, OneCycle) {
  OneCycle s(0.1, 20);
  expect_schedule(s, G::kOneCycle);
  EXPECT_EQ(s.lr_at(21), 0.1 / 25 / 1e4);
  OneCycle odd(0.5, 7, 0.25, 10, 100);  // warm-up ends between steps
  expect_schedule(odd, G::kOneCycleOdd);
}

TEST(ScheduleGolden, ReduceOnPlateauMinRel) {
  Tensor p = zeros({1}).set_requires_grad();
  SGD opt(std::vector<Tensor>{p}, {.lr = 0.1});
  ReduceOnPlateau plateau({.mode = Mode::Min, .factor = 0.5, .patience = 2, .threshold = 0.01,
                           .threshold_mode = ThresholdMode::Rel, .cooldown = 1, .min_lr = 0.01});
  for (size_t k = 0; k < std::size(G::kPlateauMinMetrics); ++k) {
    plateau.step(opt, G::kPlateauMinMetrics[k]);
    EXPECT_NEAR(opt.lr(), G::kPlateauMinRel[k], 1e-15) << "after metric " << k;
  }
}

TEST(ScheduleGolden, ReduceOnPlateauMaxAbs) {
  Tensor p = zeros({1}).set_requires_grad();
  SGD opt(std::vector<Tensor>{p}, {.lr = 0.1});
  ReduceOnPlateau plateau({.mode = Mode::Max, .factor = 0.2, .patience = 1, .threshold = 0.05,
                           .threshold_mode = ThresholdMode::Abs, .cooldown = 0, .min_lr = 0.001});
  for (size_t k = 0; k < std::size(G::kPlateauMaxMetrics); ++k) {
    plateau.step(opt, G::kPlateauMaxMetrics[k]);
    EXPECT_NEAR(opt.lr(), G::kPlateauMaxAbs[k], 1e-15) << "after metric " << k;
  }
}

TEST(Schedule, StateRoundTrip) {
  Tensor p = zeros({1}).set_requires_grad();
  SGD opt(NamedParameters{{"p", p}}, {.lr = 0.1});
  StepLR a(0.1, 3, 0.5);
  for (int i = 0; i < 4; ++i) a.step(opt);
  StepLR b(0.1, 3, 0.5);
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.step_count(), 4);
  EXPECT_EQ(b.lr(), a.lr());
  test::expect_error([&] { b.load_state_dict({}); }, {"missing key", "\"step\""});

  // Plateau: stop half way, restore into a fresh one, continue both in lock step.
  SGD opt2(NamedParameters{{"p", zeros({1}).set_requires_grad()}}, {.lr = 0.1});
  const PlateauOptions po{.factor = 0.5, .patience = 2, .threshold = 0.01, .cooldown = 1, .min_lr = 0.01};
  ReduceOnPlateau first(po), second(po);
  for (size_t k = 0; k < 9; ++k) first.step(opt, G::kPlateauMinMetrics[k]);
  second.load_state_dict(first.state_dict());
  opt2.load_state_dict(opt.state_dict());
  EXPECT_EQ(second.best(), first.best());
  EXPECT_EQ(second.bad_steps(), first.bad_steps());
  for (size_t k = 9; k < std::size(G::kPlateauMinMetrics); ++k) {
    EXPECT_EQ(first.step(opt, G::kPlateauMinMetrics[k]), second.step(opt2, G::kPlateauMinMetrics[k]));
    EXPECT_EQ(opt.lr(), opt2.lr());
    EXPECT_EQ(second.cooldown_counter(), first.cooldown_counter());
  }
}

TEST(Schedule, BadArgumentsAreRefused) {
  test::expect_error([] { StepLR(0.1, 0); }, {"StepLR", "step_size"});
  test::expect_error([] { ExponentialLR(-0.1, 0.9); }, {"ExponentialLR", "base_lr"});
  test::expect_error([] { MultiStepLR(0.1, {3, -1}); }, {"MultiStepLR", "milestones"});
  test::expect_error([] { CosineWithWarmup(0.1, 20, 10); }, {"CosineWithWarmup", "warmup_steps"});
  test::expect_error([] { CosineWithWarmup(0.1, 2, 10, 0, 1.5); }, {"warmup_start_factor"});
  test::expect_error([] { OneCycle(0.1, 0); }, {"OneCycle", "total_steps"});
  test::expect_error([] { OneCycle(0.1, 10, 1.5); }, {"OneCycle", "pct_start"});
  test::expect_error([] { ReduceOnPlateau({.factor = 1.0}); }, {"ReduceOnPlateau", "factor"});
  test::expect_error([] { StepLR(0.1, 3).lr_at(-1); }, {"step must be >= 0"});
}

// ---- early stopping --------------------------------------------------------------------------

TEST(EarlyStopping, PatienceCountsUpdatesWithoutEnoughImprovement) {
  EarlyStopping es(Mode::Min, /*patience=*/2, /*min_delta=*/0.01);
  EXPECT_EQ(es.best_step(), -1);
  EXPECT_FALSE(es.update(1.0));    // first value: best
  EXPECT_TRUE(es.improved());
  EXPECT_FALSE(es.update(0.995));  // better, but not by more than min_delta: bad 1
  EXPECT_FALSE(es.improved());
  EXPECT_EQ(es.bad_steps(), 1);
  EXPECT_FALSE(es.update(0.98));   // 0.98 < 1.0 - 0.01: new best, bad steps reset
  EXPECT_EQ(es.best(), 0.98);
  EXPECT_EQ(es.best_step(), 2);
  EXPECT_EQ(es.bad_steps(), 0);
  EXPECT_FALSE(es.update(0.975));  // bad 1
  EXPECT_TRUE(es.update(0.99));    // bad 2 == patience: stop
  EXPECT_TRUE(es.should_stop());
  EXPECT_TRUE(es.update(std::nan("")));  // nan never improves
  EXPECT_EQ(es.bad_steps(), 3);
  EXPECT_FALSE(es.update(0.5));    // a real improvement clears it
  EXPECT_EQ(es.best_step(), 6);
  EXPECT_EQ(es.step_count(), 7);
}

TEST(EarlyStopping, MaxModeAndZeroPatience) {
  EarlyStopping es(Mode::Max, 0);
  EXPECT_FALSE(es.update(0.5));  // an improvement never stops training
  EXPECT_FALSE(es.update(0.6));
  EXPECT_TRUE(es.update(0.6));   // not strictly better: stop at once
  EXPECT_EQ(es.best(), 0.6);
  EXPECT_EQ(es.best_step(), 1);
}

TEST(EarlyStopping, StateRoundTrip) {
  EarlyStopping a(Mode::Min, 3, 0.0);
  for (double m : {1.0, 0.8, 0.9, 0.85}) a.update(m);
  EarlyStopping b(Mode::Min, 3, 0.0);
  b.load_state_dict(a.state_dict());
  EXPECT_EQ(b.best(), 0.8);
  EXPECT_EQ(b.best_step(), 1);
  EXPECT_EQ(b.bad_steps(), 2);
  EXPECT_EQ(b.step_count(), 4);
  EXPECT_EQ(a.update(0.81), b.update(0.81));
  EXPECT_TRUE(b.should_stop());
  auto broken = a.state_dict();
  broken.erase("best_step");
  test::expect_error([&] { b.load_state_dict(broken); }, {"EarlyStopping", "missing key", "best_step"});
  test::expect_error([] { EarlyStopping(Mode::Min, -1); }, {"patience"});
}

}  // namespace
}  // namespace hone
