// conv2d's entry points: the one rule that picks a lowering (Auto), and the dispatch on
// dtype. The lowerings live in conv2d_im2col.cpp and conv2d_direct.cpp; the references in
// conv2d_reference.cpp.
#include "kernels/cpu/conv2d.h"

#include <algorithm>

#include "kernels/cpu/conv2d_blocked.h"
#include "kernels/cpu/conv2d_direct.h"
#include "kernels/cpu/conv2d_im2col.h"
#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::kernels::cpu {

bool conv2d_direct_supported(const Conv2dGeometry& g, CpuIsa isa) {
  if (!conv_direct::geometry_supported(g)) return false;
  const std::vector<CpuIsa>& isas = conv_direct::isas();
  return isa == CpuIsa::Auto ? !isas.empty() : std::find(isas.begin(), isas.end(), isa) != isas.end();
}

// Auto's choice of the direct kernel, by measurement (bench/conv2d_bench, every distinct
// conv of ResNet-18 at batch 8 and VGG-16 at batch 2, 2 threads; bench/README.md).
// AVX-512 (Xeon): direct wins 1.1-5x wherever batch x output pixels >= 1568 (ResNet 14x14
// and up, the stem 2.3x forward; VGG 28x28 and up) and loses at 392 (ResNet's 7x7 outputs:
// 64 grid positions for 49 pixels, or a strided 1x1 sampling; VGG's 14x14 at batch 2: 512
// output channels over only 10 tiles of positions), where the 8x48-tile GEMM is at its best.
// AVX2 (EPYC Zen 3, 6x16 tiles on both sides): direct wins with few output channels and
// a spatial kernel (layer1 forward 24.4 vs 36.6 ms, backward 55 vs 83; VGG conv1_2 70 vs
// 239, 153 vs 365; layer2 28 vs 34, 55 vs 60), im2col with 256 and more (layer3 28 vs 20,
// 54 vs 47; layer4 34 vs 16, 63 vs 36) and on the strided 1x1 downsamples.
//
// Without the direct kernel, the forward takes pixels as the GEMM's M (Transposed) when
// C_out is small and K deep enough (layer1 1.6x, layer2 1.1-1.45x, 2 threads); with a
// shallow K (the 3- and 7x7x3-channel stems) the transpose costs more than it saves. The
// backward has one im2col lowering (Columns).
//
// The blocked tiles on NCHW tensors (Blocked) beat both on convs with a spatial kernel and a
// block of output channels (conv2d_bench "/blocked_nchw", AMD EPYC Zen 5, 2 threads, pairs
// from the same minute, ms forward / backward). AVX-512, stride 1: layer1 6.65 / 17.1
// against direct 7.7 / 18.8, layer2 6.2 / 15.4 against 7.5 / 17.9, layer3 7.9 / 18.3
// against 10.9 / 23.9, layer4 13.8 / 24.7 against im2col 21.0 / 36.0 (a noisy minute);
// VGG-16 conv3_2 22.4 / 48.9 against 26.0 / 51.7, conv4_2 24.9 / 53.2 against 32.4 / 68.2.
// Strided, where direct ran: the stem 9.0 / 18.7 against 11-12 / 20-22 (its weight gradient
// alone). With dx computed blocked phase by phase (two runs): layer2.0.conv1 2.7-3.3 /
// 6.5-8.4 against direct 3.3-4.1 / 7.9-10.9, layer3.0.conv1 2.7-3.8 / 6.4-8.6 against im2col
// 3.6-4.9 / 8.1-12.5, layer4.0.conv1 3.0-3.5 / 8.9-9.1 against im2col 4.1-5.2 / 7.6-8.9; the
// strided 1x1 downsamples' backward (forward about even, kept) 1.9-2.6 against direct
// 2.5-4.1 (layer2), 1.4-1.7 against 1.8-2.3 (layer3), 1.5-1.7 against im2col 1.3-1.4
// (layer4); 1x1s at stride 1 are unmeasured and unchanged. AVX2 kernels on the same CPU:
// strided 3x3 backward 12.3 against direct 14.7 (layer2.0.conv1), 13.7 against 21.7
// (layer4.0.conv1), and blocked beat direct wherever both ran with
// 8+ channels in and out (layer2 10.9 / 25.6 against 13.4 / 31.1), lost on the stem's
// backward (29.8 against 27.2); im2col against blocked on an AVX2-only CPU is unmeasured,
// so its rule for many channels stands. Fewer than 3 input channels: unmeasured, unchanged.
Conv2dAlgorithm conv2d_auto_algorithm(const Conv2dGeometry& g, bool backward) {
  if (conv2d_direct_supported(g)) {
    const bool avx2_only = conv_direct::isas().front() == CpuIsa::Avx2;
    const bool direct = avx2_only ? g.c_out <= 128 && g.kh * g.kw > 1
                                  : g.n * g.out_h() * g.out_w() >= 1024 && conv_direct::grid_utilisation(g) >= 0.8;
    const bool unit_stride = g.stride_h == 1 && g.stride_w == 1;
    const int64_t B = avx2_only ? 8 : 16;
    const bool blocked = g.c_out >= B && conv_blocked::supported(g) &&
                         (g.kh * g.kw > 1 ? (avx2_only ? direct && g.c_in >= B : g.c_in >= B || (direct && g.c_in >= 3))
                                          : !avx2_only && backward && !unit_stride && g.c_in >= B);
    if (blocked) return Conv2dAlgorithm::Blocked;
    if (direct) return Conv2dAlgorithm::Direct;
  }
  if (backward) return Conv2dAlgorithm::Columns;
  return g.c_out / g.groups <= 128 && (g.c_in / g.groups) * g.kh * g.kw >= 256 ? Conv2dAlgorithm::Transposed
                                                                               : Conv2dAlgorithm::Columns;
}

namespace {
// Direct and Blocked run the same geometries on the same CPUs.
void require(bool supported, const char* algorithm, CpuIsa isa, const char* op) {
  HONE_CHECK(supported, op, ": the ", algorithm, " algorithm needs no dilation, one group, ",
             "padding below the kernel size and a CPU with AVX-512 or AVX2 (asked for ", cpu_isa_name(isa), ")");
}
}  // namespace

void conv2d_forward(const Conv2dForwardArgs& a, const Exec& exec) {
  if (a.g.n == 0) return;
  if (a.dtype == DType::Float64) return conv_im2col::forward_float64(a, exec);
  HONE_CHECK(a.dtype == DType::Float32, "conv2d: dtype ", dtype_name(a.dtype), " is not supported (float32, float64 are)");
  const Conv2dAlgorithm algo = a.algorithm == Conv2dAlgorithm::Auto ? conv2d_auto_algorithm(a.g, false) : a.algorithm;
  switch (algo) {
    case Conv2dAlgorithm::Direct:
      require(conv2d_direct_supported(a.g, a.isa), "direct", a.isa, "conv2d");
      return conv_direct::forward(a.g, static_cast<const float*>(a.input), static_cast<const float*>(a.weight),
                                  static_cast<const float*>(a.bias), static_cast<float*>(a.output), exec, a.isa);
    case Conv2dAlgorithm::Blocked:
      require(conv_blocked::supported(a.g, a.isa), "blocked", a.isa, "conv2d");
      return conv_blocked::forward(a.g, static_cast<const float*>(a.input), static_cast<const float*>(a.weight),
                                   static_cast<const float*>(a.bias), static_cast<float*>(a.output), exec, a.isa);
    case Conv2dAlgorithm::Transposed: return conv_im2col::forward_transposed(a, exec);
    default: return conv_im2col::forward_columns(a, exec);
  }
}

void conv2d_backward(const Conv2dBackwardArgs& a, const Exec& exec) {
  const Conv2dGeometry& g = a.g;
  const int64_t R = (g.c_in / g.groups) * g.kh * g.kw, P = g.out_h() * g.out_w();
  HONE_DISPATCH_FLOAT(a.dtype, "conv2d backward", [&](auto tag) {
    using T = decltype(tag);
    if (T* db = static_cast<T*>(a.grad_bias)) {  // sum over images and positions, in a fixed order
      const T* dy = static_cast<const T*>(a.grad_output);
      for (int64_t co = 0; co < g.c_out; ++co) {
        double acc = 0;
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t p = 0; p < P; ++p) acc += double(dy[(n * g.c_out + co) * P + p]);
        db[co] = T(acc);
      }
    }
    if (T* dw = static_cast<T*>(a.grad_weight); dw && g.n == 0) std::fill(dw, dw + g.c_out * R, T(0));
  });
  if (g.n == 0 || (!a.grad_input && !a.grad_weight)) return;
  if (a.dtype == DType::Float64) return conv_im2col::backward_float64(a, exec);
  const Conv2dAlgorithm algo = a.algorithm == Conv2dAlgorithm::Auto ? conv2d_auto_algorithm(g, true) : a.algorithm;
  if (algo == Conv2dAlgorithm::Blocked) {
    require(conv_blocked::supported(g, a.isa), "blocked", a.isa, "conv2d backward");
    return conv_blocked::backward(g, static_cast<const float*>(a.input), static_cast<const float*>(a.weight),
                                  static_cast<const float*>(a.grad_output), static_cast<float*>(a.grad_input),
                                  static_cast<float*>(a.grad_weight), exec, a.isa);
  }
  if (algo != Conv2dAlgorithm::Direct) return conv_im2col::backward_columns(a, exec);
  require(conv2d_direct_supported(g, a.isa), "direct", a.isa, "conv2d backward");
  if (a.grad_input)
    conv_direct::grad_input(g, static_cast<const float*>(a.weight), static_cast<const float*>(a.grad_output),
                            static_cast<float*>(a.grad_input), exec, a.isa);
  if (a.grad_weight)
    conv_direct::grad_weight(g, static_cast<const float*>(a.input), static_cast<const float*>(a.grad_output),
                             static_cast<float*>(a.grad_weight), exec, a.isa);
}

}  // namespace hone::kernels::cpu
