// Average pooling (plain and adaptive) through cuDNN's pooling (kernels/vendor/vendor.h).
// Compiled; no GPU has run it yet.
#include "kernels/vendor/common.h"
#include "kernels/vendor/kernels.h"
#include "tensor/error.h"

namespace hone::kernels::vendor {

namespace {

struct PoolDesc {
  cudnnPoolingDescriptor_t d = nullptr;
  PoolDesc() { HONE_CUDNN_CHECK(cudnnCreatePoolingDescriptor(&d)); }
  ~PoolDesc() { cudnnDestroyPoolingDescriptor(d); }
  PoolDesc(const PoolDesc&) = delete;
  PoolDesc& operator=(const PoolDesc&) = delete;
};

// Refuses what cuDNN's pooling cannot express, before anything is created or launched.
void refuse_unsupported(const Pool2dGeometry& g, const char* op) {
  HONE_CHECK(!g.ceil_mode, op, ": ceil_mode is not supported by cuDNN's pooling; use Backend::Native for avg_pool2d");
  HONE_CHECK(g.pad_top == g.pad_bottom && g.pad_left == g.pad_right, op, ": padding top/bottom ", g.pad_top, "/",
             g.pad_bottom, ", left/right ", g.pad_left, "/", g.pad_right,
             " is asymmetric and cuDNN pads symmetrically; use Backend::Native for avg_pool2d");
  HONE_CHECK(g.dilation_h == 1 && g.dilation_w == 1, op, ": average pooling has no dilation");
}

// One average pooling as cuDNN's descriptors.
struct AvgPool {
  PoolDesc pool;
  TensorDesc x, y;
  AvgPool(const Pool2dGeometry& g, DType t, bool count_include_pad, const char* op) {
    // Without ceil_mode no window reaches past the padding, so hone's count_include_pad
    // divisor is the whole window, as cuDNN's INCLUDE_PADDING.
    const auto mode = count_include_pad ? CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING
                                        : CUDNN_POOLING_AVERAGE_COUNT_EXCLUDE_PADDING;
    HONE_CUDNN_CHECK(cudnnSetPooling2dDescriptor(pool.d, mode, CUDNN_PROPAGATE_NAN, to_int(g.kh, op, "kh"),
                                                 to_int(g.kw, op, "kw"), to_int(g.pad_top, op, "pad"),
                                                 to_int(g.pad_left, op, "pad"), to_int(g.stride_h, op, "stride"),
                                                 to_int(g.stride_w, op, "stride")));
    x.set(t, g.n, g.c, g.h, g.w, op);
    y.set(t, g.n, g.c, g.out_h(), g.out_w(), op);
    int n, c, h, w;
    HONE_CUDNN_CHECK(cudnnGetPooling2dForwardOutputDim(pool.d, x.d, &n, &c, &h, &w));
    HONE_CHECK(h == g.out_h() && w == g.out_w(), op, ": cuDNN's output ", h, "x", w, " differs from hone's ",
               g.out_h(), "x", g.out_w(), "; use Backend::Native for avg_pool2d");
  }
};

void forward(const Pool2dGeometry& g, DType t, bool include_pad, const void* in, void* out, const Exec& exec,
             const char* op) {
  refuse_unsupported(g, op);
  if (g.n * g.c == 0) return;
  AvgPool p(g, t, include_pad, op);
  const Scale one(t, 1), zero(t, 0);
  HONE_CUDNN_CHECK(cudnnPoolingForward(cudnn_handle(exec), p.pool.d, one.get(), p.x.d, in, zero.get(), p.y.d, out));
}

void backward(const Pool2dGeometry& g, DType t, bool include_pad, const void* dy, void* dx, const Exec& exec,
              const char* op) {
  refuse_unsupported(g, op);
  if (g.n * g.c == 0) return;
  AvgPool p(g, t, include_pad, op);
  const Scale one(t, 1), zero(t, 0);
  // An average's gradient depends on neither the input nor the output, which hone's contract
  // does not pass; cuDNN's signature asks for them, so dy and dx stand in (same shapes).
  HONE_CUDNN_CHECK(cudnnPoolingBackward(cudnn_handle(exec), p.pool.d, one.get(), p.y.d, dy, p.y.d, dy, p.x.d, dx,
                                        zero.get(), p.x.d, dx));
}

// Adaptive pooling whose windows are all alike: out divides in, kernel = stride = in / out.
Pool2dGeometry adaptive_as_plain(int64_t n, int64_t c, int64_t h, int64_t w, int64_t out_h, int64_t out_w,
                                 const char* op) {
  HONE_CHECK(out_h > 0 && out_w > 0 && h % out_h == 0 && w % out_w == 0, op, ": output ", out_h, "x", out_w,
             " does not divide the input ", h, "x", w,
             " (cuDNN pools with one window size); use Backend::Native for adaptive_avg_pool2d");
  Pool2dGeometry g{.n = n, .c = c, .h = h, .w = w, .kh = h / out_h, .kw = w / out_w};
  g.stride_h = g.kh;
  g.stride_w = g.kw;
  return g;
}

}  // namespace

void avg_pool2d_forward(const AvgPool2dForwardArgs& a, const Exec& exec) {
  forward(a.g, a.dtype, a.count_include_pad, a.input, a.output, exec, "avg_pool2d forward (cudnn)");
}

void avg_pool2d_backward(const AvgPool2dBackwardArgs& a, const Exec& exec) {
  backward(a.g, a.dtype, a.count_include_pad, a.grad_output, a.grad_input, exec, "avg_pool2d backward (cudnn)");
}

void adaptive_avg_pool2d_forward(const AdaptiveAvgPool2dForwardArgs& a, const Exec& exec) {
  constexpr const char* op = "adaptive_avg_pool2d forward (cudnn)";
  forward(adaptive_as_plain(a.n, a.c, a.h, a.w, a.out_h, a.out_w, op), a.dtype, true, a.input, a.output, exec, op);
}

void adaptive_avg_pool2d_backward(const AdaptiveAvgPool2dBackwardArgs& a, const Exec& exec) {
  constexpr const char* op = "adaptive_avg_pool2d backward (cudnn)";
  backward(adaptive_as_plain(a.n, a.c, a.h, a.w, a.out_h, a.out_w, op), a.dtype, true, a.grad_output, a.grad_input,
           exec, op);
}

}  // namespace hone::kernels::vendor
