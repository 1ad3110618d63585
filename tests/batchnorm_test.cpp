// batch_norm in training, inference and frozen use, both running-statistics conventions:
// hand-computed values, the kernels against their naive references on random data, the
// references against hand-computed values and finite differences, and float64 gradchecks.
#include <cstring>

#include "autograd/ops/nn.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/batchnorm.h"
#include "test_util.h"

namespace hone {
namespace {

namespace k = kernels::cpu;

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
  std::vector<float> yr(60 * 3), rmr(5, 0.0f), rvr(5, 1.0f), sm(5), si(5);
  k::batchnorm_forward_reference({.dtype = DType::Float32, .n = 3, .c = 5, .hw = 12, .x = x.data_ptr(), .gamma = w.data_ptr(),
                                  .beta = b.data_ptr(), .running_mean = rmr.data(), .running_var = rvr.data(),
                                  .use_batch_stats = true, .update_running = true, .y = yr.data(), .save_mean = sm.data(),
                                  .save_invstd = si.data()});
  test::expect_all_close(y.to_vector<float>(), yr, 1e-5, 1e-5, "y");
  test::expect_all_close(rm.to_vector<float>(), rmr, 1e-6, 1e-6, "running_mean");
  test::expect_all_close(rv.to_vector<float>(), rvr, 1e-6, 1e-6, "running_var");
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

TEST(BatchNorm, GradcheckFusedReluBothStatistics) {
  Tensor x = test::random_leaf({3, 2, 2, 3}, 11), w = test::random_leaf({2}, 12, 0.5, 1.5), b = test::random_leaf({2}, 13);
  Tensor rm = from_vector<double>({0.1, -0.2}), rv = from_vector<double>({1.5, 0.7});
  for (bool batch : {true, false})
    test::expect_gradcheck([&](const std::vector<Tensor>& in) {
      return batch_norm(in[0], in[1], in[2], rm, rv, {.use_batch_stats = batch, .update_running_stats = false, .fuse_relu = true}) *
             in[0];
    }, {x, w, b});
}

// The fused op stores the bits of batch_norm then relu, forward and every gradient, in
// float32 and float64, with batch or running statistics, updating the running ones the same.
TEST(BatchNorm, FusedReluIsBitwiseBatchNormThenRelu) {
  auto bits = [](const Tensor& a, const Tensor& b) {
    return a.shape() == b.shape() && a.dtype() == b.dtype() &&
           std::memcmp(a.data_ptr(), b.data_ptr(), size_t(a.numel()) * dtype_size(a.dtype())) == 0;
  };
  for (DType t : {DType::Float32, DType::Float64})
    for (bool batch : {true, false}) {
      Generator g(21);
      const TensorOptions o{.dtype = t};
      const Tensor x0 = uniform({3, 4, 5, 6}, -2, 3, o, &g), w0 = uniform({4}, 0.5, 1.5, o, &g), b0 = uniform({4}, -1, 1, o, &g);
      const Tensor dy = uniform({3, 4, 5, 6}, -1, 1, o, &g);
      std::vector<Tensor> results[2];
      for (int fused = 0; fused < 2; ++fused) {
        Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
        for (Tensor* p : {&x, &w, &b}) p->set_requires_grad(true);
        Tensor rm = full({4}, 0.2, o), rv = full({4}, 1.3, o);
        const BatchNormFuncOptions opts{.use_batch_stats = batch, .fuse_relu = fused == 1};
        Tensor y = fused ? batch_norm(x, w, b, rm, rv, opts) : relu(batch_norm(x, w, b, rm, rv, opts));
        y.backward(dy);
        results[fused] = {y, x.grad(), w.grad(), b.grad(), rm, rv};
      }
      for (size_t i = 0; i < results[0].size(); ++i)
        EXPECT_TRUE(bits(results[0][i], results[1][i])) << dtype_name(t) << (batch ? " batch" : " running") << " result " << i;
    }
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

// ---- kernels against the references ----

struct BnShape {
  int64_t n, c, hw;
};
// Odd sizes, size-1 dims, one element per channel, and hw wider than the kernel's 8 lanes.
const std::vector<BnShape> kBnShapes = {{1, 1, 1}, {1, 3, 1}, {2, 1, 7}, {3, 5, 12}, {4, 3, 33}, {2, 16, 49}};

// The buffers of one forward call, with outputs pre-filled with NaN (the kernel must write them).
template <typename T>
struct BnForward {
  std::vector<T> x, gamma, beta, running_mean, running_var, y, save_mean, save_invstd;
  BnForward(const BnShape& s, uint64_t seed)
      : x(test::random_vector<T>(s.n * s.c * s.hw, seed, -2, 3)), gamma(test::random_vector<T>(s.c, seed + 1, 0.5, 1.5)),
        beta(test::random_vector<T>(s.c, seed + 2)), running_mean(test::random_vector<T>(s.c, seed + 3)),
        running_var(test::random_vector<T>(s.c, seed + 4, 0.5, 2)), y(test::unwritten<T>(s.n * s.c * s.hw)),
        save_mean(test::unwritten<T>(s.c)), save_invstd(test::unwritten<T>(s.c)) {}
  kernels::BatchNormForwardArgs args(const BnShape& s, bool affine, bool batch_stats, bool update, kernels::BatchNormConvention conv) {
    return {.dtype = dtype_of<T>(), .n = s.n, .c = s.c, .hw = s.hw, .x = x.data(), .gamma = affine ? gamma.data() : nullptr,
            .beta = affine ? beta.data() : nullptr, .running_mean = running_mean.data(), .running_var = running_var.data(),
            .use_batch_stats = batch_stats, .update_running = update, .momentum = 0.3, .eps = 1e-5, .convention = conv,
            .y = y.data(), .save_mean = save_mean.data(), .save_invstd = save_invstd.data()};
  }
};

// Tolerances: float64 agrees to rounding (1e-12); float32 to 1e-5 (the statistics are rounded
// to float32). The fast kernel forms y as x * scale + shift in T, which cancels: its error
// grows with |x| * scale (scale = gamma * invstd reaches ~500 when a channel has one value,
// var 0, eps 1e-5), so y's absolute tolerance is scaled by that.
template <typename T>
double bn_tol() {
  return sizeof(T) == 8 ? 1e-12 : 1e-5;
}

template <typename T>
double y_scale(const BnShape& s, const BnForward<T>& f, bool affine) {
  double x_max = 0, scale_max = 0;
  for (T v : f.x) x_max = std::max(x_max, std::abs(double(v)));
  for (int64_t c = 0; c < s.c; ++c)
    scale_max = std::max(scale_max, (affine ? std::abs(double(f.gamma[size_t(c)])) : 1.0) * double(f.save_invstd[size_t(c)]));
  return std::max(1.0, x_max * scale_max);
}

template <typename T>
void compare_bn_forward() {
  uint64_t seed = 100;
  for (const BnShape& s : kBnShapes)
    for (bool affine : {false, true})
      for (auto [batch_stats, update] : std::initializer_list<std::pair<bool, bool>>{{true, true}, {true, false}, {false, false}})
        for (auto conv : {kernels::BatchNormConvention::PyTorch, kernels::BatchNormConvention::Onnx}) {
          SCOPED_TRACE(::testing::Message() << "n=" << s.n << " c=" << s.c << " hw=" << s.hw << " affine=" << affine
                                            << " batch_stats=" << batch_stats << " update=" << update
                                            << " onnx=" << (conv == kernels::BatchNormConvention::Onnx) << " "
                                            << dtype_name(dtype_of<T>()));
          BnForward<T> fast(s, seed), ref(s, seed);
          seed += 10;
          k::batchnorm_forward(fast.args(s, affine, batch_stats, update, conv), kernels::ContextExec());
          k::batchnorm_forward_reference(ref.args(s, affine, batch_stats, update, conv));
          const double tol = bn_tol<T>();
          test::expect_all_close(fast.y, ref.y, tol * y_scale(s, fast, affine), tol, "y");
          test::expect_all_close(fast.save_mean, ref.save_mean, tol, tol, "save_mean");
          test::expect_all_close(fast.save_invstd, ref.save_invstd, tol, tol, "save_invstd");
          test::expect_all_close(fast.running_mean, ref.running_mean, tol, tol, "running_mean");
          test::expect_all_close(fast.running_var, ref.running_var, tol, tol, "running_var");
        }
}

TEST(BatchNormKernel, ForwardMatchesReferenceEveryModeAndConvention) {
  compare_bn_forward<float>();
  compare_bn_forward<double>();
}

template <typename T>
void compare_bn_backward() {
  uint64_t seed = 500;
  for (const BnShape& s : kBnShapes)
    for (bool affine : {false, true})
      for (bool batch_stats : {true, false})
        for (bool want_dx : {true, false}) {
          SCOPED_TRACE(::testing::Message() << "n=" << s.n << " c=" << s.c << " hw=" << s.hw << " affine=" << affine
                                            << " batch_stats=" << batch_stats << " dx=" << want_dx << " "
                                            << dtype_name(dtype_of<T>()));
          BnForward<T> f(s, seed);
          k::batchnorm_forward_reference(f.args(s, affine, batch_stats, false, kernels::BatchNormConvention::PyTorch));
          const std::vector<T> dy = test::random_vector<T>(s.n * s.c * s.hw, seed + 5);
          seed += 10;
          std::vector<T> dx[2] = {test::unwritten<T>(s.n * s.c * s.hw), test::unwritten<T>(s.n * s.c * s.hw)};
          std::vector<T> dgamma[2] = {test::unwritten<T>(s.c), test::unwritten<T>(s.c)};
          std::vector<T> dbeta[2] = {test::unwritten<T>(s.c), test::unwritten<T>(s.c)};
          for (int r = 0; r < 2; ++r) {
            const kernels::BatchNormBackwardArgs a{.dtype = dtype_of<T>(), .n = s.n, .c = s.c, .hw = s.hw, .x = f.x.data(),
                                             .gamma = affine ? f.gamma.data() : nullptr, .dy = dy.data(),
                                             .save_mean = f.save_mean.data(), .save_invstd = f.save_invstd.data(),
                                             .used_batch_stats = batch_stats, .dx = want_dx ? dx[r].data() : nullptr,
                                             .dgamma = dgamma[r].data(), .dbeta = dbeta[r].data()};
            r == 0 ? k::batchnorm_backward(a, kernels::ContextExec()) : k::batchnorm_backward_reference(a);
          }
          // float32: sums over up to 196 elements in double, then one rounding each.
          const double tol = sizeof(T) == 8 ? 1e-11 : 1e-5;
          if (want_dx) test::expect_all_close(dx[0], dx[1], tol, tol, "dx");
          else EXPECT_TRUE(std::isnan(double(dx[0][0])));  // nullptr: nothing written
          test::expect_all_close(dgamma[0], dgamma[1], tol, tol, "dgamma");
          test::expect_all_close(dbeta[0], dbeta[1], tol, tol, "dbeta");
        }
}

TEST(BatchNormKernel, BackwardMatchesReferenceBothStatistics) {
  compare_bn_backward<float>();
  compare_bn_backward<double>();
}

// ---- the references themselves ----

TEST(BatchNormReference, HandComputedForwardBothConventions) {
  // One channel, x = 0, 3, 6: mean 3, biased var 6, unbiased var 9.
  std::vector<double> x = {0, 3, 6}, y(3), gamma = {2}, beta = {1}, mean(1), invstd(1);
  for (auto conv : {kernels::BatchNormConvention::PyTorch, kernels::BatchNormConvention::Onnx}) {
    std::vector<double> rm = {1}, rv = {1};
    k::batchnorm_forward_reference({.dtype = DType::Float64, .n = 3, .c = 1, .hw = 1, .x = x.data(), .gamma = gamma.data(),
                                    .beta = beta.data(), .running_mean = rm.data(), .running_var = rv.data(),
                                    .use_batch_stats = true, .update_running = true, .momentum = 0.25, .eps = 0,
                                    .convention = conv, .y = y.data(), .save_mean = mean.data(), .save_invstd = invstd.data()});
    const double r6 = std::sqrt(6.0);
    test::expect_all_close(y, {1 - 6 / r6, 1, 1 + 6 / r6}, 1e-15, 1e-15, "y");
    EXPECT_DOUBLE_EQ(mean[0], 3);
    EXPECT_DOUBLE_EQ(invstd[0], 1 / r6);
    if (conv == kernels::BatchNormConvention::PyTorch) {  // 0.75 old + 0.25 batch, unbiased variance
      EXPECT_DOUBLE_EQ(rm[0], 0.75 + 0.25 * 3);
      EXPECT_DOUBLE_EQ(rv[0], 0.75 + 0.25 * 9);
    } else {  // 0.25 old + 0.75 batch, biased variance
      EXPECT_DOUBLE_EQ(rm[0], 0.25 + 0.75 * 3);
      EXPECT_DOUBLE_EQ(rv[0], 0.25 + 0.75 * 6);
    }
  }
  // Running statistics: (x - 1) / sqrt(4), no update.
  std::vector<double> rm = {1}, rv = {4};
  k::batchnorm_forward_reference({.dtype = DType::Float64, .n = 1, .c = 1, .hw = 3, .x = x.data(), .gamma = nullptr,
                                  .beta = nullptr, .running_mean = rm.data(), .running_var = rv.data(),
                                  .use_batch_stats = false, .update_running = false, .eps = 0, .y = y.data(),
                                  .save_mean = mean.data(), .save_invstd = invstd.data()});
  test::expect_all_close(y, {-0.5, 1, 2.5}, 1e-15, 0, "y");
  EXPECT_EQ(rm[0], 1);
  EXPECT_EQ(rv[0], 4);
}

TEST(BatchNormReference, HandComputedBackward) {
  // x = 0, 3, 6 (mean 3, invstd 1/sqrt(6), xhat = -3, 0, 3 over sqrt(6)), gamma 1, dy = 1, 0, 0:
  // sum(dy) = 1, sum(dy xhat) = -3/sqrt(6), dx = invstd / 3 * (3 dy - 1 - xhat * sum(dy xhat))
  //                                            = (0.5, -1, 0.5) / (3 sqrt(6)).
  const double r6 = std::sqrt(6.0);
  std::vector<double> x = {0, 3, 6}, dy = {1, 0, 0}, mean = {3}, invstd = {1 / r6}, dx(3), dgamma(1), dbeta(1);
  kernels::BatchNormBackwardArgs a{.dtype = DType::Float64, .n = 3, .c = 1, .hw = 1, .x = x.data(), .gamma = nullptr,
                             .dy = dy.data(), .save_mean = mean.data(), .save_invstd = invstd.data(),
                             .used_batch_stats = true, .dx = dx.data(), .dgamma = dgamma.data(), .dbeta = dbeta.data()};
  k::batchnorm_backward_reference(a);
  test::expect_all_close(dx, {0.5 / (3 * r6), -1 / (3 * r6), 0.5 / (3 * r6)}, 1e-15, 1e-14, "dx");
  EXPECT_NEAR(dgamma[0], -3 / r6, 1e-15);
  EXPECT_EQ(dbeta[0], 1);
  a.used_batch_stats = false;  // constants: dx = invstd * dy
  k::batchnorm_backward_reference(a);
  test::expect_all_close(dx, {1 / r6, 0, 0}, 1e-15, 0, "dx");
}

// The backward reference is the derivative of the forward reference: central differences of
// L = sum(w * y(x, gamma, beta)) on random data, in float64, to 1e-6.
TEST(BatchNormReference, BackwardIsTheForwardsDerivative) {
  const BnShape s{2, 3, 5};
  for (bool batch_stats : {true, false}) {
    SCOPED_TRACE(batch_stats ? "batch statistics" : "running statistics");
    BnForward<double> f(s, 77);
    const std::vector<double> w = test::random_vector<double>(s.n * s.c * s.hw, 78);
    auto loss = [&](BnForward<double>& g) {
      k::batchnorm_forward_reference(g.args(s, true, batch_stats, false, kernels::BatchNormConvention::PyTorch));
      double l = 0;
      for (size_t i = 0; i < w.size(); ++i) l += w[i] * g.y[i];
      return l;
    };
    loss(f);
    std::vector<double> dx(f.x.size()), dgamma(3), dbeta(3);
    k::batchnorm_backward_reference({.dtype = DType::Float64, .n = s.n, .c = s.c, .hw = s.hw, .x = f.x.data(),
                                     .gamma = f.gamma.data(), .dy = w.data(), .save_mean = f.save_mean.data(),
                                     .save_invstd = f.save_invstd.data(), .used_batch_stats = batch_stats,
                                     .dx = dx.data(), .dgamma = dgamma.data(), .dbeta = dbeta.data()});
    const double h = 1e-6;
    auto numeric = [&](std::vector<double> BnForward<double>::*field, size_t i) {
      BnForward<double> up = f, down = f;
      (up.*field)[i] += h;
      (down.*field)[i] -= h;
      return (loss(up) - loss(down)) / (2 * h);
    };
    for (size_t i = 0; i < dx.size(); ++i) EXPECT_NEAR(dx[i], numeric(&BnForward<double>::x, i), 1e-6) << "dx " << i;
    for (size_t c = 0; c < 3; ++c) {
      EXPECT_NEAR(dgamma[c], numeric(&BnForward<double>::gamma, c), 1e-6) << "dgamma " << c;
      EXPECT_NEAR(dbeta[c], numeric(&BnForward<double>::beta, c), 1e-6) << "dbeta " << c;
    }
  }
}

}  // namespace
}  // namespace hone
