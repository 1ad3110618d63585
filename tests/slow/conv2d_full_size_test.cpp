// Slow: the whole ResNet-18 stem conv at its real size (batch 2, 3x224x224 -> 64x112x112),
// every output point and all three gradients against the naive seven-loop reference.
#include "kernels/context_exec.h"
#include "kernels/cpu/conv2d.h"
#include "test_util.h"

namespace hone {
namespace {

TEST(SlowConv2d, ResNet18StemFullSizeForwardAndBackward) {
  const kernels::Conv2dGeometry g{.n = 2, .c_in = 3, .h = 224, .w = 224, .c_out = 64, .kh = 7, .kw = 7,
                                       .stride_h = 2, .stride_w = 2, .pad_top = 3, .pad_left = 3, .pad_bottom = 3,
                                       .pad_right = 3};
  Generator gen(1);
  auto rnd = [&](int64_t n) { return uniform({n}, -1, 1, {}, &gen).to_vector<float>(); };
  const int64_t nx = g.n * g.c_in * g.h * g.w, nw = g.c_out * g.c_in * g.kh * g.kw, ny = g.n * g.c_out * g.out_h() * g.out_w();
  std::vector<float> x = rnd(nx), w = rnd(nw), b = rnd(g.c_out), dy = rnd(ny);
  std::vector<float> y(static_cast<size_t>(ny)), yr(static_cast<size_t>(ny));
  kernels::Conv2dForwardArgs f{.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                    .bias = b.data(), .output = y.data()};
  kernels::cpu::conv2d_forward(f, kernels::ContextExec());
  f.output = yr.data();
  kernels::cpu::conv2d_forward_reference(f);
  for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], yr[i], 2e-3) << i;
  std::vector<float> dx(x.size()), dw(w.size()), db(b.size()), dxr(x.size()), dwr(w.size()), dbr(b.size());
  kernels::Conv2dBackwardArgs bw{.g = g, .dtype = DType::Float32, .input = x.data(), .weight = w.data(),
                                      .grad_output = dy.data(), .grad_input = dx.data(), .grad_weight = dw.data(),
                                      .grad_bias = db.data()};
  kernels::cpu::conv2d_backward(bw, kernels::ContextExec());
  bw.grad_input = dxr.data();
  bw.grad_weight = dwr.data();
  bw.grad_bias = dbr.data();
  kernels::cpu::conv2d_backward_reference(bw);
  for (size_t i = 0; i < dx.size(); ++i) ASSERT_NEAR(dx[i], dxr[i], 2e-3) << i;
  for (size_t i = 0; i < dw.size(); ++i) ASSERT_NEAR(dw[i], dwr[i], 2e-2) << i;
  for (size_t i = 0; i < db.size(); ++i) ASSERT_NEAR(db[i], dbr[i], 2e-2) << i;
}

}  // namespace
}  // namespace hone
