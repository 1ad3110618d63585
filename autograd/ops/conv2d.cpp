// conv2d: shape checks, then kernels/cpu/conv2d; backward asks the kernel only for the
// gradients that some input needs.
#include "autograd/node.h"
#include "autograd/ops.h"
#include "autograd/ops/kernel_call.h"
#include "kernels/cpu/conv2d.h"

namespace hone {

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, const Conv2dOptions& o) {
  detail::require_same_device("conv2d", {&input, &weight, &bias});
  detail::require_cpu("conv2d", {&input, &weight, &bias});
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
  kernels::cpu::Conv2dGeometry g{.n = input.size(0), .c_in = input.size(1), .h = input.size(2), .w = input.size(3),
                                 .c_out = weight.size(0), .kh = weight.size(2), .kw = weight.size(3),
                                 .stride_h = o.stride[0], .stride_w = o.stride[1],
                                 .pad_top = o.padding[0], .pad_left = o.padding[1], .pad_bottom = o.padding[2],
                                 .pad_right = o.padding[3], .dilation_h = o.dilation[0], .dilation_w = o.dilation[1],
                                 .groups = o.groups};
  HONE_CHECK(g.stride_h > 0 && g.stride_w > 0 && g.dilation_h > 0 && g.dilation_w > 0 && g.pad_top >= 0 &&
                 g.pad_left >= 0 && g.pad_bottom >= 0 && g.pad_right >= 0,
             "conv2d: stride/dilation must be positive and padding non-negative");
  HONE_CHECK(g.out_h() > 0 && g.out_w() > 0, "conv2d: input ", input.shape(), " is too small for kernel ",
             weight.size(2), "x", weight.size(3), " with this padding/dilation (output would be ", g.out_h(), "x",
             g.out_w(), ")");
  const Tensor x = raw::contiguous(input), w = raw::contiguous(weight);
  const Tensor b = bias.defined() ? raw::contiguous(bias) : bias;
  Tensor out = empty({g.n, g.c_out, g.out_h(), g.out_w()}, {.dtype = x.dtype(), .device = x.device()});
  if (g.n > 0)
    kernels::cpu::conv2d_forward({.g = g, .dtype = x.dtype(), .input = x.data_ptr(), .weight = w.data_ptr(),
                                  .bias = b.defined() ? b.data_ptr() : nullptr, .output = out.data_ptr()});
  const bool need_w = weight.requires_grad(), need_x = input.requires_grad();
  autograd::record("conv2d", {input, weight, bias}, {out}, {need_w ? x : Tensor(), need_x ? w : Tensor()},
                   [g](const auto& grads, const auto& s, const auto& need) {
    const Tensor dy = raw::contiguous(grads[0]);
    const DType t = dy.dtype();
    Tensor dx = need[0] ? empty({g.n, g.c_in, g.h, g.w}, {.dtype = t}) : Tensor();
    Tensor dw = need[1] ? empty({g.c_out, g.c_in / g.groups, g.kh, g.kw}, {.dtype = t}) : Tensor();
    Tensor db = need[2] ? empty({g.c_out}, {.dtype = t}) : Tensor();
    if (g.n == 0) {
      for (Tensor* z : {&dx, &dw, &db})
        if (z->defined()) raw::fill(*z, 0.0);
    } else {
      kernels::cpu::conv2d_backward({.g = g, .dtype = t, .input = s[0].defined() ? s[0].data_ptr() : nullptr,
                                     .weight = s[1].defined() ? s[1].data_ptr() : nullptr, .grad_output = dy.data_ptr(),
                                     .grad_input = need[0] ? dx.data_ptr() : nullptr,
                                     .grad_weight = need[1] ? dw.data_ptr() : nullptr,
                                     .grad_bias = need[2] ? db.data_ptr() : nullptr});
    }
    return std::vector<Tensor>{dx, dw, db};
  });
  return out;
}

}  // namespace hone
