#pragma once
// The op harness's table (tests/op_harness.h): one line per case, shared by the unit test
// (tests/op_harness_test.cpp) and the benchmark (bench/op_harness_bench.cpp). A new shape
// case is one line here; a new kernel table needs a maker in op_harness_<family>.h (how to
// build its arguments, its reference, tolerance and gradcheck) and a line here
// (OpHarnessCoverage fails until it has one). Sizes are odd, have size-1 dims and strided
// operands where the kernel takes strides; ResNet-18 / VGG-16 layers run at batch 1 where
// a layer is cheap enough for every run of the unit suite.
#include <vector>

#include "op_harness_dropout.h"
#include "op_harness_elementwise.h"
#include "op_harness_linalg.h"
#include "op_harness_nn.h"
#include "op_harness_optim.h"
#include "op_harness_pool.h"
#include "op_harness_reduce.h"

namespace hone::harness {

inline const std::vector<OpCase>& op_cases() {
  using U = kernels::UnaryOp;
  using B = kernels::BinaryOp;
  using L = Layout;
  using G = kernels::Conv2dGeometry;
  using P = kernels::Pool2dGeometry;
  const std::vector<DType> with_ints{DType::Float32, DType::Float64, DType::Int64, DType::Int32};
  static const std::vector<OpCase> cases = [&] {
    return std::vector<OpCase>{
        // ---- elementwise ----
        unary_case(U::Neg, {3, 1, 5}),
        unary_case(U::Exp, {7, 13}, L::Transposed),
        unary_case(U::Log, {4, 9}, L::Gapped, 0.1, 4),
        unary_case(U::Sqrt, {1, 33}, L::Contiguous, 0.1, 4),
        unary_case(U::Abs, {5, 6}, L::Transposed),
        unary_case(U::Relu, {2, 3, 7}, L::Gapped),
        unary_case(U::Sigmoid, {1027}),
        unary_case(U::Tanh, {3, 5, 1}),
        unary_case(U::Sign, {11, 3}),
        unary_case(U::PowScalar, {6, 5}, L::Contiguous, 0.2, 3, 2.5),
        unary_case(U::Exp, {}),
        binary_case(B::Add, {5, 7}, L::Contiguous, L::Broadcast, 0.5),
        binary_case(B::Add, {3, 1, 4}, L::Contiguous, L::Contiguous, 1, {-9, 9, -9, 9}, with_ints),
        binary_case(B::Sub, {4, 9}, L::Transposed, L::Gapped, 2),
        binary_case(B::Mul, {2, 3, 5}, L::Broadcast, L::Transposed, 1, {-9, 9, -9, 9}, with_ints),
        binary_case(B::Div, {6, 7}, L::Contiguous, L::Contiguous, 1, {-2, 2, 0.5, 3}),
        binary_case(B::Pow, {5, 3}, L::Gapped, L::Contiguous, 1, {0.2, 3, -2, 2}),
        binary_case(B::ReluBackward, {9, 4}),
        binary_case(B::SigmoidBackward, {1, 37}, L::Contiguous, L::Contiguous, 1, {-2, 2, 0.01, 0.99}),
        binary_case(B::TanhBackward, {8, 3}, L::Transposed, L::Contiguous, 1, {-2, 2, -0.99, 0.99}),
        binary_case(B::Lt, {7, 5}, L::Contiguous, L::Broadcast, 1, {-3, 3, -3, 3}, with_ints),
        binary_case(B::Eq, {4, 4}, L::Contiguous, L::Contiguous, 1, {-2, 2, -2, 2}, with_ints),
        binary_case(B::Ge, {3, 11}, L::Gapped, L::Transposed),
        binary_case(B::AddRelu, {4, 1, 9}, L::Contiguous, L::Broadcast, 0.5),
        binary_case(B::AddRelu, {5, 6}, L::Transposed, L::Gapped, 1, {-9, 9, -9, 9}, with_ints),
        binary_case(B::AddRelu, {2, 64, 56 * 56}),  // ResNet-18 layer1's residual sum at batch 2

        // ---- matmul ----
        matmul_case(1, 1, 1, 1),
        matmul_case(1, 17, 13, 29),
        matmul_case(3, 5, 7, 9, true, false),
        matmul_case(2, 33, 65, 31, false, true, true),
        matmul_case(1, 64, 1, 130),
        matmul_case(2, 1, 100, 47, true, true),
        matmul_case(1, 128, 96, 144),

        // ---- conv2d ----
        conv2d_forward_case(G{.n = 2, .c_in = 29, .h = 17, .w = 15, .c_out = 21, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                              .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        conv2d_forward_case(G{.n = 1, .c_in = 5, .h = 9, .w = 11, .c_out = 7, .kh = 1, .kw = 1}, false),
        conv2d_forward_case(G{.n = 2, .c_in = 6, .h = 10, .w = 9, .c_out = 4, .kh = 3, .kw = 2, .stride_h = 1, .stride_w = 2,
                              .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 1, .dilation_h = 2, .dilation_w = 1}),
        conv2d_forward_case(G{.n = 1, .c_in = 8, .h = 7, .w = 7, .c_out = 12, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1,
                              .pad_bottom = 1, .pad_right = 1, .groups = 4}),
        conv2d_forward_case(G{.n = 3, .c_in = 1, .h = 1, .w = 5, .c_out = 1, .kh = 1, .kw = 3}),
        // ResNet-18: the stem, a layer1 3x3, layer2's strided 3x3 and 1x1 downsample, layer4.
        conv2d_forward_case(G{.n = 1, .c_in = 3, .h = 224, .w = 224, .c_out = 64, .kh = 7, .kw = 7, .stride_h = 2,
                              .stride_w = 2, .pad_top = 3, .pad_left = 3, .pad_bottom = 3, .pad_right = 3}, false),
        conv2d_forward_case(G{.n = 1, .c_in = 64, .h = 56, .w = 56, .c_out = 64, .kh = 3, .kw = 3, .pad_top = 1,
                              .pad_left = 1, .pad_bottom = 1, .pad_right = 1}, false),
        conv2d_forward_case(G{.n = 1, .c_in = 64, .h = 56, .w = 56, .c_out = 128, .kh = 3, .kw = 3, .stride_h = 2,
                              .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}, false),
        conv2d_forward_case(G{.n = 1, .c_in = 64, .h = 56, .w = 56, .c_out = 128, .kh = 1, .kw = 1, .stride_h = 2,
                              .stride_w = 2}, false),
        conv2d_forward_case(G{.n = 1, .c_in = 512, .h = 7, .w = 7, .c_out = 512, .kh = 3, .kw = 3, .pad_top = 1,
                              .pad_left = 1, .pad_bottom = 1, .pad_right = 1}, false),
        // VGG-16's first layer.
        conv2d_forward_case(G{.n = 1, .c_in = 3, .h = 224, .w = 224, .c_out = 64, .kh = 3, .kw = 3, .pad_top = 1,
                              .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        conv2d_backward_case(G{.n = 2, .c_in = 29, .h = 17, .w = 15, .c_out = 21, .kh = 3, .kw = 3, .stride_h = 2,
                               .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        conv2d_backward_case(G{.n = 1, .c_in = 5, .h = 9, .w = 11, .c_out = 7, .kh = 1, .kw = 1}),
        conv2d_backward_case(G{.n = 2, .c_in = 6, .h = 10, .w = 9, .c_out = 4, .kh = 3, .kw = 2, .stride_h = 1,
                               .stride_w = 2, .pad_top = 2, .pad_left = 0, .pad_bottom = 1, .pad_right = 1,
                               .dilation_h = 2, .dilation_w = 1}),
        conv2d_backward_case(G{.n = 1, .c_in = 8, .h = 7, .w = 7, .c_out = 12, .kh = 3, .kw = 3, .pad_top = 1,
                               .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .groups = 4}),
        conv2d_backward_case(G{.n = 1, .c_in = 64, .h = 56, .w = 56, .c_out = 64, .kh = 3, .kw = 3, .pad_top = 1,
                               .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        conv2d_backward_case(G{.n = 1, .c_in = 256, .h = 14, .w = 14, .c_out = 512, .kh = 3, .kw = 3, .stride_h = 2,
                               .stride_w = 2, .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),

        // ---- batch norm ----
        batch_norm_forward_case(3, 5, 7),
        batch_norm_forward_case(1, 3, 1, {.affine = false, .use_batch_stats = false}),
        batch_norm_forward_case(1, 3, 2, {.affine = false}),
        batch_norm_forward_case(2, 4, 9, {.use_batch_stats = false}),
        batch_norm_forward_case(4, 6, 5, {.update_running = false}),
        batch_norm_forward_case(2, 3, 10, {.convention = kernels::BatchNormConvention::Onnx}),
        batch_norm_forward_case(2, 64, 56 * 56),
        batch_norm_forward_case(3, 5, 7, {.relu = true}),
        batch_norm_forward_case(2, 4, 9, {.use_batch_stats = false, .relu = true}),
        batch_norm_forward_case(2, 64, 56 * 56, {.relu = true}),
        batch_norm_backward_case(3, 5, 7),
        batch_norm_backward_case(1, 3, 1, {.affine = false, .use_batch_stats = false}),
        batch_norm_backward_case(1, 3, 2, {.affine = false}),
        batch_norm_backward_case(2, 4, 9, {.use_batch_stats = false}),
        batch_norm_backward_case(2, 128, 28 * 28),
        batch_norm_backward_case(3, 5, 7, {.relu = true}),
        batch_norm_backward_case(2, 4, 9, {.use_batch_stats = false, .relu = true}),
        batch_norm_backward_case(2, 128, 28 * 28, {.relu = true}),

        // ---- pooling ----
        max_pool2d_forward_case(P{.n = 2, .c = 3, .h = 11, .w = 9, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                  .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        max_pool2d_forward_case(P{.n = 1, .c = 2, .h = 8, .w = 7, .kh = 2, .kw = 3, .stride_h = 2, .stride_w = 1,
                                  .pad_top = 1, .pad_left = 0, .pad_bottom = 0, .pad_right = 1, .dilation_h = 2,
                                  .dilation_w = 1, .ceil_mode = true}),
        max_pool2d_forward_case(P{.n = 1, .c = 1, .h = 1, .w = 5, .kh = 1, .kw = 2}),
        max_pool2d_forward_case(P{.n = 1, .c = 64, .h = 112, .w = 112, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                  .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),  // ResNet-18
        max_pool2d_forward_case(P{.n = 1, .c = 128, .h = 56, .w = 56, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2}),  // VGG
        max_pool2d_backward_case(P{.n = 2, .c = 3, .h = 11, .w = 9, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                   .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        max_pool2d_backward_case(P{.n = 1, .c = 2, .h = 8, .w = 7, .kh = 2, .kw = 3, .stride_h = 2, .stride_w = 1,
                                   .pad_top = 1, .pad_left = 0, .pad_bottom = 0, .pad_right = 1, .dilation_h = 2,
                                   .dilation_w = 1, .ceil_mode = true}),
        max_pool2d_backward_case(P{.n = 1, .c = 64, .h = 112, .w = 112, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                   .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1}),
        avg_pool2d_forward_case(P{.n = 2, .c = 3, .h = 9, .w = 10, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 3,
                                  .pad_top = 1, .pad_left = 1, .pad_bottom = 0, .pad_right = 1}),
        avg_pool2d_forward_case(P{.n = 1, .c = 2, .h = 7, .w = 7, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                  .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .ceil_mode = true}, false),
        avg_pool2d_forward_case(P{.n = 1, .c = 1, .h = 1, .w = 4, .kh = 1, .kw = 2}),
        avg_pool2d_backward_case(P{.n = 2, .c = 3, .h = 9, .w = 10, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 3,
                                   .pad_top = 1, .pad_left = 1, .pad_bottom = 0, .pad_right = 1}),
        avg_pool2d_backward_case(P{.n = 1, .c = 2, .h = 7, .w = 7, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                                   .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1, .ceil_mode = true}, false),
        adaptive_avg_pool2d_forward_case(2, 3, 7, 7, 1, 1),
        adaptive_avg_pool2d_forward_case(1, 2, 10, 9, 3, 4),
        adaptive_avg_pool2d_forward_case(1, 1, 5, 5, 7, 6),  // upsampling: windows overlap
        adaptive_avg_pool2d_forward_case(1, 512, 7, 7, 1, 1),  // ResNet-18's global pool
        adaptive_avg_pool2d_backward_case(2, 3, 7, 7, 1, 1),
        adaptive_avg_pool2d_backward_case(1, 2, 10, 9, 3, 4),
        adaptive_avg_pool2d_backward_case(1, 1, 5, 5, 7, 6),

        // ---- softmax and cross-entropy ----
        softmax_forward_case(4, 10, 1, false),
        softmax_forward_case(2, 7, 3, true),
        softmax_forward_case(1, 1, 5, false),
        softmax_forward_case(32, 1000, 1, true),
        softmax_backward_case(4, 10, 1, false),
        softmax_backward_case(2, 7, 3, true),
        softmax_backward_case(3, 1, 1, true),
        cross_entropy_forward_case(5, 7),
        cross_entropy_forward_case(7, 3, 0.1, true),
        cross_entropy_forward_case(1, 1),
        cross_entropy_forward_case(32, 1000, 0.1),
        cross_entropy_backward_case(5, 7),
        cross_entropy_backward_case(7, 3, 0.1, true),
        cross_entropy_backward_case(32, 1000),

        // ---- reductions ----
        sum_case({3, 1, 4}, {0}),
        sum_case({5, 7}, {1}, L::Transposed),
        sum_case({2, 3, 5}, {0, 2}, L::Gapped, 1.0 / 10),
        sum_case({4, 6}, {0, 1}),
        sum_case({6, 5}, {}, L::Transposed),
        sum_case({3, 0, 2}, {1}),
        sum_case({7, 9}, {0}, L::Contiguous, 1, with_ints),
        sum_case({64, 3136}, {1}),
        max_dim_case({3, 5}, 1),
        max_dim_case({4, 1, 6}, 0, L::Transposed),
        max_dim_case({2, 7, 3}, 1, L::Gapped, with_ints),
        max_dim_case({1, 9}, 1),
        index_add_dim_case({3, 5}, 1),
        index_add_dim_case({4, 1, 6}, 0),
        index_add_dim_case({2, 7, 3}, 2),

        // ---- dropout ----
        dropout_forward_case(1, 0.5),
        dropout_forward_case(37, 0.3, 5),
        dropout_forward_case(2 * 512, 0.5),               // ResNet-18's features before the head, batch 2
        dropout_forward_case(3 * 65536 + 1, 0.1, 1001),  // splits over threads; odd: a half-used last block
        dropout_backward_case(37, 0.3),
        dropout_backward_case(2 * 4096, 0.5),             // VGG-16's classifier, batch 2
        // ---- optimizer updates and gradient clipping ----
        sgd_update_case(1027, {.lr = 0.1}),
        sgd_update_case(70001, {.lr = 0.05, .weight_decay = 1e-2, .momentum = 0.9, .dampening = 0.1}),
        sgd_update_case(1027, {.lr = 0.1, .weight_decay = 1e-3, .momentum = 0.9, .nesterov = true, .first_update = true}, true),
        sgd_update_case(70001, {.lr = 0.01, .momentum = 0.8, .nesterov = true}, true),
        adam_update_case(1027, {.lr = 1e-2, .step = 3}),
        adam_update_case(70001, {.lr = 1e-2, .weight_decay = 0.1, .step = 1}, true),
        adam_update_case(1027, {.lr = 1e-2, .weight_decay = 0.05, .step = 7, .decoupled = true}),
        adam_update_case(5, {.lr = 1e-3, .weight_decay = 0.01, .step = 2, .decoupled = true}, true),
        sum_of_squares_case(1),
        sum_of_squares_case(1027),
        sum_of_squares_case(70001),
        sum_of_squares_case(0, false),
        sum_of_squares_case(1027, false),
        clip_scale_case(1027, 400.0, 1.0),
        clip_scale_case(70001, 0.25, 5.0),  // below max_norm: left as is
    };
  }();
  return cases;
}

}  // namespace hone::harness
