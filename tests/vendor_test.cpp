// The vendor backend (kernels/vendor/) where no GPU is: the cuBLAS matmul's layout plan
// replayed on the host against a reference loop, the registry's hint when the vendor
// kernels are missing, and (built with hone_vendor) that register_kernels() puts cuDNN and
// cuBLAS in the registry where the context's per-op backend and the op harness find them.
#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "kernels/registry.h"
#include "kernels/vendor/blas_layout.h"
#include "op_cases.h"
#include "test_util.h"
#if HONE_WITH_VENDOR
#include "kernels/vendor/kernels.h"
#include "kernels/vendor/vendor.h"
#endif

namespace hone {
namespace {

using kernels::MatmulArgs;
using kernels::vendor::blas_layout;
using kernels::vendor::BlasLayout;
using kernels::vendor::GemmPlan;
using kernels::vendor::MatrixView;
using kernels::vendor::packed_like;
using kernels::vendor::view_offset;

// One operand's strides (batch, row, col) for its rows x cols.
struct Strides {
  int64_t batch, row, col;
};

// The layouts hone's views produce: row-major, column-major (a transposed view), rows padded
// (a slice of a wider matrix), both strides non-unit (a step-2 slice), broadcast rows.
std::vector<Strides> layouts(int64_t rows, int64_t cols) {
  return {{rows * cols, cols, 1},
          {rows * cols, 1, rows},
          {rows * (cols + 3), cols + 3, 1},
          {4 * rows * cols, 2 * cols, 2},
          {cols, 0, 1}};
}

int64_t extent(int64_t batch, int64_t rows, int64_t cols, const Strides& s) {
  return (batch - 1) * s.batch + (rows - 1) * s.row + (cols - 1) * s.col + 1;
}

void copy_view(const MatrixView& dst, const MatrixView& src) {
  for (int64_t i = 0; i < dst.batch * dst.rows * dst.cols; ++i)
    static_cast<double*>(dst.p)[view_offset(dst, i)] = static_cast<const double*>(src.p)[view_offset(src, i)];
}

// What matmul.cu does, with BLAS's column-major gemm done by a loop as BLAS defines it.
void run_plan(const MatmulArgs& p) {
  const GemmPlan plan = kernels::vendor::plan_gemm(p);
  std::vector<double> bx, by, bz;
  auto packed = [](const MatrixView& v, std::vector<double>& buf) {
    buf.assign(size_t(v.batch * v.rows * v.cols), 0.0);
    return packed_like(v, buf.data());
  };
  MatrixView y = plan.y, z = plan.z;
  if (plan.pack_y) copy_view(y = packed(plan.y, by), plan.y);
  if (plan.pack_z) copy_view(z = packed(plan.z, bz), plan.z);
  const MatrixView out = plan.pack_x ? packed(plan.x, bx) : plan.x;
  const BlasLayout lx = blas_layout(out), ly = blas_layout(y), lz = blas_layout(z);
  ASSERT_TRUE(lx.ok && !lx.transpose && ly.ok && lz.ok);
  // op N reads element (i, j) at i + j * ld, op T at j + i * ld (the stored transpose).
  auto at = [](const MatrixView& v, const BlasLayout& l, int64_t b, int64_t i, int64_t j) {
    return static_cast<const double*>(v.p)[b * v.batch_stride + (l.transpose ? j + i * l.ld : i + j * l.ld)];
  };
  for (int64_t b = 0; b < p.batch; ++b)
    for (int64_t i = 0; i < out.rows; ++i)
      for (int64_t j = 0; j < out.cols; ++j) {
        double s = 0;
        for (int64_t l = 0; l < p.k; ++l) s += at(y, ly, b, i, l) * at(z, lz, b, l, j);
        static_cast<double*>(out.p)[b * out.batch_stride + i + j * lx.ld] = s;
      }
  if (plan.pack_x) copy_view(plan.x, out);
}

TEST(VendorBlasLayout, EveryStridePatternGivesTheReferenceProduct) {
  int checked = 0, packed = 0;
  for (auto [batch, m, n, k] : std::vector<std::array<int64_t, 4>>{{2, 3, 4, 5}, {1, 1, 4, 3}, {3, 4, 1, 2}, {2, 5, 3, 1}})
    for (const Strides& sa : layouts(m, k))
      for (const Strides& sb : layouts(k, n))
        for (const Strides& sc : layouts(m, n)) {
          if (sc.row == 0) continue;  // an output with broadcast rows would be written twice
          SCOPED_TRACE(testing::Message() << "batch " << batch << " m " << m << " n " << n << " k " << k << " a ("
                                          << sa.row << ", " << sa.col << ") b (" << sb.row << ", " << sb.col
                                          << ") c (" << sc.row << ", " << sc.col << ")");
          std::vector<double> a(size_t(extent(batch, m, k, sa))), b(size_t(extent(batch, k, n, sb)));
          std::vector<double> c(size_t(extent(batch, m, n, sc)), -7.0);
          for (size_t i = 0; i < a.size(); ++i) a[i] = double(i % 7) - 3;
          for (size_t i = 0; i < b.size(); ++i) b[i] = double(i % 5) * 0.5 - 1;
          const MatmulArgs p{.dtype = DType::Float64, .batch = batch, .m = m, .n = n, .k = k,
                             .a = a.data(), .a_batch_stride = sa.batch, .a_row_stride = sa.row, .a_col_stride = sa.col,
                             .b = b.data(), .b_batch_stride = sb.batch, .b_row_stride = sb.row, .b_col_stride = sb.col,
                             .c = c.data(), .c_batch_stride = sc.batch, .c_row_stride = sc.row, .c_col_stride = sc.col};
          const GemmPlan plan = kernels::vendor::plan_gemm(p);
          packed += plan.pack_x + plan.pack_y + plan.pack_z;
          run_plan(p);
          for (int64_t bi = 0; bi < batch; ++bi)
            for (int64_t i = 0; i < m; ++i)
              for (int64_t j = 0; j < n; ++j) {
                double want = 0;
                for (int64_t l = 0; l < k; ++l)
                  want += a[size_t(bi * sa.batch + i * sa.row + l * sa.col)] * b[size_t(bi * sb.batch + l * sb.row + j * sb.col)];
                ASSERT_EQ(c[size_t(bi * sc.batch + i * sc.row + j * sc.col)], want) << "at " << bi << ", " << i << ", " << j;
              }
          ++checked;
        }
  EXPECT_GT(checked, 300);
  EXPECT_GT(packed, 0);  // the packing path was exercised, not only the direct layouts
}

TEST(VendorBlasLayout, ContiguousOperandsNeedNoCopy) {
  // The common case (linear, matmul of contiguous tensors, their transposes in backward)
  // goes straight to cuBLAS.
  float a[6], b[12], c[8];
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      const MatmulArgs p{.dtype = DType::Float32, .batch = 1, .m = 2, .n = 4, .k = 3, .a = a, .a_batch_stride = 6,
                         .a_row_stride = ta ? 1 : 3, .a_col_stride = ta ? 2 : 1, .b = b, .b_batch_stride = 12,
                         .b_row_stride = tb ? 1 : 4, .b_col_stride = tb ? 3 : 1, .c = c, .c_batch_stride = 8,
                         .c_row_stride = 4, .c_col_stride = 1};
      const GemmPlan plan = kernels::vendor::plan_gemm(p);
      EXPECT_FALSE(plan.pack_x || plan.pack_y || plan.pack_z) << ta << tb;
    }
}

TEST(Vendor, SelectingVendorWithoutItSaysHowToGetIt) {
  kernels::KernelTable<int> table("conv2d", "forward");
  table.add(DeviceType::CUDA, {DType::Float32}, Backend::Native, "cuda", [](const int&, const kernels::Exec&) {});
  test::expect_error([&] { table.resolve(DeviceType::CUDA, DType::Float32, Backend::Vendor, "conv2d"); },
                     {"conv2d: no vendor kernel for cuda float32", "link it and call hone::vendor::register_kernels()"});
  // Auto and Native do not mention it.
  try {
    table.resolve(DeviceType::CPU, DType::Float32, Backend::Native, "conv2d");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()).find("register_kernels"), std::string::npos) << e.what();
  }
}

TEST(Vendor, Tf32IsOffUntilTheContextAllowsIt) {
  Context ctx;
  EXPECT_FALSE(ctx.allow_tf32());
  EXPECT_FALSE(kernels::Exec{}.allow_tf32);
  ctx.set_allow_tf32(true);
  EXPECT_TRUE(ctx.allow_tf32());
}

#if HONE_WITH_VENDOR
TEST(Vendor, RegisterKernelsPutsCudnnAndCublasUnderVendorForCuda) {
  vendor::register_kernels();
  vendor::register_kernels();  // a second call adds nothing (else add() would throw)
  const kernels::KernelRegistry& r = kernels::kernel_registry();
  auto expect_vendor = [](const auto& table, const char* impl) {
    SCOPED_TRACE(table.name());
    for (DType t : {DType::Float32, DType::Float64}) {
      const auto* e = table.find(DeviceType::CUDA, t, Backend::Vendor);
      ASSERT_NE(e, nullptr) << dtype_name(t);
      EXPECT_STREQ(e->impl, impl);
      EXPECT_EQ(table.find(DeviceType::CPU, t, Backend::Vendor), nullptr);
      // Auto still picks ours.
      EXPECT_EQ(table.resolve(DeviceType::CUDA, t, Backend::Auto, "op").backend, Backend::Native);
    }
  };
  expect_vendor(r.conv2d_forward, "cudnn"), expect_vendor(r.conv2d_backward, "cudnn");
  expect_vendor(r.batch_norm_forward, "cudnn"), expect_vendor(r.batch_norm_backward, "cudnn");
  expect_vendor(r.avg_pool2d_forward, "cudnn"), expect_vendor(r.avg_pool2d_backward, "cudnn");
  expect_vendor(r.adaptive_avg_pool2d_forward, "cudnn"), expect_vendor(r.adaptive_avg_pool2d_backward, "cudnn");
  expect_vendor(r.matmul, "cublas");
  // Max pool's contract (indices) does not fit cuDNN's: not registered, and the error says so
  // by listing what is.
  EXPECT_FALSE(r.max_pool2d_forward.has_backend(Backend::Vendor));

  // The context's per-op choice resolves on CUDA; on the CPU it is an error naming the op.
  Context ctx;
  ctx.set_backend("conv2d", Backend::Vendor);
  ctx.set_backend("matmul", Backend::Vendor);
  EXPECT_STREQ(r.conv2d_forward.resolve(DeviceType::CUDA, DType::Float32, ctx.backend("conv2d"), "conv2d").impl, "cudnn");
  EXPECT_STREQ(r.matmul.resolve(DeviceType::CUDA, DType::Float64, ctx.backend("matmul"), "matmul").impl, "cublas");
  EXPECT_STREQ(r.batch_norm_forward.resolve(DeviceType::CUDA, DType::Float32, ctx.backend("batch_norm"), "bn").impl,
               "cuda");  // batch_norm left on Auto: ours
  ContextGuard guard(ctx);
  Generator gen(3);
  test::expect_error([&] { conv2d(randn({1, 2, 5, 5}, {}, &gen), randn({3, 2, 3, 3}, {}, &gen), Tensor()); },
                     {"conv2d: no vendor kernel for cpu float32", "vendor cuda float32, float64"});
  test::expect_error([&] { matmul(randn({2, 3}, {}, &gen), randn({3, 4}, {}, &gen)); },
                     {"matmul: no vendor kernel for cpu float32"});
}

TEST(Vendor, TheOpHarnessListsTheVendorKernelsAsVariants) {
  vendor::register_kernels();
  int found = 0;
  for (const harness::OpCase& c : harness::op_cases()) {
    if (c.table != "conv2d forward" && c.table != "matmul forward" && c.table != "batch_norm forward") continue;
    for (const harness::Variant& v : c.variants(DType::Float32)) {
      if (v.label.find("vendor") == std::string::npos) continue;
      ++found;
      EXPECT_EQ(v.device, DeviceType::CUDA) << v.label;
      if (cuda_device_count() == 0) EXPECT_FALSE(v.skip.empty()) << v.label;  // skipped, with the reason
    }
  }
  EXPECT_GT(found, 3);
}
TEST(Vendor, WhatCudnnCannotDoIsRefusedNamingTheOpAndTheSetting) {
  // The refusals come before any descriptor, allocation or launch, so they are checked here
  // without a GPU (no pointer is touched).
  namespace kv = kernels::vendor;
  const kernels::Exec exec;
  kernels::Conv2dForwardArgs conv{.g = {.n = 1, .c_in = 2, .h = 5, .w = 5, .c_out = 3, .kh = 3, .kw = 3, .pad_top = 1,
                                        .pad_left = 1, .pad_bottom = 0, .pad_right = 1},
                                  .dtype = DType::Float32};
  test::expect_error([&] { kv::conv2d_forward(conv, exec); },
                     {"conv2d forward (cudnn): padding top/bottom 1/0", "use Backend::Native for conv2d"});
  kernels::Conv2dBackwardArgs conv_bwd{.g = conv.g, .dtype = DType::Float32};
  test::expect_error([&] { kv::conv2d_backward(conv_bwd, exec); }, {"conv2d backward (cudnn)", "asymmetric"});

  kernels::Pool2dGeometry pool{.n = 1, .c = 2, .h = 7, .w = 7, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2};
  pool.ceil_mode = true;
  test::expect_error([&] { kv::avg_pool2d_forward({.g = pool, .dtype = DType::Float32}, exec); },
                     {"avg_pool2d forward (cudnn): ceil_mode", "use Backend::Native for avg_pool2d"});
  pool.ceil_mode = false;
  pool.pad_right = 1;
  test::expect_error([&] { kv::avg_pool2d_backward({.g = pool, .dtype = DType::Float32}, exec); },
                     {"avg_pool2d backward (cudnn): padding top/bottom 0/0, left/right 0/1"});

  test::expect_error(
      [&] { kv::adaptive_avg_pool2d_forward({.n = 1, .c = 2, .h = 10, .w = 9, .out_h = 3, .out_w = 4}, exec); },
      {"adaptive_avg_pool2d forward (cudnn): output 3x4 does not divide the input 10x9",
       "use Backend::Native for adaptive_avg_pool2d"});
  test::expect_error(
      [&] { kv::adaptive_avg_pool2d_backward({.n = 1, .c = 1, .h = 5, .w = 5, .out_h = 7, .out_w = 6}, exec); },
      {"adaptive_avg_pool2d backward (cudnn): output 7x6"});

  kernels::BatchNormForwardArgs bn{.dtype = DType::Float32, .n = 1, .c = 3, .hw = 1, .use_batch_stats = true,
                                   .update_running = true};
  test::expect_error([&] { kv::batchnorm_forward(bn, exec); },
                     {"batch_norm forward (cudnn)", "one value per channel", "use Backend::Native for batch_norm"});
}
#else
TEST(Vendor, RegisterKernelsPutsCudnnAndCublasUnderVendorForCuda) {
  GTEST_SKIP() << "built without hone_vendor (no CUDA, cuDNN or cuBLAS found, or HONE_VENDOR=OFF)";
}
#endif

}  // namespace
}  // namespace hone
