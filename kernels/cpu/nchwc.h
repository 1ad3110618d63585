#pragma once
// Channel-blocked ("NCHWc") float32 inference kernels: a network's frozen part run as
// ONNX Runtime runs it (its NCHWc transformer), for the forward of an imported file in eval
// mode, feature extraction and the frozen stages of a partial fine-tune.
//
// Why a second layout: the NCHW direct convolution (conv2d_direct.h) copies its input into
// a padded grid and its output back out, and batch norm and ReLU each pass over memory
// again; perf on the ResNet-18 forward put its tile at under half the time. Here an
// activation stays blocked from one conv to the next: a block holds `lanes` channels (16 on
// AVX-512, one zmm; 8 on AVX2) of every pixel side by side, with a zero border around each
// plane so a conv reads its padding instead of testing for it. The conv's tile keeps
// CB x P accumulators (CB blocks of output channels for P output pixels): per input channel
// and tap, CB weight vectors and P broadcast pixels make CB x P FMAs. Bias (batch norm
// folded in by the caller), the residual add and ReLU happen in registers before the store.
//
// Every output element is summed by one thread in an order fixed by the shapes: results do
// not depend on the thread count.
#include <cstdint>
#include <memory>

#include "kernels/conv2d.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/isa.h"
#include "kernels/exec.h"
#include "kernels/pooling.h"

namespace hone::kernels::cpu::nchwc {

// The lanes of a block this CPU's widest blocked kernels use: 16 (AVX-512), 8 (AVX2 + FMA);
// 0 when it has neither (callers then keep to NCHW). An ISA the CPU lacks is a hone::Error.
int64_t lanes(CpuIsa isa = CpuIsa::Auto);

// An activation [n][blocks][h + 2 border][w + 2 border][lanes]: channel c of pixel (y, x) of
// image i sits in block c / lanes, lane c % lanes. Border positions and the lanes past c
// hold zeros (a conv's padding; zero weights meet them). A network's input image may use
// lanes = c (one block, channels side by side: the stem's 3).
struct Layout {
  int64_t n = 0, c = 0, h = 0, w = 0, lanes = 0, border = 0;

  int64_t blocks() const { return (c + lanes - 1) / lanes; }
  int64_t row() const { return (w + 2 * border) * lanes; }  // floats
  int64_t plane() const { return (h + 2 * border) * row(); }
  int64_t image() const { return blocks() * plane(); }
  int64_t size() const { return n * image(); }
  // Offset of (image, block, y, x), y and x counted from the plane's first inner pixel
  // (so -border is the first border row).
  int64_t at(int64_t i, int64_t b, int64_t y, int64_t x) const {
    return i * image() + b * plane() + (y + border) * row() + (x + border) * lanes;
  }
  bool same_shape(const Layout& o) const {
    return n == o.n && c == o.c && h == o.h && w == o.w && lanes == o.lanes && border == o.border;
  }
};

// A conv's weights in the tile's order: [out block][in block][ky][kx][in lane][out lane],
// zero past c_out and c_in, and the bias as out blocks x lanes floats (zero when none).
struct PackedConv {
  int64_t c_out = 0, c_in = 0, kh = 0, kw = 0, in_lanes = 0, out_lanes = 0;
  std::shared_ptr<AlignedFloats> weights, bias;
};
// w: [c_out, c_in, kh, kw] contiguous; bias: c_out floats or nullptr. in_lanes: the lanes of
// the layout the conv will read (lanes(isa), or c_in for an image of few channels).
// Output blocks are packed in parallel over exec's threads (a training step packs every
// trained conv's weights again: ResNet's layer4 holds 7M floats).
PackedConv pack_conv(const float* w, const float* bias, int64_t c_out, int64_t c_in, int64_t kh, int64_t kw,
                     int64_t in_lanes, CpuIsa isa = CpuIsa::Auto, const Exec& exec = Exec{});

// The weights of a stride-1 conv's input gradient, itself a conv of dY: channel axes
// swapped and taps flipped (output channel ci, input channel co, tap (kh-1-ky, kw-1-kx) of
// w), for a dY layout of lanes(isa) lanes; no bias.
PackedConv pack_conv_transposed(const float* w, int64_t c_out, int64_t c_in, int64_t kh, int64_t kw,
                                CpuIsa isa = CpuIsa::Auto, const Exec& exec = Exec{});

struct ConvArgs {
  Conv2dGeometry g;  // dilation 1, one group; each pad <= x's border
  const float* x;
  Layout xl;  // n, c, h, w as g; lanes = w.in_lanes
  const PackedConv* w;
  float* y;   // written inside its border only
  Layout yl;  // n, c_out, out_h, out_w; lanes = lanes(isa)
  const float* residual = nullptr;  // added before relu; layout yl
  bool relu = false;
  // One phase of a strided conv's input gradient: the conv's own output grid is out_h x
  // out_w (> 0), its pixel (oy, ox) is written at (oy * y_step_h + y_off_h, ox * y_step_w +
  // y_off_w) of yl, and g's pads (g.h, g.w: x's dims) may be negative (the reads start
  // inside x). out_h == 0: the output grid is yl's, g.out_h() x g.out_w().
  int64_t out_h = 0, out_w = 0, y_step_h = 1, y_step_w = 1, y_off_h = 0, y_off_w = 0;
};
void conv(const ConvArgs& a, const Exec& exec, CpuIsa isa = CpuIsa::Auto);

// The weight gradient dw[co, ci, ky, kx] = sum over images and output pixels of
// dy[co, pixel] * x[ci, the pixel's input at tap (ky, kx)], overwriting dw ([c_out, c_in,
// kh, kw] contiguous). Training's third product: tiles of 8 (AVX2: 4) input channels x up
// to 3 output blocks per tap, each summed by one thread over all pixels in a fixed order.
struct GradWeightArgs {
  Conv2dGeometry g;  // dilation 1, one group; each pad <= x's border
  const float* x;
  Layout xl;  // n, c, h, w as g; lanes 4, 8 or lanes(isa): grad_weight_lanes(c) for the fewest zeros
  const float* dy;
  Layout dyl;  // n, c_out, out_h, out_w; lanes(isa)
  float* dw;
};
void conv_grad_weight(const GradWeightArgs& a, const Exec& exec, CpuIsa isa = CpuIsa::Auto);
// The lanes conv_grad_weight's x layout should use for c input channels: 4 (an image's 3),
// 8, or a full block.
int64_t grad_weight_lanes(int64_t c_in, CpuIsa isa = CpuIsa::Auto);

// Max pooling, blocked to blocked (x's border is not read: windows are clipped to the
// image); NaN wins, as in the NCHW kernel. Output dims yl.h x yl.w must be g's.
void max_pool(const Pool2dGeometry& g, const float* x, const Layout& xl, float* y, const Layout& yl, const Exec& exec,
              CpuIsa isa = CpuIsa::Auto);
// Mean over each plane's pixels: out [n, c].
void global_avg_pool(const float* x, const Layout& xl, float* out, const Exec& exec);

// NCHW [n, c, h, w] -> blocked, border and spare lanes zeroed.
void to_blocked(const float* x, const Layout& l, float* out, const Exec& exec);
// Blocked -> NCHW [n, c, h, w].
void from_blocked(const float* x, const Layout& l, float* out, const Exec& exec);
// Zeroes the border of every plane (a fresh output buffer, before a conv fills the inside).
void zero_border(float* x, const Layout& l, const Exec& exec);

}  // namespace hone::kernels::cpu::nchwc
