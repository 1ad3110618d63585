// linear, add_relu, dropout, softmax, log_softmax, cross_entropy, topk_accuracy.
#include "autograd/ops/nn.h"
#include "test_util.h"

namespace hone {
namespace {

TEST(Linear, HandComputedAndMatchesMatmul) {
  Tensor x = from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = from_vector<float>({1, 0, -1, 2, 1, 0}, {2, 3});
  Tensor b = from_vector<float>({0.5f, -1});
  test::expect_close(linear(x, w, b), {1 - 3 + 0.5, 2 + 2 - 1, 4 - 6 + 0.5, 8 + 5 - 1});
  Generator g(1);
  Tensor x3 = uniform({2, 5, 37}, -1, 1, {}, &g), w3 = uniform({13, 37}, -1, 1, {}, &g);
  test::expect_close(linear(x3, w3), matmul(x3, w3.t()), 1e-5, 1e-5);
}

TEST(Linear, Gradcheck) {
  Tensor x = test::random_leaf({2, 3, 4}, 1), w = test::random_leaf({5, 4}, 2), b = test::random_leaf({5}, 3);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); }, {x, w, b});
}


TEST(AddRelu, ValuesAndGradcheck) {
  Tensor a = from_vector<float>({1, -2, 3}), b = from_vector<float>({-2, 1, 0.5f});
  test::expect_close(add_relu(a, b), {0, 0, 3.5});
  Tensor x = test::random_leaf({2, 3}, 4, 0.1, 1.0), y = test::random_leaf({2, 3}, 5, -2.0, -1.2);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return add_relu(in[0], in[1]); }, {x, y});
  Tensor z = test::random_leaf({2, 3}, 6, 0.1, 1.0);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return add_relu(in[0], in[1]); }, {x, z});
}

TEST(Dropout, EvalAndZeroProbabilityAreIdentity) {
  Tensor x = randn({4, 5});
  EXPECT_TRUE(dropout(x, 0.5, false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, true).is_same(x));
  EXPECT_THROW(dropout(x, 1.5, true), Error);
}

TEST(Dropout, KeepsAboutOneMinusPScaledAndIsSeeded) {
  Tensor x = ones({100000});
  Generator g1(42), g2(42);
  Tensor y1 = dropout(x, 0.3, true, &g1), y2 = dropout(x, 0.3, true, &g2);
  std::vector<float> v = y1.to_vector<float>();
  int64_t zeros_count = 0;
  for (float e : v) {
    if (e == 0) ++zeros_count;
    else EXPECT_NEAR(e, 1 / 0.7, 1e-6);
  }
  EXPECT_NEAR(double(zeros_count) / 100000.0, 0.3, 0.01);
  EXPECT_EQ(v, y2.to_vector<float>());
}

TEST(Dropout, GradientIsTheMask) {
  Tensor x = ones({1000}).set_requires_grad();
  Generator g(3);
  Tensor y = dropout(x, 0.5, true, &g);
  y.sum().backward();
  EXPECT_EQ(x.grad().to_vector<float>(), y.to_vector<float>());
}

TEST(Softmax, HandComputedRowsSumToOne) {
  Tensor x = from_vector<double>({1, 2, 3, 1000, 1000, 1000}, {2, 3});
  const double e = std::exp(1.0), z = 1 + e + e * e;
  test::expect_close(softmax(x, 1), {1 / z, e / z, e * e / z, 1 / 3.0, 1 / 3.0, 1 / 3.0}, 1e-12);
  test::expect_close(log_softmax(x, -1), {-std::log(z), 1 - std::log(z), 2 - std::log(z), -std::log(3.0), -std::log(3.0),
                                          -std::log(3.0)}, 1e-12);
  test::expect_close(softmax(x, 0).sum({0}), {1, 1, 1}, 1e-12);
}

TEST(Softmax, GradcheckEveryDim) {
  Tensor x = test::random_leaf({2, 3, 4}, 8, -2, 2);
  Tensor w = test::random_leaf({2, 3, 4}, 9);
  for (int64_t d : {0, 1, -1}) {
    SCOPED_TRACE(d);
    test::expect_gradcheck([d, &w](const std::vector<Tensor>& in) { return softmax(in[0], d) * w.detach(); }, {x});
    test::expect_gradcheck([d, &w](const std::vector<Tensor>& in) { return log_softmax(in[0], d) * w.detach(); }, {x});
  }
}

TEST(CrossEntropy, HandComputed) {
  Tensor logits = from_vector<double>({1, 2, 3, 0, 0, 0}, {2, 3});
  Tensor target = from_vector<int64_t>({2, 0});
  const double l0 = -(3 - std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0))), l1 = std::log(3.0);
  test::expect_close(cross_entropy(logits, target), {(l0 + l1) / 2}, 1e-12);
  test::expect_close(cross_entropy(logits, target, {.reduction = Reduction::Sum}), {l0 + l1}, 1e-12);
  test::expect_close(cross_entropy(logits, target, {.reduction = Reduction::None}), {l0, l1}, 1e-12);
  // Label smoothing 0.3: (1 - 0.3) * nll + 0.3 * mean over classes of -log p.
  Tensor lp = log_softmax(logits, 1);
  std::vector<double> v = lp.to_vector<double>();
  const double s0 = 0.7 * l0 - 0.1 * (v[0] + v[1] + v[2]), s1 = 0.7 * l1 - 0.1 * (v[3] + v[4] + v[5]);
  test::expect_close(cross_entropy(logits, target, {.reduction = Reduction::None, .label_smoothing = 0.3}), {s0, s1}, 1e-12);
  // ignore_index: the row counts for nothing in the mean.
  Tensor t2 = from_vector<int64_t>({2, -100});
  test::expect_close(cross_entropy(logits, t2), {l0}, 1e-12);
}

TEST(CrossEntropy, GradcheckAllReductionsAndSmoothing) {
  Tensor logits = test::random_leaf({4, 5}, 10, -2, 2);
  Tensor target = from_vector<int64_t>({0, 4, 2, 2});
  for (Reduction r : {Reduction::Mean, Reduction::Sum, Reduction::None})
    for (double eps : {0.0, 0.2}) {
      CrossEntropyOptions o{.reduction = r, .label_smoothing = eps};
      test::expect_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], target, o); }, {logits});
    }
  Tensor t2 = from_vector<int64_t>({0, -100, 2, 2});
  test::expect_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], t2); }, {logits});
}

TEST(CrossEntropy, ErrorsNameTheProblem) {
  try {
    cross_entropy(zeros({2, 3}), from_vector<int64_t>({0, 3}));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("target 3 at row 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cross_entropy(zeros({2, 3}), from_vector<int32_t>({0, 1})), Error);
  EXPECT_THROW(cross_entropy(zeros({2, 3}), from_vector<int64_t>({0, 1, 2})), Error);
}

TEST(TopkAccuracy, HandComputed) {
  Tensor logits = from_vector<float>({0.1f, 0.5f, 0.4f, 0.9f, 0.05f, 0.05f, 0.2f, 0.2f, 0.6f}, {3, 3});
  Tensor target = from_vector<int64_t>({2, 0, 1});
  EXPECT_DOUBLE_EQ(topk_accuracy(logits, target, 1), 1.0 / 3);  // row 1 only
  EXPECT_DOUBLE_EQ(topk_accuracy(logits, target, 2), 2.0 / 3);  // row 2's target ties class 0: counted as a miss
  EXPECT_DOUBLE_EQ(topk_accuracy(logits, target, 3), 1.0);
}

}  // namespace
}  // namespace hone
