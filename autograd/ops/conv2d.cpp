// conv2d: validated once here, then the conv2d kernels through the dispatch point; backward
// asks the kernel only for the gradients that some input needs.
#include "autograd/node.h"
#include "autograd/ops/conv2d.h"
#include "autograd/ops/dispatch.h"
#include "autograd/trace.h"

namespace hone {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dFuncOptions& o) {
  const Device device = detail::common_device("conv2d", {&input, &weight, &bias});
  HONE_CHECK(input.dim() == 4, "conv2d: input must be 4-D [N,C,H,W], got ", input.shape());
  HONE_CHECK(weight.dim() == 4, "conv2d: weight must be 4-D [C_out,C_in/groups,KH,KW], got ", weight.shape());
  HONE_CHECK(o.groups > 0 && input.size(1) == weight.size(1) * o.groups, "conv2d: input has ", input.size(1),
             " channels but weight ", weight.shape(), " with groups=", o.groups, " expects ", weight.size(1) * o.groups);
  HONE_CHECK(weight.size(0) % o.groups == 0, "conv2d: ", weight.size(0), " output channels not divisible by groups=",
             o.groups);
  HONE_CHECK(!bias.defined() || (bias.dim() == 1 && bias.size(0) == weight.size(0)), "conv2d: bias must be [",
             weight.size(0), "], got ", bias.defined() ? bias.shape() : Shape{});
  HONE_CHECK(is_floating(input.dtype()) && input.dtype() == weight.dtype() && (!bias.defined() || bias.dtype() == input.dtype()),
             "conv2d: input, weight and bias must share one floating dtype, got ", dtype_name(input.dtype()), ", ",
             dtype_name(weight.dtype()), bias.defined() ? std::string(", ") + dtype_name(bias.dtype()) : std::string());
  kernels::Conv2dGeometry g{.n = input.size(0), .c_in = input.size(1), .h = input.size(2), .w = input.size(3),
                                 .c_out = weight.size(0), .kh = weight.size(2), .kw = weight.size(3),
                                 .stride_h = o.stride[0], .stride_w = o.stride[1],
                                 .pad_top = o.padding[0], .pad_left = o.padding[1], .pad_bottom = o.padding[2],
                                 .pad_right = o.padding[3], .dilation_h = o.dilation[0], .dilation_w = o.dilation[1],
                                 .groups = o.groups};
  kernels::validate_conv2d(g, "conv2d");
  const Tensor x = raw::contiguous(input), w = raw::contiguous(weight);
  const Tensor b = bias.defined() ? raw::contiguous(bias) : bias;
  Tensor out = empty({g.n, g.c_out, g.out_h(), g.out_w()}, {.dtype = x.dtype(), .device = device});
  if (g.n > 0)
    detail::run_kernel(detail::kernel_registry().conv2d_forward, "conv2d", device, x.dtype(),
                       {.g = g, .dtype = x.dtype(), .input = x.data_ptr(), .weight = w.data_ptr(),
                        .bias = b.defined() ? b.data_ptr() : nullptr, .output = out.data_ptr()});
  const bool need_w = weight.requires_grad(), need_x = input.requires_grad();
  autograd::record("conv2d", {input, weight, bias}, {out}, {need_w ? x : Tensor(), need_x ? w : Tensor()},
                   [g](const auto& grads, const auto& s, const auto& need) {
    const Tensor dy = raw::contiguous(grads[0]);
    const TensorOptions like{.dtype = dy.dtype(), .device = dy.device()};
    Tensor dx = need[0] ? empty({g.n, g.c_in, g.h, g.w}, like) : Tensor();
    Tensor dw = need[1] ? empty({g.c_out, g.c_in / g.groups, g.kh, g.kw}, like) : Tensor();
    Tensor db = need[2] ? empty({g.c_out}, like) : Tensor();
    if (g.n == 0) {
      for (Tensor* z : {&dx, &dw, &db})
        if (z->defined()) raw::fill(*z, 0.0);
    } else {
      detail::run_kernel(detail::kernel_registry().conv2d_backward, "conv2d backward", dy.device(), dy.dtype(),
                         {.g = g, .dtype = dy.dtype(), .input = s[0].defined() ? s[0].data_ptr() : nullptr,
                          .weight = s[1].defined() ? s[1].data_ptr() : nullptr, .grad_output = dy.data_ptr(),
                          .grad_input = need[0] ? dx.data_ptr() : nullptr, .grad_weight = need[1] ? dw.data_ptr() : nullptr,
                          .grad_bias = need[2] ? db.data_ptr() : nullptr});
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  HONE_TRACE("conv2d", {input, weight, bias}, {out}, {{"stride", o.stride}, {"padding", o.padding}, {"dilation", o.dilation}, {"groups", o.groups}});
  return out;
}

}  // namespace hone
