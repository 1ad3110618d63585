// The fused optimizer kernels (issue 13) against the tensor-op optimizers they replaced
// (tests/optim_composed.h), bit for bit over several steps; masks (issue 14); and
// clip_grad_norm through the registry against its former host loop.
#include <cstring>
#include <functional>
#include <memory>

#include "io/checkpoint.h"
#include "nn/layers.h"
#include "optim_composed.h"
#include "test_util.h"

namespace hone {
namespace {

using namespace optim;

// Raw bytes, so -0.0 != 0.0 and NaN equals itself.
std::vector<unsigned char> bytes(const Tensor& t) {
  Tensor c = raw::contiguous(t.to(Device::cpu()));
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  return {p, p + c.numel() * int64_t(c.element_size())};
}

const std::vector<Shape> kShapes{{3, 5}, {7}, {4, 4}, {70001}};  // the last splits over threads
const std::vector<std::string> kNames{"a.w", "a.b", "b.w", "c.w"};

std::vector<Tensor> make_params(DType t) {
  Generator gen(11);
  std::vector<Tensor> ps;
  for (const Shape& s : kShapes) ps.push_back(randn(s, {}, &gen).to(t).set_requires_grad());
  return ps;
}

// Three groups: defaults; lr_mult 10 with decay_mult 0.5; their own lr and weight decay.
std::vector<ParamGroup> make_groups(const std::vector<Tensor>& ps) {
  std::vector<ParamGroup> g(3);
  g[0].params = {ps[0], ps[1]}, g[0].param_names = {kNames[0], kNames[1]};
  g[1].params = {ps[2]}, g[1].param_names = {kNames[2]}, g[1].lr_mult = 10, g[1].decay_mult = 0.5;
  g[2].params = {ps[3]}, g[2].param_names = {kNames[3]}, g[2].lr = 0.003, g[2].weight_decay = 0.02;
  return g;
}

// Step t's gradients: random, some exactly 0, the 4x4 one a transposed (strided) view.
void set_grads(const std::vector<Tensor>& ps, int t) {
  Generator gen(100 + uint64_t(t));
  for (size_t i = 0; i < ps.size(); ++i) {
    Tensor g = randn(kShapes[i], {}, &gen).to(ps[i].dtype());
    g = g * gt(abs(g), scalar_like(0.3, g)).to(g.dtype());  // about a quarter exactly 0
    if (i == 2) g = g.t().contiguous().t();
    Tensor p = ps[i];
    p.set_grad(g);
  }
}

using Make = std::function<std::unique_ptr<Optimizer>(std::vector<ParamGroup>)>;

// Runs both optimizers 6 steps on equal parameters and gradients: the parameters after
// every step and the whole state at the end must be the same bits.
void expect_bitwise_equal(const Make& fused, const Make& composed, DType t) {
  std::vector<Tensor> pf = make_params(t), pc = make_params(t);
  auto of = fused(make_groups(pf)), oc = composed(make_groups(pc));
  for (int step = 0; step < 6; ++step) {
    set_grads(pf, step), set_grads(pc, step);
    if (step == 3) of->set_lr(of->lr() * 0.5), oc->set_lr(oc->lr() * 0.5);
    of->step(), oc->step();
    for (size_t i = 0; i < pf.size(); ++i)
      ASSERT_EQ(bytes(pf[i]), bytes(pc[i])) << kNames[i] << " after step " << step + 1 << ", " << dtype_name(t);
  }
  const auto sf = of->state_dict(), sc = oc->state_dict();
  ASSERT_EQ(sf.size(), sc.size());
  for (const auto& [key, value] : sc) {
    ASSERT_TRUE(sf.count(key)) << key;
    EXPECT_EQ(bytes(sf.at(key)), bytes(value)) << key << ", " << dtype_name(t);
  }
}

void expect_sgd_bitwise(SGDOptions o) {
  for (DType t : {DType::Float32, DType::Float64})
    expect_bitwise_equal([o](auto g) { return std::make_unique<SGD>(std::move(g), o); },
                         [o](auto g) { return std::make_unique<composed::SGD>(std::move(g), o); }, t);
}

void expect_adam_bitwise(AdamOptions o, bool decoupled) {
  for (DType t : {DType::Float32, DType::Float64})
    expect_bitwise_equal(
        [o, decoupled](auto g) -> std::unique_ptr<Optimizer> {
          if (!decoupled) return std::make_unique<Adam>(std::move(g), o);
          return std::make_unique<AdamW>(std::move(g), AdamWOptions{.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2,
                                                                    .eps = o.eps, .weight_decay = o.weight_decay});
        },
        [o, decoupled](auto g) { return std::make_unique<composed::Adam>(std::move(g), o, decoupled); }, t);
}

TEST(OptimFused, SgdPlainIsBitwiseTheComposedUpdate) { expect_sgd_bitwise({.lr = 0.1}); }
TEST(OptimFused, SgdMomentumIsBitwiseTheComposedUpdate) { expect_sgd_bitwise({.lr = 0.05, .momentum = 0.9}); }
TEST(OptimFused, SgdDampeningIsBitwiseTheComposedUpdate) {
  expect_sgd_bitwise({.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 1e-3});
}
TEST(OptimFused, SgdNesterovIsBitwiseTheComposedUpdate) {
  expect_sgd_bitwise({.lr = 0.05, .momentum = 0.9, .nesterov = true});
  expect_sgd_bitwise({.lr = 0.05, .momentum = 0.8, .weight_decay = 1e-2, .nesterov = true});
}
TEST(OptimFused, SgdWeightDecayIsBitwiseTheComposedUpdate) { expect_sgd_bitwise({.lr = 0.1, .weight_decay = 1e-2}); }
TEST(OptimFused, AdamIsBitwiseTheComposedUpdate) {
  expect_adam_bitwise({.lr = 1e-2}, false);
  expect_adam_bitwise({.lr = 1e-2, .beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6, .weight_decay = 1e-2}, false);
}
TEST(OptimFused, AdamWIsBitwiseTheComposedUpdate) {
  expect_adam_bitwise({.lr = 1e-2, .weight_decay = 0.05}, true);
  expect_adam_bitwise({.lr = 1e-3, .weight_decay = 0}, true);
}

TEST(OptimFused, StridedGradientsAreReadAndWrongOnesRefusedNamingTheParameter) {
  Tensor w = ones({2, 3}).set_requires_grad();
  SGD opt(NamedParameters{{"fc.weight", w}}, {.lr = 1});
  w.set_grad(from_vector<float>({1, 2, 3, 4, 5, 6}, {3, 2}).t());  // strided
  opt.step();
  EXPECT_EQ(w.to_vector<float>(), (std::vector<float>{0, -2, -4, -1, -3, -5}));
  w.set_grad(ones({2, 3}, {.dtype = DType::Float64}));
  test::expect_error([&] { opt.step(); }, {"SGD.step: the gradient of parameter \"fc.weight\" is float64",
                                           "the parameter is float32"});
  Tensor strided = ones({3, 2}).t().set_requires_grad();
  strided.set_grad(ones({2, 3}));
  Adam adam(NamedParameters{{"head.bias", strided}});
  test::expect_error([&] { adam.step(); }, {"Adam.step: parameter \"head.bias\" is not contiguous"});
}

// ---- masks --------------------------------------------------------------------------------

// A 0/1 mask of the shape, about half 0, as uint8 (or bool).
Tensor random_mask(const Shape& s, uint64_t seed, bool as_bool = false) {
  Generator gen(seed);
  Tensor m = gt(rand(s, {}, &gen), scalar_like(0.5, zeros({})));
  return as_bool ? m : m.to(DType::UInt8);
}

// Steps a masked and an unmasked optimizer over equal parameters and gradients; the mask
// comes in after `unmasked_steps`. Masked-out weights and state keep their bits from that
// moment; masked-in ones are exactly the unmasked run's.
void expect_masks_hold(const Make& make, int unmasked_steps, bool as_bool = false) {
  for (DType t : {DType::Float32, DType::Float64}) {
    std::vector<Tensor> pm = make_params(t), pu = make_params(t);
    auto om = make(make_groups(pm)), ou = make(make_groups(pu));
    std::vector<Tensor> masks;
    std::map<std::string, Tensor> frozen;  // parameters and state when the mask came in
    for (int step = 0; step < 6; ++step) {
      if (step == unmasked_steps) {
        for (size_t i = 0; i < pm.size(); ++i) {
          masks.push_back(random_mask(kShapes[i], 50 + i, as_bool));
          om->set_mask(pm[i], masks.back());
          frozen["param." + kNames[i]] = pm[i].clone();
        }
        for (const auto& [k, v] : om->state_dict()) frozen[k] = v;
      }
      set_grads(pm, step), set_grads(pu, step);
      om->step(), ou->step();
    }
    const auto sm = om->state_dict(), su = ou->state_dict();
    for (size_t i = 0; i < pm.size(); ++i) {
      const std::vector<uint8_t> m = masks[i].to(DType::UInt8).to_vector<uint8_t>();
      const std::string prefix = "param." + kNames[i];
      auto check = [&](const Tensor& got, const Tensor& unmasked, const Tensor& before, const std::string& what) {
        const std::vector<double> g = got.to_vector<double>(), u = unmasked.to_vector<double>();
        const std::vector<double> b = before.defined() ? before.to_vector<double>() : std::vector<double>(g.size(), 0.0);
        for (size_t e = 0; e < g.size(); ++e) {
          const double want = m[e] ? u[e] : b[e];
          ASSERT_EQ(std::memcmp(&g[e], &want, sizeof(double)), 0)
              << what << "[" << e << "] " << (m[e] ? "masked in" : "masked out") << ": " << g[e] << " vs " << want
              << ", " << dtype_name(t);
        }
      };
      check(pm[i], pu[i], frozen.at(prefix), prefix);
      for (const std::string buf : {"momentum_buffer", "exp_avg", "exp_avg_sq"}) {
        const std::string key = prefix + "." + buf;
        if (!su.count(key)) continue;
        // A buffer made after the mask came in starts at 0 where the mask is 0.
        check(sm.at(key), su.at(key), frozen.count(key) ? frozen.at(key) : Tensor(), key);
      }
      EXPECT_EQ(bytes(sm.at(prefix + ".mask")), bytes(masks[i].to(DType::UInt8)));
    }
  }
}

Make sgd(SGDOptions o) {
  return [o](auto g) { return std::make_unique<SGD>(std::move(g), o); };
}

TEST(OptimMask, SgdMaskedOutWeightsAndMomentumNeverChange) {
  expect_masks_hold(sgd({.lr = 0.05, .momentum = 0.9, .weight_decay = 1e-2, .nesterov = true}), 0);
  expect_masks_hold(sgd({.lr = 0.05, .momentum = 0.9, .dampening = 0.2, .weight_decay = 1e-2}), 2);
  expect_masks_hold(sgd({.lr = 0.1, .weight_decay = 1e-2}), 1, /*as_bool=*/true);
}

TEST(OptimMask, AdamAndAdamWMaskedOutWeightsAndMomentsNeverChange) {
  expect_masks_hold([](auto g) { return std::make_unique<Adam>(std::move(g), AdamOptions{.lr = 1e-2, .weight_decay = 1e-2}); }, 0);
  expect_masks_hold([](auto g) { return std::make_unique<AdamW>(std::move(g), AdamWOptions{.lr = 1e-2, .weight_decay = 0.1}); }, 3);
}

TEST(OptimMask, WrongMasksAreRefusedNamingTheParameter) {
  Tensor w = ones({2, 3}).set_requires_grad();
  SGD opt(NamedParameters{{"layer4.0.conv1.weight", w}}, {.lr = 0.1});
  test::expect_error([&] { opt.set_mask(w, ones({3, 2}, {.dtype = DType::UInt8})); },
                     {"SGD.set_mask: the mask of parameter \"layer4.0.conv1.weight\" has shape [3,2]",
                      "the parameter has shape [2,3]"});
  test::expect_error([&] { opt.set_mask(w, ones({2, 3})); },
                     {"the mask of parameter \"layer4.0.conv1.weight\" has dtype float32", "uint8", "bool"});
  test::expect_error([&] { opt.set_mask(ones({2, 3}), ones({2, 3}, {.dtype = DType::UInt8})); },
                     {"SGD.set_mask: the tensor of shape [2,3] is not a parameter of this optimizer"});
  test::expect_error([&] { opt.set_mask(w, Tensor()); }, {"is an undefined tensor"});
  EXPECT_FALSE(opt.mask(w).defined());
  if (cuda_device_count() == 0) {
    std::cout << "[ skipped  ] a mask on another device than its parameter: no CUDA device present\n";
    return;
  }
  test::expect_error([&] { opt.set_mask(w, ones({2, 3}, {.dtype = DType::UInt8, .device = Device::cuda()})); },
                     {"the mask of parameter \"layer4.0.conv1.weight\" is on cuda:0 but the parameter is on cpu"});
}

TEST(OptimMask, MasksAreSavedAndRestoredWithTheState) {
  Tensor w = ones({2, 3}).set_requires_grad(), b = ones({3}).set_requires_grad();
  SGD opt(NamedParameters{{"w", w}, {"b", b}}, {.lr = 0.1, .momentum = 0.9});
  const Tensor mask = from_vector<uint8_t>({1, 0, 1, 0, 0, 1}, {2, 3});
  opt.set_mask(w, mask);
  opt.set_mask(b, gt(ones({3}), zeros({3})));  // bool, saved as uint8
  auto saved = opt.state_dict();  // masks only: no step yet
  ASSERT_TRUE(saved.count("param.w.mask"));
  EXPECT_EQ(saved.at("param.w.mask").dtype(), DType::UInt8);
  EXPECT_EQ(saved.at("param.b.mask").to_vector<uint8_t>(), (std::vector<uint8_t>{1, 1, 1}));

  Tensor w2 = ones({2, 3}).set_requires_grad(), b2 = ones({3}).set_requires_grad();
  SGD resumed(NamedParameters{{"w", w2}, {"b", b2}}, {.lr = 0.1, .momentum = 0.9});
  resumed.load_state_dict(saved);
  EXPECT_EQ(resumed.mask(w2).to_vector<uint8_t>(), mask.to_vector<uint8_t>());
  w2.set_grad(ones({2, 3}));
  resumed.step();
  EXPECT_EQ(w2.to_vector<float>(), (std::vector<float>{0.9f, 1, 0.9f, 1, 1, 0.9f}));

  // A state without masks (saved before masks existed) leaves the masks as they are.
  saved.erase("param.w.mask"), saved.erase("param.b.mask");
  resumed.load_state_dict(saved);
  EXPECT_TRUE(resumed.mask(w2).defined());
  resumed.clear_mask(w2);
  EXPECT_FALSE(resumed.mask(w2).defined());

  saved["param.w.mask"] = ones({3, 2}, {.dtype = DType::UInt8});
  test::expect_error([&] { resumed.load_state_dict(saved); },
                     {"key \"param.w.mask\" must be a uint8 or bool tensor of the parameter's shape [2,3]"});
}

TEST(OptimMask, ACheckpointResumesWithTheMasksItProtected) {
  test::TempDir dir;
  const std::string path = (dir.path / "ckpt.safetensors").string();
  Generator gen(3);
  nn::Linear net(4, 3, true, &gen);
  SGD opt(net.named_parameters(), {.lr = 0.1, .momentum = 0.9});
  const Tensor mask = from_vector<uint8_t>({1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0}, {3, 4});
  opt.set_mask(net.weight, mask);
  io::save_checkpoint(path, {.model = &net, .optimizer = &opt}, {});

  Generator other(4);
  nn::Linear net2(4, 3, true, &other);
  SGD resumed(net2.named_parameters(), {.lr = 0.1, .momentum = 0.9});
  io::load_checkpoint(path, {.model = &net2, .optimizer = &resumed});
  ASSERT_TRUE(resumed.mask(net2.weight).defined());
  EXPECT_EQ(resumed.mask(net2.weight).to_vector<uint8_t>(), mask.to_vector<uint8_t>());
  EXPECT_FALSE(resumed.mask(net2.bias).defined());
}

// ---- clip_grad_norm -------------------------------------------------------------------------

TEST(ClipGradNormFused, MatchesTheHostLoopBitForBitAndReturnsATensor) {
  for (double max_norm : {0.5, 1e9}) {
    std::vector<Tensor> a, b;
    for (int copy = 0; copy < 2; ++copy) {
      Generator gen(5);
      std::vector<Tensor>& ps = copy ? b : a;
      ps = {randn({3, 7}, {}, &gen).set_requires_grad(), randn({70001}, {}, &gen).to(DType::Float64).set_requires_grad(),
            randn({4, 4}, {}, &gen).set_requires_grad(), ones({2}).set_requires_grad()};
      Generator grads(6);
      ps[0].set_grad(randn({3, 7}, {}, &grads));
      ps[1].set_grad(randn({70001}, {.dtype = DType::Float64}, &grads));
      ps[2].set_grad(randn({4, 4}, {}, &grads).t());  // strided: scaled in place all the same
    }
    const double before = composed::clip_grad_norm(a, max_norm);
    const Tensor norm = clip_grad_norm_(b, max_norm);
    EXPECT_EQ(norm.dim(), 0);
    EXPECT_EQ(norm.dtype(), DType::Float64);
    const double got = norm.item<double>();
    EXPECT_EQ(std::memcmp(&got, &before, sizeof(double)), 0) << got << " vs " << before;
    for (size_t i = 0; i < 3; ++i) EXPECT_EQ(bytes(a[i].grad()), bytes(b[i].grad())) << i << ", max_norm " << max_norm;
  }
  EXPECT_EQ(clip_grad_norm_(std::vector<Tensor>{ones({2}).set_requires_grad()}, 1.0).item<double>(), 0.0);
}

}  // namespace
}  // namespace hone
