// matmul (autograd/ops.h): vector, matrix, batched and broadcast products against
// hand-computed numbers, gradients by hand and by gradcheck (float64), non-contiguous
// operands and error messages. The kernels against a reference: op_harness_test.cpp.
#include <string>
#include <vector>

#include "ops_test_util.h"

namespace hone {
namespace {

using namespace ops_test;

// ============================== matmul ==============================

TEST(OpsMatmul, VectorVectorIsDotProduct) {
  Tensor r = matmul(f64({1, 2, 3}), f64({4, 5, 6}));
  EXPECT_EQ(r.shape(), Shape{});
  test::expect_close(r, {32});
}

TEST(OpsMatmul, VectorMatrixAndMatrixVector) {
  Tensor m = f64({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor vm = matmul(f64({1, 2}), m);
  EXPECT_EQ(vm.shape(), (Shape{3}));
  test::expect_close(vm, {9, 12, 15});
  Tensor mv = matmul(m, f64({1, 2, 3}));
  EXPECT_EQ(mv.shape(), (Shape{2}));
  test::expect_close(mv, {14, 32});
}

TEST(OpsMatmul, MatrixMatrix) {
  Tensor a = f64({1, 2, 3, 4, 5, 6}, {2, 3}), b = f64({7, 8, 9, 10, 11, 12}, {3, 2});
  Tensor r = matmul(a, b);
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  test::expect_close(r, {58, 64, 139, 154});
  // Transposed operands read through their strides: a^T a.
  Tensor ata = matmul(a.t(), a);
  EXPECT_EQ(ata.shape(), (Shape{3, 3}));
  test::expect_close(ata, {17, 22, 27, 22, 29, 36, 27, 36, 45});
  Tensor r32 = matmul(f32({1, 2, 3, 4, 5, 6}, {2, 3}), f32({7, 8, 9, 10, 11, 12}, {3, 2}));
  EXPECT_EQ(r32.dtype(), DType::Float32);
  test::expect_close(r32, {58, 64, 139, 154});
  // float32 x float64 promotes.
  EXPECT_EQ(matmul(f32({1, 2}, {1, 2}), f64({3, 4}, {2, 1})).dtype(), DType::Float64);
}

TEST(OpsMatmul, Batched3D) {
  Tensor a = f64({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2});
  Tensor b = f64({1, 0, 0, 1, 2, 0, 0, 2}, {2, 2, 2});  // I and 2I
  Tensor r = matmul(a, b);
  EXPECT_EQ(r.shape(), (Shape{2, 2, 2}));
  test::expect_close(r, {1, 2, 3, 4, 10, 12, 14, 16});
  // Batched matrix times vector, and vector times batched matrix.
  Tensor bv = matmul(f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3}), f64({1, 0, -1}));
  EXPECT_EQ(bv.shape(), (Shape{2, 2}));
  test::expect_close(bv, {-2, -2, -2, -2});
  Tensor vb = matmul(f64({1, -1}), f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {2, 2, 3}));
  EXPECT_EQ(vb.shape(), (Shape{2, 3}));
  test::expect_close(vb, {-3, -3, -3, -3, -3, -3});
}

TEST(OpsMatmul, BroadcastBatchDims) {
  // a [2,1,2,2]: I and the row swap; b [3,2,2]: three matrices.
  Tensor a = f64({1, 0, 0, 1, 0, 1, 1, 0}, {2, 1, 2, 2});
  Tensor b = f64({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {3, 2, 2});
  Tensor r = matmul(a, b);
  EXPECT_EQ(r.shape(), (Shape{2, 3, 2, 2}));
  test::expect_close(r, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 3, 4, 1, 2, 7, 8, 5, 6, 11, 12, 9, 10});
  // A 2-D operand against a batch.
  Tensor m = matmul(f64({0, 1, 1, 0}, {2, 2}), b);
  EXPECT_EQ(m.shape(), (Shape{3, 2, 2}));
  test::expect_close(m, {3, 4, 1, 2, 7, 8, 5, 6, 11, 12, 9, 10});
  EXPECT_EQ(matmul(zeros({2, 1, 3, 4}), zeros({5, 4, 2})).shape(), (Shape{2, 5, 3, 2}));
}

TEST(OpsMatmul, GradientsByHand) {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({1, 0, -1}, {3, 1});
  matmul(a, b).sum().backward();
  // d/da[i,k] = b[k]; d/db[k] = sum_i a[i,k]
  test::expect_close(a.grad(), {1, 0, -1, 1, 0, -1});
  test::expect_close(b.grad(), {5, 7, 9});
  EXPECT_EQ(b.grad().shape(), (Shape{3, 1}));
}

struct MatmulCase {
  Shape a, b, out;
};

TEST(OpsMatmul, Gradcheck) {
  const std::vector<MatmulCase> cases = {
      {{3}, {3, 2}, {2}},
      {{2, 3}, {3}, {2}},
      {{2, 3}, {3, 4}, {2, 4}},
      {{1, 1}, {1, 1}, {1, 1}},
      {{2, 3, 4}, {2, 4, 2}, {2, 3, 2}},
      {{2, 1, 3, 4}, {5, 4, 2}, {2, 5, 3, 2}},
      {{4}, {2, 4, 3}, {2, 3}},
      {{2, 3, 4}, {4}, {2, 3}},
      {{1, 3, 2}, {2, 2, 2}, {2, 3, 2}},
      {{3, 4}, {2, 4, 2}, {2, 3, 2}},
      {{2, 1, 2, 3}, {1, 2, 3, 1}, {2, 2, 2, 1}},
  };
  uint64_t seed = 4000;
  for (const MatmulCase& c : cases) {
    SCOPED_TRACE("matmul " + shape_str(c.a) + " x " + shape_str(c.b));
    Tensor a = test::random_leaf(c.a, seed++), b = test::random_leaf(c.b, seed++);
    Tensor y = matmul(a, b);
    EXPECT_EQ(y.shape(), c.out);
    test::expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
    reset_grads({a, b});
    matmul(a, b).sum().backward();
    ASSERT_TRUE(a.grad().defined());
    ASSERT_TRUE(b.grad().defined());
    EXPECT_EQ(a.grad().shape(), c.a);
    EXPECT_EQ(b.grad().shape(), c.b);
  }
}

// BUG: autograd/ops/matmul.cpp, matmul's backward: for two 1-D operands the output
// gradient is 0-d and `go.unsqueeze(-2)` runs before `go.unsqueeze(-1)`, so backward throws
// "unsqueeze: dim -2 out of range for a 1-D tensor (expected -1..0)" (wrong order: unsqueeze
// -1 first, then -2). Expected: d(a.b)/da = b, d(a.b)/db = a.
TEST(OpsMatmul, VectorVectorBackward) {
  Tensor a = leaf({1, 2, 3}), b = leaf({4, 5, 6});
  matmul(a, b).backward();
  test::expect_close(a.grad(), {4, 5, 6});
  test::expect_close(b.grad(), {1, 2, 3});
  Tensor x = test::random_leaf({3}, 3999), y = test::random_leaf({3}, 3998);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {x, y});
}

TEST(OpsMatmul, GradcheckNonContiguousAndOneSided) {
  Tensor a = test::random_leaf({3, 2}, 4100), b = test::random_leaf({4, 3}, 4101);
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0].t(), in[1].t()); }, {a, b});
  Tensor w = test::random_leaf({3, 2}, 4102).detach();
  test::expect_gradcheck([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {b, w});
}

TEST(OpsMatmul, Errors) {
  std::string msg = error_message([] { matmul(zeros({2, 3}), zeros({4, 5})); });
  EXPECT_EQ(msg, "matmul: inner dims differ: [2,3] x [4,5]");
  msg = error_message([] { matmul(zeros({3}), zeros({4})); });
  EXPECT_CONTAINS(msg, "[3] x [4]");
  msg = error_message([] { matmul(zeros({2, 3, 4}), zeros({3, 4, 5})); });
  EXPECT_CONTAINS(msg, "matmul");
  EXPECT_CONTAINS(msg, "[2]");
  EXPECT_CONTAINS(msg, "[3]");
  msg = error_message([] { matmul(scalar_tensor(1.0), zeros({2})); });
  EXPECT_CONTAINS(msg, "[]");
  msg = error_message([] { matmul(zeros({2, 2}, {.dtype = DType::Int64}), zeros({2, 2}, {.dtype = DType::Int64})); });
  EXPECT_CONTAINS(msg, "int64");
}

}  // namespace
}  // namespace hone
