#pragma once
// How the vendor matmul (kernels/vendor/matmul.cu) poses hone's strided row-major product to
// column-major BLAS. No cuBLAS here: the plan is plain index arithmetic, so the CPU tests
// (tests/vendor_test.cpp) replay it against a reference loop for every stride pattern.
//
// BLAS computes X = op(Y) op(Z) with each matrix stored with a unit stride along one index
// and a leading dimension along the other. hone's C = A B (any strides) becomes X = C, Y = A,
// Z = B when C has a unit row stride, else X = C^T, Y = B^T, Z = A^T (C^T = B^T A^T); an
// operand that neither op N nor op T describes is packed (copied to a column-major buffer)
// first, and an output that neither orientation fits is computed packed and copied out.
#include <algorithm>
#include <cstdint>

#include "kernels/host_device.h"
#include "kernels/matmul.h"

namespace hone::kernels::vendor {

// A batch of rows x cols matrices: element (b, i, j) at b * batch_stride + i * row_stride +
// j * col_stride (elements). "Row" is the first index of the column-major problem.
struct MatrixView {
  void* p;
  int64_t batch, rows, cols;
  int64_t batch_stride, row_stride, col_stride;
};

HONE_HOST_DEVICE inline int64_t view_offset(const MatrixView& v, int64_t linear) {
  const int64_t j = linear % v.cols, i = linear / v.cols % v.rows, b = linear / (v.cols * v.rows);
  return b * v.batch_stride + i * v.row_stride + j * v.col_stride;
}

inline MatrixView transposed(const MatrixView& v) {
  return {v.p, v.batch, v.cols, v.rows, v.batch_stride, v.col_stride, v.row_stride};
}

// A packed column-major buffer of v's sizes.
inline MatrixView packed_like(const MatrixView& v, void* buffer) {
  return {buffer, v.batch, v.rows, v.cols, v.rows * v.cols, 1, std::max<int64_t>(v.rows, 1)};
}

// How BLAS reads a matrix: as stored (op N: unit row stride, element (i, j) at i + j * ld),
// transposed (op T: unit col stride, at j + i * ld), or not at all (ok = false: pack it).
struct BlasLayout {
  bool ok;
  bool transpose;
  int64_t ld;
};
inline BlasLayout blas_layout(const MatrixView& v) {
  // A size-1 dim's stride is never used, so any value fits it.
  const bool unit_rows = v.row_stride == 1 || v.rows == 1, unit_cols = v.col_stride == 1 || v.cols == 1;
  const int64_t ld_n = v.cols == 1 ? std::max<int64_t>(v.rows, 1) : v.col_stride;
  if (unit_rows && ld_n >= std::max<int64_t>(v.rows, 1)) return {true, false, ld_n};
  const int64_t ld_t = v.rows == 1 ? std::max<int64_t>(v.cols, 1) : v.row_stride;
  if (unit_cols && ld_t >= std::max<int64_t>(v.cols, 1)) return {true, true, ld_t};
  return {false, false, 0};
}

// The column-major problem X (rows x cols) = Y (rows x k) Z (k x cols) for C = A B, and which
// of the three must go through a packed buffer.
struct GemmPlan {
  MatrixView x, y, z;
  bool pack_x, pack_y, pack_z;
};
inline GemmPlan plan_gemm(const MatmulArgs& p) {
  const MatrixView a{const_cast<void*>(p.a), p.batch, p.m, p.k, p.a_batch_stride, p.a_row_stride, p.a_col_stride};
  const MatrixView b{const_cast<void*>(p.b), p.batch, p.k, p.n, p.b_batch_stride, p.b_row_stride, p.b_col_stride};
  const MatrixView c{p.c, p.batch, p.m, p.n, p.c_batch_stride, p.c_row_stride, p.c_col_stride};
  const BlasLayout lc = blas_layout(c);
  const bool direct = lc.ok && !lc.transpose;
  GemmPlan plan{direct ? c : transposed(c), direct ? a : transposed(b), direct ? b : transposed(a), false, false, false};
  const BlasLayout lx = blas_layout(plan.x);
  plan.pack_x = !lx.ok || lx.transpose;
  plan.pack_y = !blas_layout(plan.y).ok;
  plan.pack_z = !blas_layout(plan.z).ok;
  return plan;
}

}  // namespace hone::kernels::vendor
