// matmul with NumPy semantics: 1-D operands gain a dim that is dropped again, batch dims
// broadcast. Backward: dA = dC B^T, dB = A^T dC, each summed back over broadcast batches.
#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"

namespace hone {

namespace {

// C = A x B for A [..., m, k] and B [..., k, n] whose batch dims already match.
Tensor batched_product(const Tensor& A, const Tensor& B) {
  const int64_t nd = A.dim();
  const Shape batch(A.shape().begin(), A.shape().end() - 2);
  const int64_t m = A.shape()[size_t(nd - 2)], n = B.shape()[size_t(nd - 1)];
  Shape out_shape = batch;
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor C = empty(out_shape, {.dtype = A.dtype(), .device = A.device()});
  if (C.numel() == 0) return C;
  // Fold the batch dims into one: a view when they are mergeable (stride-0 broadcasts
  // included), else a contiguous copy of that operand.
  auto fold = [&](const Tensor& t) {
    Shape s{numel(batch), t.shape()[size_t(nd - 2)], t.shape()[size_t(nd - 1)]};
    Tensor r = t.reshape(s);
    return r;
  };
  detail::matmul_into("matmul", fold(C), fold(A), fold(B));
  return C;
}

}  // namespace

void detail::matmul_into(const char* op, const Tensor& c, const Tensor& a, const Tensor& b) {
  const int64_t m = c.size(1), n = c.size(2), k = a.size(2);
  if (c.numel() == 0) return;
  if (k == 0) return raw::fill(c, 0.0);
  run_kernel(kernel_registry().matmul, op, c.device(), c.dtype(),
             {.dtype = c.dtype(), .batch = c.size(0), .m = m, .n = n, .k = k,
              .a = a.data_ptr(), .a_batch_stride = a.stride(0), .a_row_stride = a.stride(1), .a_col_stride = a.stride(2),
              .b = b.data_ptr(), .b_batch_stride = b.stride(0), .b_row_stride = b.stride(1), .b_col_stride = b.stride(2),
              .c = c.data_ptr(), .c_batch_stride = c.stride(0), .c_row_stride = c.stride(1), .c_col_stride = c.stride(2)});
}

Tensor matmul(const Tensor& a0, const Tensor& b0) {
  detail::common_device("matmul", {&a0, &b0});
  HONE_CHECK(a0.dim() >= 1 && b0.dim() >= 1, "matmul: both operands need at least 1 dim, got ", a0.shape(), " x ",
             b0.shape());
  HONE_CHECK(is_floating(a0.dtype()) && is_floating(b0.dtype()), "matmul: needs floating-point operands, got ",
             dtype_name(a0.dtype()), " x ", dtype_name(b0.dtype()));
  const DType t = promote_types(a0.dtype(), b0.dtype());
  // 1-D operands: a vector on the left is a row [1,k], on the right a column [k,1].
  Tensor a = a0.to(t), b = b0.to(t);
  const bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  if (a_vec) a = a.unsqueeze(0);
  if (b_vec) b = b.unsqueeze(1);
  const int64_t ka = a.shape().back(), kb = b.shape()[size_t(b.dim() - 2)];
  HONE_CHECK(ka == kb, "matmul: inner dims differ: ", a0.shape(), " x ", b0.shape());
  const Shape a_batch(a.shape().begin(), a.shape().end() - 2), b_batch(b.shape().begin(), b.shape().end() - 2);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul (batch dims)");
  Shape a_full = batch, b_full = batch;
  a_full.insert(a_full.end(), a.shape().end() - 2, a.shape().end());
  b_full.insert(b_full.end(), b.shape().end() - 2, b.shape().end());

  Tensor out;
  {
    NoGradGuard no_grad;  // the inner views are bookkeeping; one node below covers them
    out = batched_product(a.expand(a_full), b.expand(b_full));
    if (a_vec) out = out.squeeze(-2);
    if (b_vec) out = out.squeeze(-1);
  }
  autograd::record("matmul", {a, b}, {out}, {a, b},
                   [a_full, b_full, a_vec, b_vec](const auto& g, const auto& s, const auto& need) {
    Tensor go = g[0];  // undo the forward's squeezes in reverse order
    if (b_vec) go = go.unsqueeze(-1);
    if (a_vec) go = go.unsqueeze(-2);
    const Tensor A = s[0].expand(a_full), B = s[1].expand(b_full);
    Tensor ga, gb;
    if (need[0]) ga = sum_to(batched_product(go, B.transpose(-1, -2)), s[0].shape());
    if (need[1]) gb = sum_to(batched_product(A.transpose(-1, -2), go), s[1].shape());
    return std::vector<Tensor>{ga, gb};
  });
  HONE_TRACE("matmul", {a0, b0}, {out});
  return out;
}

}  // namespace hone
