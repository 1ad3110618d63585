// The naive seven-loop definitions of conv2d (any dtype the kernels take, summed in
// double) that every lowering is tested against: obviously right, never fast.
#include <algorithm>
#include <vector>

#include "kernels/cpu/conv2d.h"
#include "tensor/error.h"

namespace hone::kernels::cpu {

namespace {

template <typename T>
void forward_reference(const Conv2dForwardArgs& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w(), cig = g.c_in / g.groups, cog = g.c_out / g.groups;
  const T* x = static_cast<const T*>(a.input);
  const T* w = static_cast<const T*>(a.weight);
  const T* b = static_cast<const T*>(a.bias);
  T* y = static_cast<T*>(a.output);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t co = 0; co < g.c_out; ++co)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          double acc = b ? double(b[co]) : 0.0;
          const int64_t grp = co / cog;
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
                const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                acc += double(x[((n * g.c_in + grp * cig + ci) * g.h + iy) * g.w + ix]) *
                       double(w[((co * cig + ci) * g.kh + ky) * g.kw + kx]);
              }
          y[((n * g.c_out + co) * oh + oy) * ow + ox] = T(acc);
        }
}

template <typename T>
void backward_reference(const Conv2dBackwardArgs& a) {
  const Conv2dGeometry& g = a.g;
  const int64_t oh = g.out_h(), ow = g.out_w(), cig = g.c_in / g.groups, cog = g.c_out / g.groups;
  const T* x = static_cast<const T*>(a.input);
  const T* w = static_cast<const T*>(a.weight);
  const T* dy = static_cast<const T*>(a.grad_output);
  std::vector<double> dx(size_t(g.n * g.c_in * g.h * g.w), 0.0), dw(size_t(g.c_out * cig * g.kh * g.kw), 0.0),
      db(size_t(g.c_out), 0.0);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t co = 0; co < g.c_out; ++co)
      for (int64_t oy = 0; oy < oh; ++oy)
        for (int64_t ox = 0; ox < ow; ++ox) {
          const double go = double(dy[((n * g.c_out + co) * oh + oy) * ow + ox]);
          db[size_t(co)] += go;
          const int64_t grp = co / cog;
          for (int64_t ci = 0; ci < cig; ++ci)
            for (int64_t ky = 0; ky < g.kh; ++ky)
              for (int64_t kx = 0; kx < g.kw; ++kx) {
                const int64_t iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
                const int64_t ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
                if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                const size_t xi = size_t(((n * g.c_in + grp * cig + ci) * g.h + iy) * g.w + ix);
                const size_t wi = size_t(((co * cig + ci) * g.kh + ky) * g.kw + kx);
                dx[xi] += go * double(w[wi]);
                dw[wi] += go * double(x[xi]);
              }
        }
  if (a.grad_input) std::transform(dx.begin(), dx.end(), static_cast<T*>(a.grad_input), [](double v) { return T(v); });
  if (a.grad_weight) std::transform(dw.begin(), dw.end(), static_cast<T*>(a.grad_weight), [](double v) { return T(v); });
  if (a.grad_bias) std::transform(db.begin(), db.end(), static_cast<T*>(a.grad_bias), [](double v) { return T(v); });
}

}  // namespace

void conv2d_forward_reference(const Conv2dForwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "conv2d", [&](auto tag) { forward_reference<decltype(tag)>(a); });
}
void conv2d_backward_reference(const Conv2dBackwardArgs& a) {
  HONE_DISPATCH_FLOAT(a.dtype, "conv2d backward", [&](auto tag) { backward_reference<decltype(tag)>(a); });
}

}  // namespace hone::kernels::cpu
