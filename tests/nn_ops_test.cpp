// linear, add_relu, dropout, softmax, log_softmax, cross_entropy, topk_accuracy; the softmax
// and cross-entropy kernels against their naive references, and the references by hand.
#include <cstring>

#include "autograd/ops/nn.h"
#include "kernels/context_exec.h"
#include "kernels/cpu/softmax.h"
#include "test_util.h"

namespace hone {
namespace {

namespace k = kernels::cpu;

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

// The fused kernel (BinaryOp::AddRelu) stores exactly what add then relu store, broadcast too.
TEST(AddRelu, FusedIsBitwiseAddThenRelu) {
  Generator g(9);
  for (DType t : {DType::Float32, DType::Float64}) {
    Tensor a = randn({2, 8, 5, 7}, {.dtype = t}, &g), b = randn({8, 1, 7}, {.dtype = t}, &g);
    const Tensor fused = add_relu(a, b), unfused = relu(add(a, b));
    ASSERT_EQ(fused.shape(), unfused.shape());
    EXPECT_EQ(std::memcmp(fused.data_ptr(), unfused.data_ptr(), size_t(fused.numel()) * dtype_size(t)), 0) << dtype_name(t);
  }
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

// Dropout as it was composed before the fused kernel (kernels/dropout.h), kept here as the
// definition the kernel must reproduce bit for bit, mask, scale and generator offset.
Tensor composed_dropout(const Tensor& x, double p, Generator* gen) {
  Tensor u = rand(x.shape(), {.dtype = DType::Float64, .device = x.device()}, gen);
  Tensor mask = ge(u, scalar_like(p, u)).to(x.dtype()) * (1.0 / (1.0 - p));
  return x * mask;
}

std::vector<unsigned char> bytes_of(const Tensor& t) {
  Tensor c = t.contiguous();
  const auto* p = static_cast<const unsigned char*>(c.data_ptr());
  return {p, p + c.numel() * int64_t(c.element_size())};
}

TEST(Dropout, FusedKernelIsBitwiseTheComposedFormula) {
  const double inf = INFINITY, nan = NAN;
  for (DType t : {DType::Float32, DType::Float64})
    for (double p : {0.1, 1.0 / 3, 0.5, 0.9})
      for (const Shape& shape : {Shape{1}, Shape{7, 13}, Shape{3 * 65536 + 1}, Shape{}}) {
        SCOPED_TRACE(std::string(dtype_name(t)) + " p=" + std::to_string(p) + " shape=" + shape_str(shape));
        Generator init(uint64_t(numel(shape)));
        Tensor x = uniform(shape, -3, 3, {.dtype = t}, &init);
        if (x.numel() >= 4) {  // special values: the product must keep its NaN and signed zeros
          Tensor flat = x.view({x.numel()});
          NoGradGuard ng;
          flat.narrow(0, 0, 1).fill_(inf), flat.narrow(0, 1, 1).fill_(nan), flat.narrow(0, 2, 1).fill_(-0.0);
          flat.narrow(0, 3, 1).fill_(-inf);
        }
        for (bool transposed : {false, true}) {
          const Tensor in = transposed && x.dim() == 2 ? x.t() : x;
          Tensor a = in.detach().set_requires_grad(), b = in.detach().set_requires_grad();
          Generator g1(99), g2(99);
          g1.set_offset(12345), g2.set_offset(12345);
          Tensor y1 = dropout(a, p, true, &g1), y2 = composed_dropout(b, p, &g2);
          EXPECT_EQ(bytes_of(y1), bytes_of(y2));
          EXPECT_EQ(g1.offset(), g2.offset());
          EXPECT_EQ(y1.grad_fn()->name(), "DropoutBackward");  // one fused node, not ge, to and two muls
          Generator gw(7);
          const Tensor w = uniform(in.shape(), -2, 2, {.dtype = t}, &gw);
          (y1 * w).sum().backward();
          (y2 * w).sum().backward();
          EXPECT_EQ(bytes_of(a.grad()), bytes_of(b.grad()));
        }
      }
}

TEST(Dropout, SameSeedSameMaskWhateverTheThreads) {
  Tensor x = ones({200001});
  std::vector<unsigned char> first;
  for (int threads : {1, 2, 3}) {
    Context ctx;
    ctx.set_num_threads(threads);
    ContextGuard guard(ctx);
    Generator g(5);
    const auto b = bytes_of(dropout(x, 0.25, true, &g));
    if (first.empty()) first = b;
    EXPECT_EQ(b, first) << threads << " threads";
  }
}

TEST(Dropout, HalfPrecisionIsRefusedNamingTheOp) {
  test::expect_error([] { dropout(ones({4}, {.dtype = DType::Float16}), 0.5, true); }, {"dropout", "float16"});
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

// ---- softmax and cross-entropy kernels against their references ----

// Tolerances: both sides compute in double and round once, so float32 agrees to an ulp or two
// (rtol 1e-6) and float64 to 1e-12; gradients can cancel to near zero, hence the atol.
template <typename T>
double sm_tol() {
  return sizeof(T) == 8 ? 1e-12 : 1e-6;
}

template <typename T>
void compare_softmax() {
  struct Case {
    int64_t outer, dim, inner;
  };
  const std::vector<Case> cases = {{1, 1, 1}, {3, 7, 1}, {2, 5, 3}, {1, 33, 4}, {4, 1, 5}, {2, 1000, 1}, {3, 2, 17}};
  uint64_t seed = 40;
  for (const Case& c : cases)
    for (bool log : {false, true}) {
      SCOPED_TRACE(::testing::Message() << "outer=" << c.outer << " dim=" << c.dim << " inner=" << c.inner
                                        << (log ? " log_softmax " : " softmax ") << dtype_name(dtype_of<T>()));
      const int64_t n = c.outer * c.dim * c.inner;
      const std::vector<T> x = test::random_vector<T>(n, seed++, -8, 8), dy = test::random_vector<T>(n, seed++);
      std::vector<T> y = test::unwritten<T>(n), y_ref = test::unwritten<T>(n);
      kernels::SoftmaxForwardArgs f{.dtype = dtype_of<T>(), .outer = c.outer, .dim = c.dim, .inner = c.inner, .log = log,
                              .x = x.data(), .y = y.data()};
      k::softmax_forward(f, kernels::ContextExec());
      f.y = y_ref.data();
      k::softmax_forward_reference(f);
      test::expect_all_close(y, y_ref, sm_tol<T>() * 0.1, sm_tol<T>(), "y");
      std::vector<T> dx = test::unwritten<T>(n), dx_ref = test::unwritten<T>(n);
      kernels::SoftmaxBackwardArgs b{.dtype = dtype_of<T>(), .outer = c.outer, .dim = c.dim, .inner = c.inner, .log = log,
                               .y = y_ref.data(), .dy = dy.data(), .dx = dx.data()};
      k::softmax_backward(b, kernels::ContextExec());
      b.dx = dx_ref.data();
      k::softmax_backward_reference(b);
      test::expect_all_close(dx, dx_ref, sm_tol<T>(), sm_tol<T>(), "dx");
    }
}

TEST(SoftmaxKernel, ForwardAndBackwardMatchReference) {
  compare_softmax<float>();
  compare_softmax<double>();
}

template <typename T>
void compare_cross_entropy() {
  const std::vector<std::pair<int64_t, int64_t>> cases = {{1, 1}, {2, 2}, {3, 7}, {5, 10}, {8, 1000}};
  uint64_t seed = 70;
  for (auto [n, c] : cases)
    for (int64_t ignore_index : {int64_t(-100), int64_t(0)})  // PyTorch lets it name a real class
      for (double eps : {0.0, 0.1, 1.0}) {
        SCOPED_TRACE(::testing::Message() << "n=" << n << " c=" << c << " ignore_index=" << ignore_index
                                          << " label_smoothing=" << eps << " " << dtype_name(dtype_of<T>()));
        const std::vector<T> logits = test::random_vector<T>(n * c, seed++, -5, 5);
        const std::vector<T> scale = test::random_vector<T>(n, seed++, 0.1, 2);
        std::vector<int64_t> target = test::random_vector<int64_t>(n, seed++, 0, double(c - 1));
        if (n > 1) target[1] = ignore_index;
        std::vector<T> losses[2] = {test::unwritten<T>(n), test::unwritten<T>(n)};
        std::vector<T> lp[2] = {test::unwritten<T>(n * c), test::unwritten<T>(n * c)};
        std::vector<T> d[2] = {test::unwritten<T>(n * c), test::unwritten<T>(n * c)};
        for (int r = 0; r < 2; ++r) {
          const kernels::CrossEntropyArgs f{.dtype = dtype_of<T>(), .n = n, .c = c, .logits = logits.data(),
                                      .target = target.data(), .ignore_index = ignore_index, .label_smoothing = eps,
                                      .losses = losses[r].data(), .log_prob = lp[r].data()};
          r == 0 ? k::cross_entropy_forward(f, kernels::ContextExec()) : k::cross_entropy_forward_reference(f);
        }
        for (int r = 0; r < 2; ++r) {  // both from the reference's log_prob
          const kernels::CrossEntropyBackwardArgs b{.dtype = dtype_of<T>(), .n = n, .c = c, .log_prob = lp[1].data(),
                                              .target = target.data(), .ignore_index = ignore_index,
                                              .label_smoothing = eps, .row_scale = scale.data(), .dlogits = d[r].data()};
          r == 0 ? k::cross_entropy_backward(b, kernels::ContextExec()) : k::cross_entropy_backward_reference(b);
        }
        test::expect_all_close(lp[0], lp[1], sm_tol<T>(), sm_tol<T>(), "log_prob");
        test::expect_all_close(losses[0], losses[1], sm_tol<T>(), sm_tol<T>(), "losses");
        test::expect_all_close(d[0], d[1], sm_tol<T>(), sm_tol<T>(), "dlogits");
      }
}

TEST(CrossEntropyKernel, ForwardAndBackwardMatchReference) {
  compare_cross_entropy<float>();
  compare_cross_entropy<double>();
}

TEST(SoftmaxReference, HandComputed) {
  // [outer=1, dim=2, inner=2]: column 0 holds (0, ln 3) -> (1/4, 3/4); column 1 (0, 0) -> halves.
  std::vector<double> x = {0, 0, std::log(3.0), 0}, y(4), dx(4);
  kernels::SoftmaxForwardArgs f{.dtype = DType::Float64, .outer = 1, .dim = 2, .inner = 2, .log = false, .x = x.data(), .y = y.data()};
  k::softmax_forward_reference(f);
  test::expect_all_close(y, {0.25, 0.5, 0.75, 0.5}, 1e-15, 0, "softmax");
  // dy = (1, 0) in each column: dx = y * (dy - sum(dy * y)) = (1/4 * 3/4, -3/4 * 1/4) and (1/4, -1/4).
  std::vector<double> dy = {1, 1, 0, 0};
  k::softmax_backward_reference({.dtype = DType::Float64, .outer = 1, .dim = 2, .inner = 2, .log = false, .y = y.data(),
                                 .dy = dy.data(), .dx = dx.data()});
  test::expect_all_close(dx, {3.0 / 16, 0.25, -3.0 / 16, -0.25}, 1e-15, 0, "softmax dx");
  f.log = true;
  k::softmax_forward_reference(f);
  test::expect_all_close(y, {std::log(0.25), std::log(0.5), std::log(0.75), std::log(0.5)}, 1e-15, 0, "log_softmax");
  // log_softmax: dx = dy - p * sum(dy) = (1 - 1/4, -3/4) and (1/2, -1/2).
  k::softmax_backward_reference({.dtype = DType::Float64, .outer = 1, .dim = 2, .inner = 2, .log = true, .y = y.data(),
                                 .dy = dy.data(), .dx = dx.data()});
  test::expect_all_close(dx, {0.75, 0.5, -0.75, -0.5}, 1e-15, 0, "log_softmax dx");
  // Large logits stay finite: (1000, 1000, 1000) -> thirds.
  std::vector<float> big = {1000, 1000, 1000}, p(3);
  k::softmax_forward_reference({.dtype = DType::Float32, .outer = 1, .dim = 3, .inner = 1, .log = false, .x = big.data(), .y = p.data()});
  test::expect_all_close(p, {1 / 3.0f, 1 / 3.0f, 1 / 3.0f}, 1e-7, 0, "softmax of large logits");
}

TEST(CrossEntropyReference, HandComputed) {
  // Row 0: logits (0, 0), target 0: p = halves. Row 1: (ln 3, 0), target 1: p = (3/4, 1/4).
  // Row 2: ignored (loss and gradient 0).
  std::vector<double> logits = {0, 0, std::log(3.0), 0, 5, -5}, losses(3), lp(6), d(6), scale = {1, 2, 1};
  std::vector<int64_t> target = {0, 1, -100};
  for (double eps : {0.0, 0.2}) {
    SCOPED_TRACE(eps);
    k::cross_entropy_forward_reference({.dtype = DType::Float64, .n = 3, .c = 2, .logits = logits.data(),
                                        .target = target.data(), .label_smoothing = eps, .losses = losses.data(),
                                        .log_prob = lp.data()});
    // q = (1 - eps) onehot + eps / 2; loss = -sum q log p.
    const double q_hit = 1 - eps / 2, q_miss = eps / 2;
    test::expect_all_close(losses, {std::log(2.0), -(q_miss * std::log(0.75) + q_hit * std::log(0.25)), 0}, 1e-15, 1e-15, "losses");
    test::expect_all_close(std::vector<double>(lp.begin(), lp.begin() + 4), {std::log(0.5), std::log(0.5), std::log(0.75), std::log(0.25)},
                           1e-15, 0, "log_prob");
    // dlogits = scale * (p - q).
    k::cross_entropy_backward_reference({.dtype = DType::Float64, .n = 3, .c = 2, .log_prob = lp.data(), .target = target.data(),
                                         .label_smoothing = eps, .row_scale = scale.data(), .dlogits = d.data()});
    test::expect_all_close(d, {0.5 - q_hit, 0.5 - q_miss, 2 * (0.75 - q_miss), 2 * (0.25 - q_hit), 0, 0}, 1e-15, 0, "dlogits");
  }
  target[0] = 2;
  test::expect_error([&] {
    k::cross_entropy_forward_reference({.dtype = DType::Float64, .n = 3, .c = 2, .logits = logits.data(), .target = target.data(),
                                        .losses = losses.data(), .log_prob = lp.data()});
  }, "target 2 at row 0");
}

}  // namespace
}  // namespace hone
