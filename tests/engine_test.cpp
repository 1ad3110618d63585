// The autograd engine: accumulation, graph reuse, retain_graph, no-grad, detach, and the
// in-place-after-save error.
#include "test_util.h"

namespace hone {
namespace {

TEST(Engine, ScalarBackwardMatchesHandDerivative) {
  Tensor x = from_vector<double>({1, 2, 3}).set_requires_grad();
  Tensor y = (x * x * 3.0 + x).sum();  // dy/dx = 6x + 1
  y.backward();
  test::expect_close(x.grad(), {7, 13, 19});
}

TEST(Engine, TensorUsedTwiceGetsSumOfGradients) {
  Tensor x = from_vector<double>({2.0}).set_requires_grad();
  Tensor a = x * 3.0, b = x * x;   // both branches read x
  (a + b).sum().backward();        // d/dx (3x + x^2) = 3 + 2x = 7
  test::expect_close(x.grad(), {7});
}

TEST(Engine, DiamondGraphRunsSharedNodeOnce) {
  Tensor x = from_vector<double>({1.5}).set_requires_grad();
  Tensor h = exp(x);               // shared intermediate
  Tensor y = (h * 2.0 + h * h).sum();
  y.backward();                    // dy/dx = (2 + 2h) h
  double hv = std::exp(1.5);
  test::expect_close(x.grad(), {(2 + 2 * hv) * hv}, 1e-9);
}

TEST(Engine, GradAccumulatesAcrossBackwardCalls) {
  Tensor x = from_vector<double>({1, -1}).set_requires_grad();
  (x * 2.0).sum().backward();
  (x * 3.0).sum().backward();
  test::expect_close(x.grad(), {5, 5});
}

TEST(Engine, SecondBackwardWithoutRetainGraphFails) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = (x * x).sum();
  y.backward({}, /*retain_graph=*/true);
  y.backward();  // allowed: the first call kept the graph
  test::expect_close(x.grad(), {4, 8});
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("second time"), std::string::npos) << e.what();
  }
}

TEST(Engine, InPlaceChangeOfSavedTensorIsCaughtAndNamesOp) {
  Tensor a = from_vector<double>({1, 2, 3});          // does not need grad
  Tensor w = from_vector<double>({4, 5, 6}).set_requires_grad();
  Tensor y = (a * w).sum();                           // mul saves a for w's gradient
  a.add_(1.0);                                        // modifies the saved tensor
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("mul"), std::string::npos) << msg;
    EXPECT_NE(msg.find("modified in place"), std::string::npos) << msg;
  }
}

TEST(Engine, InPlaceOnTensorNotSavedIsFine) {
  Tensor a = from_vector<double>({1, 2, 3});
  Tensor w = from_vector<double>({4, 5, 6}).set_requires_grad();
  Tensor y = (a + w).sum();  // add saves nothing
  a.add_(1.0);
  y.backward();
  test::expect_close(w.grad(), {1, 1, 1});
}

TEST(Engine, InPlaceOnLeafRequiringGradIsRefusedUnlessNoGrad) {
  Tensor w = from_vector<double>({1, 2}).set_requires_grad();
  EXPECT_THROW(w.add_(1.0), Error);
  {
    NoGradGuard ng;
    w.add_(1.0);  // an optimizer step
  }
  test::expect_close(w, {2, 3});
}

TEST(Engine, NoGradRecordsNothing) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y;
  {
    NoGradGuard ng;
    y = x * 2.0;
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_TRUE(y.is_leaf());
  EXPECT_THROW(y.sum().backward(), Error);
}

TEST(Engine, DetachStopsGradientAndSharesStorage) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor d = (x * 2.0).detach();
  EXPECT_FALSE(d.requires_grad());
  Tensor y = (x * d).sum();  // gradient flows through x only: dy/dx = d
  y.backward();
  test::expect_close(x.grad(), {2, 4});
  Tensor base = from_vector<double>({5, 6});
  Tensor view = base.detach();
  {
    NoGradGuard ng;
    view.fill_(0);
  }
  test::expect_close(base, {0, 0});
  EXPECT_EQ(base.version(), view.version());
}

TEST(Engine, BackwardNeedsScalarOrGradient) {
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor y = x * 2.0;
  EXPECT_THROW(y.backward(), Error);
  y.backward(from_vector<double>({1, 10}));
  test::expect_close(x.grad(), {2, 20});
  EXPECT_THROW((x * 2.0).backward(from_vector<double>({1, 2, 3})), Error);
}

TEST(Engine, LeafGradNeverAliasesATensorTheCallerHolds) {
  // The gradient handed to backward() reaches the leaf unchanged; the leaf must copy it,
  // not adopt it (only tensors nothing else holds are adopted).
  Tensor x = from_vector<double>({1, 2}).set_requires_grad();
  Tensor g = from_vector<double>({3, 4});
  x.backward(g);
  {
    NoGradGuard ng;
    g.fill_(0);
  }
  test::expect_close(x.grad(), {3, 4});
  // An identity op passes the same tensor through: still copied.
  Tensor w = from_vector<double>({1, 1}).set_requires_grad();
  Tensor h = from_vector<double>({5, 6});
  w.contiguous().backward(h);
  EXPECT_FALSE(w.grad().storage() == h.storage());
}

TEST(Engine, FrozenBranchGetsNoGradient) {
  Tensor x = from_vector<double>({1, 2});
  Tensor w = from_vector<double>({3, 4}).set_requires_grad();
  (x * w).sum().backward();
  EXPECT_FALSE(x.grad().defined());
  test::expect_close(w.grad(), {1, 2});
}

}  // namespace
}  // namespace hone
