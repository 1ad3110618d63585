// batch_norm in training, inference and frozen use, both running-statistics conventions:
// hand-computed values, a naive reference on random data, and float64 gradchecks.
#include "autograd/ops/nn.h"
#include "test_util.h"

namespace hone {
namespace {

TEST(BatchNorm, TrainingForwardHandComputed) {
  // One channel, values 1..4: mean 2.5, biased var 1.25.
  Tensor x = from_vector<double>({1, 2, 3, 4}, {2, 1, 2, 1});
  Tensor rm = zeros({1}, {.dtype = DType::Float64}), rv = ones({1}, {.dtype = DType::Float64});
  Tensor w = from_vector<double>({2.0}), b = from_vector<double>({0.5});
  Tensor y = batch_norm(x, w, b, rm, rv, {.momentum = 0.1, .eps = 0.0 + 1e-12});
  const double s = 1 / std::sqrt(1.25);
  test::expect_close(y, {2 * -1.5 * s + 0.5, 2 * -0.5 * s + 0.5, 2 * 0.5 * s + 0.5, 2 * 1.5 * s + 0.5}, 1e-9);
  // PyTorch convention: running = 0.9 old + 0.1 batch, variance unbiased (5/3).
  test::expect_close(rm, {0.25}, 1e-12);
  test::expect_close(rv, {0.9 + 0.1 * 5.0 / 3.0}, 1e-12);
}

TEST(BatchNorm, OnnxConventionMomentumWeighsOldValueAndVarianceIsBiased) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {4, 1});
  Tensor rm = zeros({1}, {.dtype = DType::Float64}), rv = ones({1}, {.dtype = DType::Float64});
  batch_norm(x, Tensor(), Tensor(), rm, rv, {.momentum = 0.9, .convention = BatchNormConvention::Onnx});
  test::expect_close(rm, {0.1 * 2.5}, 1e-12);
  test::expect_close(rv, {0.9 + 0.1 * 1.25}, 1e-12);
}

TEST(BatchNorm, MatchesNaiveReferenceOnRandomData) {
  Generator g(5);
  Tensor x = uniform({3, 5, 4, 3}, -2, 3, {}, &g), w = uniform({5}, 0.5, 1.5, {}, &g), b = uniform({5}, -1, 1, {}, &g);
  Tensor rm = zeros({5}), rv = ones({5});
  Tensor y = batch_norm(x, w, b, rm, rv, {.eps = 1e-5});
  std::vector<double> xv = x.to_vector<double>(), yv = y.to_vector<double>(), wv = w.to_vector<double>(),
                      bv = b.to_vector<double>();
  for (int c = 0; c < 5; ++c) {
    double sum = 0, sq = 0;
    for (int n = 0; n < 3; ++n)
      for (int k = 0; k < 12; ++k) sum += xv[size_t((n * 5 + c) * 12 + k)];
    const double mean = sum / 36;
    for (int n = 0; n < 3; ++n)
      for (int k = 0; k < 12; ++k) sq += std::pow(xv[size_t((n * 5 + c) * 12 + k)] - mean, 2);
    const double var = sq / 36;
    for (int n = 0; n < 3; ++n)
      for (int k = 0; k < 12; ++k) {
        const size_t i = size_t((n * 5 + c) * 12 + k);
        EXPECT_NEAR(yv[i], (xv[i] - mean) / std::sqrt(var + 1e-5) * wv[size_t(c)] + bv[size_t(c)], 1e-5);
      }
    EXPECT_NEAR(rm.at<double>({c}), 0.1 * mean, 1e-6);
    EXPECT_NEAR(rv.at<double>({c}), 0.9 + 0.1 * sq / 35, 1e-6);
  }
}

TEST(BatchNorm, RunningStatisticsModeUsesThemAndNeverUpdates) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {2, 2});
  Tensor rm = from_vector<double>({1.0, -1.0}), rv = from_vector<double>({4.0, 0.25});
  const uint64_t v0 = rm.version();
  Tensor y = batch_norm(x, Tensor(), Tensor(), rm, rv, {.use_batch_stats = false, .eps = 1e-12});
  test::expect_close(y, {(1 - 1) / 2.0, (2 + 1) / 0.5, (3 - 1) / 2.0, (4 + 1) / 0.5}, 1e-9);
  test::expect_close(rm, {1.0, -1.0}, 0);
  test::expect_close(rv, {4.0, 0.25}, 0);
  EXPECT_EQ(rm.version(), v0);
}

TEST(BatchNorm, BatchStatsWithoutUpdatingRunningStats) {
  Tensor x = from_vector<double>({1, 2, 3, 4}, {4, 1});
  Tensor rm = zeros({1}, {.dtype = DType::Float64}), rv = ones({1}, {.dtype = DType::Float64});
  batch_norm(x, Tensor(), Tensor(), rm, rv, {.update_running_stats = false});
  test::expect_close(rm, {0.0}, 0);
  test::expect_close(rv, {1.0}, 0);
}

TEST(BatchNorm, GradcheckTrainingMode) {
  Tensor x = test::random_leaf({3, 2, 2, 3}, 1), w = test::random_leaf({2}, 2, 0.5, 1.5), b = test::random_leaf({2}, 3);
  test::expect_gradcheck([&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], Tensor(), Tensor(), {.update_running_stats = false}) * in[0];
  }, {x, w, b});
}

TEST(BatchNorm, GradcheckRunningStatsModeAllInputs) {
  Tensor x = test::random_leaf({2, 3, 2, 2}, 4), w = test::random_leaf({3}, 5, 0.5, 1.5), b = test::random_leaf({3}, 6);
  Tensor rm = from_vector<double>({0.1, -0.2, 0.3}), rv = from_vector<double>({1.5, 0.7, 2.0});
  test::expect_gradcheck([&](const std::vector<Tensor>& in) {
    return batch_norm(in[0], in[1], in[2], rm, rv, {.use_batch_stats = false}) * in[0];
  }, {x, w, b});
}

TEST(BatchNorm, FrozenAffineStillPassesGradientToInput) {
  Tensor x = test::random_leaf({2, 3, 2, 2}, 7);
  Tensor w = from_vector<double>({1.0, 2.0, 3.0}), b = from_vector<double>({0.0, 0.0, 0.0});
  Tensor rm = zeros({3}, {.dtype = DType::Float64}), rv = ones({3}, {.dtype = DType::Float64});
  batch_norm(x, w, b, rm, rv, {.use_batch_stats = false, .eps = 1e-12}).sum().backward();
  // y = w * x / 1: dy/dx = w per channel.
  std::vector<double> g = x.grad().to_vector<double>();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], double(1 + (i / 4) % 3), 1e-9);
}

TEST(BatchNorm, ErrorsNameTheProblem) {
  EXPECT_THROW(batch_norm(zeros({2, 3}), zeros({4}), Tensor(), Tensor(), Tensor(), {.update_running_stats = false}), Error);
  EXPECT_THROW(batch_norm(zeros({2, 3}), Tensor(), Tensor(), Tensor(), Tensor(), {.use_batch_stats = false}), Error);
  try {
    batch_norm(zeros({1, 3}), Tensor(), Tensor(), zeros({3}), ones({3}));
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("more than one value per channel"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hone
