// Learning without Forgetting's distillation loss and Elastic Weight Consolidation
// (nn/continual.h): values against hand-computed ones and naive loops, gradients by finite
// differences, the Fisher diagonal of a linear softmax model against its closed form.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "autograd/gradcheck.h"
#include "autograd/ops.h"
#include "autograd/ops/nn.h"
#include "nn/continual.h"
#include "nn/layers.h"
#include "test_util.h"

namespace hone {
namespace {

Tensor f64(std::vector<double> v, Shape s) { return from_vector<double>(v, s); }

// The loss by naive loops: mean over rows of -sum_j q_j log p_j at temperature T.
double naive_distillation(const std::vector<double>& z, const std::vector<double>& r, int64_t n, int64_t c, double T) {
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double zmax = -1e300, rmax = -1e300, zs = 0, rs = 0;
    for (int64_t j = 0; j < c; ++j) zmax = std::max(zmax, z[size_t(i * c + j)] / T), rmax = std::max(rmax, r[size_t(i * c + j)] / T);
    for (int64_t j = 0; j < c; ++j) zs += std::exp(z[size_t(i * c + j)] / T - zmax), rs += std::exp(r[size_t(i * c + j)] / T - rmax);
    for (int64_t j = 0; j < c; ++j) {
      const double q = std::exp(r[size_t(i * c + j)] / T - rmax) / rs;
      const double logp = z[size_t(i * c + j)] / T - zmax - std::log(zs);
      total -= q * logp;
    }
  }
  return total / double(n);
}

TEST(Distillation, MatchesHandComputedAndNaiveValues) {
  const std::vector<double> z{1, 2, 3, 0, 0, 0}, r{3, 2, 1, 1, 0, 0};
  // PyTorch 1.13: -(softmax(r/2, 1) * log_softmax(z/2, 1)).sum(1).mean() in float64.
  const double torch_value = 1.2194801466123737;
  const double got = nn::distillation_loss(f64(z, {2, 3}), f64(r, {2, 3}), 2.0).item<double>();
  EXPECT_NEAR(got, torch_value, 1e-14);
  EXPECT_NEAR(got, naive_distillation(z, r, 2, 3, 2.0), 1e-14);
  // Another temperature, more rows, float32.
  Generator g(4);
  const Tensor zz = randn({5, 7}, {}, &g), rr = randn({5, 7}, {}, &g);
  EXPECT_NEAR(nn::distillation_loss(zz, rr, 3.5).item<double>(),
              naive_distillation(zz.to_vector<double>(), rr.to_vector<double>(), 5, 7, 3.5), 1e-6);
}

TEST(Distillation, GradientMatchesFiniteDifferencesAndVanishesAtTheRecording) {
  Generator g(5);
  Tensor z = randn({4, 6}, {.dtype = DType::Float64}, &g).set_requires_grad(true);
  const Tensor r = randn({4, 6}, {.dtype = DType::Float64}, &g);
  const GradcheckResult res = gradcheck([&](const std::vector<Tensor>& in) { return nn::distillation_loss(in[0], r, 2.0); }, {z});
  EXPECT_TRUE(res.passed) << res.report;
  // (softmax(z/T) - softmax(r/T)) / (T N): zero where z is the recording.
  Tensor same = r.clone().set_requires_grad(true);
  nn::distillation_loss(same, r, 2.0).backward();
  for (double v : same.grad().to_vector<double>()) EXPECT_NEAR(v, 0.0, 1e-16);
  // The recording gets no gradient even when it requires one.
  Tensor rec = r.clone().set_requires_grad(true);
  Tensor z2 = z.detach().clone().set_requires_grad(true);
  nn::distillation_loss(z2, rec, 2.0).backward();
  EXPECT_FALSE(rec.grad().defined());
}

TEST(Distillation, BadInputIsNamed) {
  const Tensor a = zeros({2, 3}), b = zeros({2, 4});
  test::expect_error([&] { (void)nn::distillation_loss(a, b, 2.0); }, {"must both be [N, C] of one shape"});
  test::expect_error([&] { (void)nn::distillation_loss(a, a, 0.0); }, {"temperature must be > 0"});
  test::expect_error([&] { (void)nn::distillation_loss(a, a.to(DType::Float64), 1.0); }, {"one floating dtype"});
}

TEST(Ewc, PenaltyIsTheWeightedSquaredDistanceAndItsGradient) {
  nn::Linear lin(3, 2);
  const auto params = lin.named_parameters();  // weight [2, 3], bias [2]
  Generator g(6);
  std::map<std::string, Tensor> fisher, anchor;
  for (const auto& [name, p] : params) {
    fisher[name] = uniform(p.shape(), 0.0, 2.0, {}, &g);
    anchor[name] = randn(p.shape(), {}, &g);
  }
  const nn::ElasticWeightConsolidation ewc(fisher, anchor);
  double expected = 0;
  for (const auto& [name, p] : params) {
    const auto pv = p.to_vector<double>(), fv = fisher[name].to_vector<double>(), av = anchor[name].to_vector<double>();
    for (size_t i = 0; i < pv.size(); ++i) expected += fv[i] / 2 * (pv[i] - av[i]) * (pv[i] - av[i]);
  }
  Tensor pen = ewc.penalty(lin);
  EXPECT_NEAR(pen.item<double>(), expected, 1e-5 * std::abs(expected));
  // d/dtheta = F * (theta - theta*).
  pen.backward();
  for (const auto& [name, p] : params) {
    const auto gv = p.grad().to_vector<double>(), pv = p.to_vector<double>(), fv = fisher[name].to_vector<double>(),
               av = anchor[name].to_vector<double>();
    for (size_t i = 0; i < gv.size(); ++i) EXPECT_NEAR(gv[i], fv[i] * (pv[i] - av[i]), 1e-5) << name << "[" << i << "]";
  }
  // And by central differences: the penalty is quadratic, so they are exact up to rounding.
  NoGradGuard ng;
  for (int64_t i = 0; i < 6; ++i) {
    const double h = 0.01, at = lin.weight.to_vector<double>()[size_t(i)];
    Tensor flat = lin.weight.reshape({6});
    flat.narrow(0, i, 1).fill_(at + h);
    const double up = ewc.penalty(lin).item<double>();
    flat.narrow(0, i, 1).fill_(at - h);
    const double down = ewc.penalty(lin).item<double>();
    flat.narrow(0, i, 1).fill_(at);
    EXPECT_NEAR((up - down) / (2 * h), lin.weight.grad().to_vector<double>()[size_t(i)], 2e-3) << "weight " << i;
  }
}

// Closed form for a linear softmax model z = W x + b: the per-sample gradient of
// -log p_y is (p - e_y) x^T for W and (p - e_y) for b.
TEST(Ewc, EmpiricalFisherOfALinearSoftmaxMatchesTheClosedForm) {
  Generator g(8);
  nn::Linear lin(4, 3, true, &g);
  const Tensor x = randn({5, 4}, {}, &g);
  const std::vector<int64_t> labels{0, 2, 1, 1, 0};
  const Tensor y = from_vector<int64_t>(labels, {5});
  bool given = false;
  auto next = [&]() -> nn::FisherBatch {
    if (given) return std::nullopt;
    given = true;
    return std::make_pair(x, y);
  };
  lin.train();
  const auto ewc = nn::ElasticWeightConsolidation::estimate(
      lin, [&](const Tensor& in) { return lin.forward(in); }, next, {.labels = nn::FisherLabels::Empirical});
  EXPECT_EQ(ewc.samples(), 5);
  EXPECT_TRUE(lin.is_training()) << "the module's mode is restored";
  EXPECT_FALSE(lin.weight.grad().defined()) << "the caller's (absent) gradients are restored";
  std::vector<double> fw(12, 0.0), fb(3, 0.0);
  const auto W = lin.weight.to_vector<double>(), B = lin.bias.to_vector<double>(), X = x.to_vector<double>();
  for (int64_t s = 0; s < 5; ++s) {
    double z[3], m = -1e300, sum = 0;
    for (int k = 0; k < 3; ++k) {
      z[k] = B[size_t(k)];
      for (int j = 0; j < 4; ++j) z[k] += W[size_t(k * 4 + j)] * X[size_t(s * 4 + j)];
      m = std::max(m, z[k]);
    }
    for (int k = 0; k < 3; ++k) sum += std::exp(z[k] - m);
    for (int k = 0; k < 3; ++k) {
      const double d = std::exp(z[k] - m) / sum - (k == labels[size_t(s)] ? 1.0 : 0.0);
      fb[size_t(k)] += d * d / 5;
      for (int j = 0; j < 4; ++j) fw[size_t(k * 4 + j)] += d * X[size_t(s * 4 + j)] * d * X[size_t(s * 4 + j)] / 5;
    }
  }
  const auto gw = ewc.fisher().at("weight").to_vector<double>(), gb = ewc.fisher().at("bias").to_vector<double>();
  for (size_t i = 0; i < fw.size(); ++i) EXPECT_NEAR(gw[i], fw[i], 1e-6 + 1e-5 * fw[i]) << "weight " << i;
  for (size_t i = 0; i < fb.size(); ++i) EXPECT_NEAR(gb[i], fb[i], 1e-6 + 1e-5 * fb[i]) << "bias " << i;
  // theta* is a copy of the weights at the estimate.
  EXPECT_EQ(ewc.anchor().at("weight").to_vector<double>(), W);
  // At theta*, the penalty is zero; moved, it grows.
  EXPECT_EQ(ewc.penalty(lin).item<double>(), 0.0);
  {
    NoGradGuard ng;
    lin.weight.add_(ones_like(lin.weight), 0.1);
  }
  EXPECT_GT(ewc.penalty(lin).item<double>(), 0.0);
}

TEST(Ewc, SampledFisherIsSeededAndAgreesWithEmpiricalWhenTheModelIsCertain) {
  Generator g(9);
  nn::Linear lin(4, 3, true, &g);
  {
    NoGradGuard ng;
    lin.weight.mul_(60.0);  // logits tens apart: p(argmax) = 1 to double precision
  }
  const Tensor x = randn({6, 4}, {}, &g);
  const Tensor pred = lin.forward(x).detach();
  std::vector<int64_t> argmax;
  const auto pv = pred.to_vector<double>();
  for (int s = 0; s < 6; ++s) argmax.push_back(std::max_element(pv.begin() + s * 3, pv.begin() + s * 3 + 3) - (pv.begin() + s * 3));
  auto source = [&](Tensor labels) {
    auto given = std::make_shared<bool>(false);
    return [=]() -> nn::FisherBatch {
      if (*given) return std::nullopt;
      *given = true;
      return std::make_pair(x, labels);
    };
  };
  auto fwd = [&](const Tensor& in) { return lin.forward(in); };
  const auto a = nn::ElasticWeightConsolidation::estimate(lin, fwd, source(Tensor()), {.seed = 1});
  const auto b = nn::ElasticWeightConsolidation::estimate(lin, fwd, source(Tensor()), {.seed = 1});
  const auto e = nn::ElasticWeightConsolidation::estimate(lin, fwd, source(from_vector<int64_t>(argmax, {6})),
                                                          {.labels = nn::FisherLabels::Empirical});
  EXPECT_EQ(a.fisher().at("weight").to_vector<double>(), b.fisher().at("weight").to_vector<double>());
  EXPECT_EQ(a.fisher().at("weight").to_vector<double>(), e.fisher().at("weight").to_vector<double>());
  // max_samples stops early.
  const auto c = nn::ElasticWeightConsolidation::estimate(lin, fwd, source(Tensor()), {.max_samples = 2});
  EXPECT_EQ(c.samples(), 2);
}

TEST(Ewc, StateRoundTripsAndBadInputIsNamed) {
  nn::Linear lin(2, 2);
  std::map<std::string, Tensor> f{{"weight", ones({2, 2})}, {"bias", ones({2})}};
  std::map<std::string, Tensor> a{{"weight", zeros({2, 2})}, {"bias", zeros({2})}};
  const nn::ElasticWeightConsolidation ewc(f, a);
  const auto back = nn::ElasticWeightConsolidation::from_state_dict(ewc.state_dict());
  EXPECT_EQ(back.penalty(lin).item<double>(), ewc.penalty(lin).item<double>());
  test::expect_error([&] { (void)nn::ElasticWeightConsolidation({{"weight", ones({2, 2})}}, {{"weight", ones({3})}}); }, {"differ in shape"});
  test::expect_error([&] { (void)nn::ElasticWeightConsolidation({{"fc.weight", ones({2, 2})}}, {{"fc.weight", ones({2, 2})}}).penalty(lin); }, {"'fc.weight' is not a parameter"});
  test::expect_error([&] { (void)nn::ElasticWeightConsolidation::from_state_dict({{"other", ones({1})}}); }, {"unknown state key 'other'"});
  test::expect_error([&] { (void)nn::ElasticWeightConsolidation::estimate(
                       lin, [&](const Tensor& in) { return lin.forward(in); }, [] { return nn::FisherBatch(); }); }, {"no old-task sample"});
}

}  // namespace
}  // namespace hone
