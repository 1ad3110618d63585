// The blocked (NCHWc) inference kernels against the NCHW references: conv (+ bias,
// residual, ReLU) against conv2d_forward_reference, max pooling against
// max_pool2d_reference, and the layout conversions, for each ISA this CPU runs.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "hone.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/nchwc.h"
#include "kernels/cpu/pooling.h"
#include "kernels/context_exec.h"

namespace {

namespace k = hone::kernels;
namespace nc = hone::kernels::cpu::nchwc;
using hone::kernels::cpu::CpuIsa;

std::vector<CpuIsa> blocked_isas() {
  std::vector<CpuIsa> out;
  for (CpuIsa isa : {CpuIsa::Avx512, CpuIsa::Avx2})
    if (k::cpu::cpu_isa_supported(isa)) out.push_back(isa);
  return out;
}

std::vector<float> random(int64_t n, uint64_t seed) {
  hone::Generator gen(seed);
  return hone::uniform({n}, -1, 1, {}, &gen).to_vector<float>();
}

struct Buffer {  // a blocked activation in aligned memory
  nc::Layout l;
  k::cpu::AlignedFloats data;
  explicit Buffer(const nc::Layout& layout) : l(layout), data(size_t(layout.size())) {
    std::fill(data.data(), data.data() + l.size(), std::numeric_limits<float>::quiet_NaN());
  }
};

struct ConvCase {
  int64_t n, c_in, h, w, c_out, k, stride, pad;
  bool bias, residual, relu;
  bool image_lanes = false;  // input blocked with lanes = c_in (the stem)
  int64_t border = 1;
};

void check_conv(const ConvCase& cc, CpuIsa isa) {
  SCOPED_TRACE(::testing::Message() << "isa " << k::cpu::cpu_isa_name(isa) << " n" << cc.n << " c" << cc.c_in << " "
                                    << cc.h << "x" << cc.w << " -> " << cc.c_out << " k" << cc.k << " s" << cc.stride
                                    << " p" << cc.pad << (cc.residual ? " +res" : "") << (cc.relu ? " relu" : ""));
  const int64_t B = nc::lanes(isa);
  const k::Conv2dGeometry g{.n = cc.n, .c_in = cc.c_in, .h = cc.h, .w = cc.w, .c_out = cc.c_out, .kh = cc.k, .kw = cc.k,
                            .stride_h = cc.stride, .stride_w = cc.stride, .pad_top = cc.pad, .pad_left = cc.pad,
                            .pad_bottom = cc.pad, .pad_right = cc.pad};
  const int64_t oh = g.out_h(), ow = g.out_w();
  const std::vector<float> x = random(g.n * g.c_in * g.h * g.w, 1), w = random(g.c_out * g.c_in * g.kh * g.kw, 2),
                           b = random(g.c_out, 3), r = random(g.n * g.c_out * oh * ow, 4);
  std::vector<float> want(size_t(g.n * g.c_out * oh * ow));
  k::cpu::conv2d_forward_reference(
      {.g = g, .dtype = hone::DType::Float32, .input = x.data(), .weight = w.data(), .bias = cc.bias ? b.data() : nullptr,
       .output = want.data()});
  for (size_t i = 0; i < want.size(); ++i) {
    if (cc.residual) want[i] += r[i];
    if (cc.relu) want[i] = std::max(want[i], 0.0f);
  }
  const hone::kernels::ContextExec exec;
  const int64_t in_lanes = cc.image_lanes ? cc.c_in : B;
  Buffer xb({.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = in_lanes, .border = cc.border});
  nc::to_blocked(x.data(), xb.l, xb.data.data(), exec);
  const nc::Layout yl{.n = g.n, .c = g.c_out, .h = oh, .w = ow, .lanes = B, .border = 1};
  Buffer yb(yl), rb(yl);
  nc::to_blocked(r.data(), yl, rb.data.data(), exec);
  nc::zero_border(yb.data.data(), yl, exec);
  const nc::PackedConv pw = nc::pack_conv(w.data(), cc.bias ? b.data() : nullptr, g.c_out, g.c_in, g.kh, g.kw, in_lanes, isa);
  nc::conv({.g = g, .x = xb.data.data(), .xl = xb.l, .w = &pw, .y = yb.data.data(), .yl = yl,
            .residual = cc.residual ? rb.data.data() : nullptr, .relu = cc.relu},
           exec, isa);
  std::vector<float> got(want.size());
  nc::from_blocked(yb.data.data(), yl, got.data(), exec);
  const double tol = 1e-5 * double(g.c_in * g.kh * g.kw);
  for (size_t i = 0; i < want.size(); ++i) ASSERT_NEAR(got[i], want[i], tol) << "at " << i;
  // The border stays zero, and so do the lanes past c_out.
  for (int64_t i = 0; i < g.n; ++i)
    for (int64_t blk = 0; blk < yl.blocks(); ++blk) {
      for (int64_t xx = -1; xx <= ow; ++xx) ASSERT_EQ(yb.data.data()[yl.at(i, blk, -1, xx)], 0.0f);
      for (int64_t yy = 0; yy < oh; ++yy) {
        ASSERT_EQ(yb.data.data()[yl.at(i, blk, yy, -1)], 0.0f);
        ASSERT_EQ(yb.data.data()[yl.at(i, blk, yy, ow)], 0.0f);
        for (int64_t l = 0; l < B; ++l)
          if (blk * B + l >= g.c_out) ASSERT_EQ(yb.data.data()[yl.at(i, blk, yy, 0) + l], 0.0f);
      }
    }
}

TEST(Nchwc, ConvMatchesTheReference) {
  if (blocked_isas().empty()) GTEST_SKIP() << "this CPU has neither AVX-512 nor AVX2 + FMA: no blocked kernels";
  const std::vector<ConvCase> cases = {
      {2, 16, 9, 11, 32, 3, 1, 1, true, false, true},         // ResNet's 3x3, rows that wrap tiles
      {2, 32, 10, 10, 64, 3, 2, 1, false, false, true},       // the strided first conv of a stage
      {2, 32, 10, 10, 80, 1, 2, 0, true, false, false},       // the 1x1 downsample; 5 output blocks
      {1, 24, 7, 7, 40, 3, 1, 1, true, true, true},           // channels not a multiple of the lanes, + residual
      {3, 3, 23, 23, 64, 7, 2, 3, true, false, true, true, 3},  // the stem: lanes = 3 channels, border 3
      {1, 3, 8, 8, 16, 3, 1, 1, false, false, false, true, 1},  // an image input, 3x3
      {1, 320, 5, 5, 64, 3, 1, 1, true, true, true},          // several chunks of input blocks
      {2, 16, 6, 6, 16, 1, 1, 0, true, true, false},          // 1x1 stride 1 with a residual
      {1, 16, 4, 4, 16, 3, 1, 0, false, false, false},        // no padding, border unused
  };
  for (CpuIsa isa : blocked_isas())
    for (const ConvCase& c : cases) check_conv(c, isa);
}

TEST(Nchwc, ConvIsTheSameForAnyThreadCount) {
  if (blocked_isas().empty()) GTEST_SKIP() << "no blocked kernels on this CPU";
  const int64_t B = nc::lanes();
  const k::Conv2dGeometry g{.n = 3, .c_in = 48, .h = 13, .w = 13, .c_out = 96, .kh = 3, .kw = 3, .pad_top = 1, .pad_left = 1,
                            .pad_bottom = 1, .pad_right = 1};
  const std::vector<float> x = random(g.n * g.c_in * g.h * g.w, 5), w = random(g.c_out * g.c_in * 9, 6);
  const nc::Layout xl{.n = g.n, .c = g.c_in, .h = g.h, .w = g.w, .lanes = B, .border = 1};
  const nc::Layout yl{.n = g.n, .c = g.c_out, .h = 13, .w = 13, .lanes = B, .border = 1};
  const nc::PackedConv pw = nc::pack_conv(w.data(), nullptr, g.c_out, g.c_in, 3, 3, B);
  std::vector<std::vector<float>> outs;
  for (int threads : {1, 2, 3}) {
    hone::ThreadPool pool(threads);
    const k::Exec exec{.pool = &pool};
    Buffer xb(xl), yb(yl);
    nc::to_blocked(x.data(), xl, xb.data.data(), exec);
    nc::zero_border(yb.data.data(), yl, exec);
    nc::conv({.g = g, .x = xb.data.data(), .xl = xl, .w = &pw, .y = yb.data.data(), .yl = yl, .relu = true}, exec);
    outs.emplace_back(yb.data.data(), yb.data.data() + yl.size());
  }
  EXPECT_EQ(outs[0], outs[1]);
  EXPECT_EQ(outs[0], outs[2]);
}

TEST(Nchwc, MaxPoolMatchesTheReference) {
  if (blocked_isas().empty()) GTEST_SKIP() << "no blocked kernels on this CPU";
  const std::vector<k::Pool2dGeometry> cases = {
      {.n = 2, .c = 20, .h = 11, .w = 12, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2, .pad_top = 1, .pad_left = 1,
       .pad_bottom = 1, .pad_right = 1},  // ResNet's stem pool
      {.n = 1, .c = 16, .h = 8, .w = 8, .kh = 2, .kw = 2, .stride_h = 2, .stride_w = 2},  // VGG's
      {.n = 1, .c = 9, .h = 7, .w = 9, .kh = 3, .kw = 2, .stride_h = 2, .stride_w = 1, .pad_top = 1, .pad_left = 0,
       .pad_bottom = 0, .pad_right = 1, .dilation_h = 1, .dilation_w = 2, .ceil_mode = true},
  };
  for (CpuIsa isa : blocked_isas())
    for (const k::Pool2dGeometry& g : cases) {
      const int64_t B = nc::lanes(isa), oh = g.out_h(), ow = g.out_w();
      std::vector<float> x = random(g.n * g.c * g.h * g.w, 7);
      for (size_t i = 0; i < x.size(); i += 13) x[i] = x[i + 1];  // ties
      x[5] = std::numeric_limits<float>::quiet_NaN();
      std::vector<float> want(size_t(g.n * g.c * oh * ow)), got(want.size());
      std::vector<int64_t> idx(want.size());
      k::cpu::max_pool2d_reference({.g = g, .dtype = hone::DType::Float32, .input = x.data(), .output = want.data(),
                                    .indices = idx.data()});
      const hone::kernels::ContextExec exec;
      Buffer xb({.n = g.n, .c = g.c, .h = g.h, .w = g.w, .lanes = B, .border = 1});
      Buffer yb({.n = g.n, .c = g.c, .h = oh, .w = ow, .lanes = B, .border = 1});
      nc::to_blocked(x.data(), xb.l, xb.data.data(), exec);
      nc::max_pool(g, xb.data.data(), xb.l, yb.data.data(), yb.l, exec, isa);
      nc::from_blocked(yb.data.data(), yb.l, got.data(), exec);
      for (size_t i = 0; i < want.size(); ++i) {
        if (std::isnan(want[i])) ASSERT_TRUE(std::isnan(got[i])) << i;
        else ASSERT_EQ(got[i], want[i]) << i;
      }
    }
}

TEST(Nchwc, GlobalAveragePoolAndConversionsRoundTrip) {
  if (blocked_isas().empty()) GTEST_SKIP() << "no blocked kernels on this CPU";
  const nc::Layout l{.n = 2, .c = 21, .h = 3, .w = 5, .lanes = nc::lanes(), .border = 2};
  const std::vector<float> x = random(l.n * l.c * l.h * l.w, 8);
  const hone::kernels::ContextExec exec;
  Buffer b(l);
  nc::to_blocked(x.data(), l, b.data.data(), exec);
  std::vector<float> back(x.size()), mean(size_t(l.n * l.c));
  nc::from_blocked(b.data.data(), l, back.data(), exec);
  EXPECT_EQ(back, x);
  nc::global_avg_pool(b.data.data(), l, mean.data(), exec);
  for (int64_t p = 0; p < l.n * l.c; ++p) {
    double s = 0;
    for (int64_t i = 0; i < l.h * l.w; ++i) s += x[size_t(p * l.h * l.w + i)];
    ASSERT_NEAR(mean[size_t(p)], s / double(l.h * l.w), 1e-6) << p;
  }
}

// Every element of the blocked form where the layout says, zeros in the border and the
// spare lanes, and back: lanes of 4, 8, the CPU's own and an image's 3; widths that leave
// the 4-pixel transposes a tail.
TEST(Nchwc, ConversionsPutEveryElementInPlace) {
  if (blocked_isas().empty()) GTEST_SKIP() << "no blocked kernels on this CPU";
  const hone::kernels::ContextExec exec;
  for (const int64_t lanes : {int64_t(4), int64_t(8), nc::lanes(), int64_t(3)})
    for (const int64_t w : {1, 5, 8, 19}) {
      const nc::Layout l{.n = 2, .c = lanes == 3 ? 3 : 21, .h = 3, .w = w, .lanes = lanes, .border = w % 2 + 1};
      SCOPED_TRACE(::testing::Message() << "lanes " << lanes << ", width " << w);
      const std::vector<float> x = random(l.n * l.c * l.h * l.w, 12);
      Buffer b(l);  // NaN-filled
      nc::to_blocked(x.data(), l, b.data.data(), exec);
      for (int64_t i = 0; i < l.n; ++i)
        for (int64_t blk = 0; blk < l.blocks(); ++blk)
          for (int64_t yy = -l.border; yy < l.h + l.border; ++yy)
            for (int64_t xx = -l.border; xx < l.w + l.border; ++xx)
              for (int64_t lane = 0; lane < lanes; ++lane) {
                const int64_t c = blk * lanes + lane;
                const bool inside = c < l.c && yy >= 0 && yy < l.h && xx >= 0 && xx < l.w;
                const float want = inside ? x[size_t(((i * l.c + c) * l.h + yy) * l.w + xx)] : 0.0f;
                ASSERT_EQ(b.data.data()[l.at(i, blk, yy, xx) + lane], want) << i << " " << c << " " << yy << " " << xx;
              }
      std::vector<float> back(x.size(), std::nanf(""));
      nc::from_blocked(b.data.data(), l, back.data(), exec);
      EXPECT_EQ(back, x);
    }
}

// Every weight of the packed forms where the layout says (and zeros in the spare lanes and
// blocks), on sizes that leave the 4 x 4 transposes tails both ways: pack_conv puts w[co][ci]
// [t] at block co / B, row (ci / in_lanes, t, ci % in_lanes), lane co % B; pack_conv_transposed
// puts it at block ci / B, region co / B, row (flipped t, co % B), lane ci % B.
TEST(Nchwc, PackedWeightsPutEveryWeightInPlace) {
  const hone::kernels::ContextExec exec;
  for (CpuIsa isa : blocked_isas()) {
    const int64_t B = nc::lanes(isa);
    struct Shape {
      int64_t c_out, c_in, kh, kw, in_lanes;
    };
    for (const Shape s : {Shape{5, 3, 7, 7, 3}, Shape{B + 3, 2 * B + 1, 3, 3, B}, Shape{3 * B, B, 1, 1, B}, Shape{7, 9, 2, 3, 4}}) {
      SCOPED_TRACE(::testing::Message() << "lanes " << B << ", [" << s.c_out << ", " << s.c_in << ", " << s.kh << ", " << s.kw << "]");
      const int64_t taps = s.kh * s.kw;
      const std::vector<float> w = random(s.c_out * s.c_in * taps, 31), bias = random(s.c_out, 32);
      const nc::PackedConv p = nc::pack_conv(w.data(), bias.data(), s.c_out, s.c_in, s.kh, s.kw, s.in_lanes, isa, exec);
      const int64_t ob = (s.c_out + B - 1) / B, ib = (s.c_in + s.in_lanes - 1) / s.in_lanes;
      const int64_t per_block = ib * taps * s.in_lanes * B;
      ASSERT_GE(int64_t(p.weights->size()), ob * per_block);
      for (int64_t blk = 0; blk < ob; ++blk)
        for (int64_t cib = 0; cib < ib; ++cib)
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t li = 0; li < s.in_lanes; ++li)
              for (int64_t lane = 0; lane < B; ++lane) {
                const int64_t co = blk * B + lane, ci = cib * s.in_lanes + li;
                const float want = co < s.c_out && ci < s.c_in ? w[size_t((co * s.c_in + ci) * taps + t)] : 0.0f;
                ASSERT_EQ(p.weights->data()[blk * per_block + ((cib * taps + t) * s.in_lanes + li) * B + lane], want)
                    << co << " " << ci << " " << t;
              }
      const nc::PackedConv q = nc::pack_conv_transposed(w.data(), s.c_out, s.c_in, s.kh, s.kw, isa, exec);
      const int64_t tob = (s.c_in + B - 1) / B, tib = (s.c_out + B - 1) / B;
      ASSERT_GE(int64_t(q.weights->size()), tob * tib * taps * B * B);
      for (int64_t blk = 0; blk < tob; ++blk)
        for (int64_t cob = 0; cob < tib; ++cob)
          for (int64_t t = 0; t < taps; ++t)
            for (int64_t li = 0; li < B; ++li)
              for (int64_t lane = 0; lane < B; ++lane) {
                const int64_t ci = blk * B + lane, co = cob * B + li;
                const float want = co < s.c_out && ci < s.c_in ? w[size_t((co * s.c_in + ci) * taps + (taps - 1 - t))] : 0.0f;
                ASSERT_EQ(q.weights->data()[((blk * tib + cob) * taps + t) * B * B + li * B + lane], want)
                    << co << " " << ci << " " << t;
              }
    }
  }
}

TEST(Nchwc, BadLayoutsAreErrors) {
  if (blocked_isas().empty()) GTEST_SKIP() << "no blocked kernels on this CPU";
  const int64_t B = nc::lanes();
  const k::Conv2dGeometry g{.n = 1, .c_in = 16, .h = 4, .w = 4, .c_out = 16, .kh = 5, .kw = 5, .pad_top = 2, .pad_left = 2,
                            .pad_bottom = 2, .pad_right = 2};
  const std::vector<float> w = random(16 * 16 * 25, 9);
  const nc::PackedConv pw = nc::pack_conv(w.data(), nullptr, 16, 16, 5, 5, B);
  Buffer xb({.n = 1, .c = 16, .h = 4, .w = 4, .lanes = B, .border = 1}), yb({.n = 1, .c = 16, .h = 4, .w = 4, .lanes = B, .border = 1});
  try {
    nc::conv({.g = g, .x = xb.data.data(), .xl = xb.l, .w = &pw, .y = yb.data.data(), .yl = yb.l}, hone::kernels::ContextExec());
    FAIL() << "a pad of 2 over a border of 1 was accepted";
  } catch (const hone::Error& e) {
    EXPECT_NE(std::string(e.what()).find("border of 1"), std::string::npos) << e.what();
  }
}

}  // namespace
