// Pooling ops: validated once here, then the pooling kernels through the dispatch point. Max pool saves only its indices for
// backward (not the input), the average pools save nothing: their backward needs only the
// geometry.
#include "autograd/ops/pooling.h"

#include "autograd/node.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"

namespace hone {

namespace {

void check_input(const Tensor& x, const char* op) {
  HONE_CHECK(x.dim() == 4, op, ": input must be 4-D [N,C,H,W], got ", x.shape());
  HONE_CHECK(x.dtype() == DType::Float32 || x.dtype() == DType::Float64, op,
             ": input must be float32 or float64, got ", dtype_name(x.dtype()));
}

kernels::Pool2dGeometry geometry(const Tensor& x, const Pool2dOptions& o, const char* op) {
  check_input(x, op);
  kernels::Pool2dGeometry g{.n = x.size(0), .c = x.size(1), .h = x.size(2), .w = x.size(3),
                                 .kh = o.kernel[0], .kw = o.kernel[1],
                                 .stride_h = o.stride[0] == 0 ? o.kernel[0] : o.stride[0],
                                 .stride_w = o.stride[1] == 0 ? o.kernel[1] : o.stride[1],
                                 .pad_top = o.padding[0], .pad_left = o.padding[1], .pad_bottom = o.padding[2],
                                 .pad_right = o.padding[3], .dilation_h = o.dilation[0], .dilation_w = o.dilation[1],
                                 .ceil_mode = o.ceil_mode};
  kernels::validate_pool2d(g, op);
  return g;
}

}  // namespace

MaxPoolResult max_pool2d_with_indices(const Tensor& input, const Pool2dOptions& o) {
  const kernels::Pool2dGeometry g = geometry(input, o, "max_pool2d");
  const Tensor x = raw::contiguous(input);
  const Shape out_shape{g.n, g.c, g.out_h(), g.out_w()};
  MaxPoolResult r{empty(out_shape, {.dtype = x.dtype(), .device = x.device()}),
                  empty(out_shape, {.dtype = DType::Int64, .device = x.device()})};
  if (r.values.numel() > 0)
    detail::run_kernel(detail::kernel_registry().max_pool2d_forward, "max_pool2d", x.device(), x.dtype(),
                       {.g = g, .dtype = x.dtype(), .input = x.data_ptr(),
                        .output = r.values.data_ptr(), .indices = r.indices.data<int64_t>()});
  autograd::record("max_pool2d", {input}, {r.values}, {r.indices},
                   [g](const auto& grads, const auto& s, const auto&) {
    if (!grads[0].defined()) return std::vector<Tensor>{Tensor()};
    const Tensor dy = raw::contiguous(grads[0]);
    Tensor dx = empty({g.n, g.c, g.h, g.w}, {.dtype = dy.dtype(), .device = dy.device()});
    if (dx.numel() > 0)
        detail::run_kernel(detail::kernel_registry().max_pool2d_backward, "max_pool2d backward", dy.device(), dy.dtype(),
                         {.g = g, .dtype = dy.dtype(), .grad_output = dy.data_ptr(),
                          .indices = s[0].template data<int64_t>(), .grad_input = dx.data_ptr()});
    return std::vector<Tensor>{dx};
  });
  HONE_TRACE("max_pool2d", {input}, {r.values}, {{"kernel", o.kernel}, {"stride", std::array<int64_t, 2>{g.stride_h, g.stride_w}}, {"padding", o.padding}, {"dilation", o.dilation}, {"ceil_mode", o.ceil_mode}});
  return r;
}

Tensor max_pool2d(const Tensor& x, const Pool2dOptions& o) { return max_pool2d_with_indices(x, o).values; }

Tensor avg_pool2d(const Tensor& input, const Pool2dOptions& o) {
  HONE_CHECK(o.dilation[0] == 1 && o.dilation[1] == 1, "avg_pool2d: dilation is not supported (got ", o.dilation[0],
             "x", o.dilation[1], "); only max_pool2d takes a dilation");
  const kernels::Pool2dGeometry g = geometry(input, o, "avg_pool2d");
  const Tensor x = raw::contiguous(input);
  Tensor out = empty({g.n, g.c, g.out_h(), g.out_w()}, {.dtype = x.dtype(), .device = x.device()});
  const bool include_pad = o.count_include_pad;
  if (out.numel() > 0)
    detail::run_kernel(detail::kernel_registry().avg_pool2d_forward, "avg_pool2d", x.device(), x.dtype(),
                       {.g = g, .dtype = x.dtype(), .count_include_pad = include_pad,
                        .input = x.data_ptr(), .output = out.data_ptr()});
  autograd::record("avg_pool2d", {input}, {out}, {}, [g, include_pad](const auto& grads, const auto&, const auto&) {
    if (!grads[0].defined()) return std::vector<Tensor>{Tensor()};
    const Tensor dy = raw::contiguous(grads[0]);
    Tensor dx = empty({g.n, g.c, g.h, g.w}, {.dtype = dy.dtype(), .device = dy.device()});
    if (dx.numel() > 0)
      detail::run_kernel(detail::kernel_registry().avg_pool2d_backward, "avg_pool2d backward", dy.device(), dy.dtype(),
                         {.g = g, .dtype = dy.dtype(), .count_include_pad = include_pad,
                          .grad_output = dy.data_ptr(), .grad_input = dx.data_ptr()});
    return std::vector<Tensor>{dx};
  });
  HONE_TRACE("avg_pool2d", {input}, {out}, {{"kernel", o.kernel}, {"stride", std::array<int64_t, 2>{g.stride_h, g.stride_w}}, {"padding", o.padding}, {"ceil_mode", o.ceil_mode}, {"count_include_pad", o.count_include_pad}});
  return out;
}

Tensor adaptive_avg_pool2d(const Tensor& input, std::array<int64_t, 2> out_size) {
  check_input(input, "adaptive_avg_pool2d");
  const int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
  const int64_t oh = out_size[0], ow = out_size[1];
  HONE_CHECK(oh > 0 && ow > 0, "adaptive_avg_pool2d: output size must be positive, got ", oh, "x", ow);
  HONE_CHECK(h > 0 && w > 0, "adaptive_avg_pool2d: input ", input.shape(), " has an empty plane");
  const Tensor x = raw::contiguous(input);
  Tensor out = empty({n, c, oh, ow}, {.dtype = x.dtype(), .device = x.device()});
  if (out.numel() > 0)
    detail::run_kernel(detail::kernel_registry().adaptive_avg_pool2d_forward, "adaptive_avg_pool2d", x.device(), x.dtype(),
                       {.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow,
                        .dtype = x.dtype(), .input = x.data_ptr(), .output = out.data_ptr()});
  autograd::record("adaptive_avg_pool2d", {input}, {out}, {},
                   [n, c, h, w, oh, ow](const auto& grads, const auto&, const auto&) {
    if (!grads[0].defined()) return std::vector<Tensor>{Tensor()};
    const Tensor dy = raw::contiguous(grads[0]);
    Tensor dx = empty({n, c, h, w}, {.dtype = dy.dtype(), .device = dy.device()});
    if (dx.numel() > 0)
      detail::run_kernel(detail::kernel_registry().adaptive_avg_pool2d_backward, "adaptive_avg_pool2d backward", dy.device(), dy.dtype(),
                         {.n = n, .c = c, .h = h, .w = w, .out_h = oh, .out_w = ow,
                          .dtype = dy.dtype(), .grad_output = dy.data_ptr(),
                          .grad_input = dx.data_ptr()});
    return std::vector<Tensor>{dx};
  });
  HONE_TRACE("adaptive_avg_pool2d", {input}, {out}, {{"output_size", out_size}});
  return out;
}

Tensor global_avg_pool2d(const Tensor& x) { return adaptive_avg_pool2d(x, {1, 1}); }

}  // namespace hone
