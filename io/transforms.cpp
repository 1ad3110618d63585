#include "io/transforms.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "tensor/error.h"
#include "tensor/generator.h"

namespace hone::io {

// ---------------------------------------------------------------- per-sample randomness

namespace {

// Each sample owns 2^20 counter blocks (4 Mi words); a transform draws a few dozen words.
constexpr int kBlockBits = 20;
constexpr int64_t kMaxIndex = int64_t(1) << (64 - kBlockBits);

}  // namespace

// The Philox key mixes (seed, epoch); the counter's high bits are the index. So within one
// (seed, epoch) two indices can never share a block, and two (seed, epoch) pairs share a
// key only by a 64-bit hash collision.
SampleRng::SampleRng(uint64_t seed, int64_t epoch, int64_t index)
    : seed_(splitmix64(seed ^ splitmix64(uint64_t(epoch) ^ 0x6A09E667F3BCC909ULL))),
      stream_(uint64_t(index) << kBlockBits) {
  HONE_CHECK(index >= 0 && index < kMaxIndex, "SampleRng: index ", index, " is outside [0, 2^44)");
}

// 53 random bits (two words) scaled to [0, 1): every double the result can take is equally likely.
double SampleRng::uniform() {
  auto word = [this] {
    if (used_ == 4) {
      HONE_CHECK(counter_ < (uint64_t(1) << kBlockBits), "SampleRng: more than 2^20 blocks (4 Mi words) drawn for ",
                 "one sample");
      block_ = Generator::philox(seed_, stream_ | counter_++);
      used_ = 0;
    }
    return block_[used_++];
  };
  const uint64_t hi = word(), lo = word();
  return double(((hi << 32) | lo) >> 11) * 0x1.0p-53;
}

double SampleRng::uniform(double lo, double hi) {
  const double r = lo + (hi - lo) * uniform();
  return r < hi ? r : lo;  // rounding can reach hi when the range is tiny; keep [lo, hi)
}

// Unbiased: k = uniform() * 2^53 is an exact integer uniform on [0, 2^53). The lowest
// 2^53 mod n values are rejected, so the rest split evenly into the n residues (a draw is
// rejected with probability < n / 2^53).
int64_t SampleRng::randint(int64_t lo, int64_t hi) {
  HONE_CHECK(hi > lo && uint64_t(hi) - uint64_t(lo) <= (uint64_t(1) << 53), "SampleRng::randint: range [", lo,
             ", ", hi, ") is empty or wider than 2^53");
  const uint64_t n = uint64_t(hi) - uint64_t(lo);
  const uint64_t reject_below = (uint64_t(1) << 53) % n;
  for (;;) {
    const uint64_t k = uint64_t(uniform() * 0x1.0p53);
    if (k >= reject_below) return lo + int64_t(k % n);
  }
}

// ---------------------------------------------------------------- PIL's bilinear resampling

namespace {

void check_image(const Image& image, const char* op) {
  HONE_CHECK(image.height > 0 && image.width > 0, op, ": empty image ", image.height, "x", image.width);
  HONE_CHECK(image.channels == 1 || image.channels == 3, op, ": images have 1 or 3 channels, not ", image.channels);
  HONE_CHECK(int64_t(image.pixels.size()) == image.height * image.width * image.channels, op, ": a ", image.height,
             "x", image.width, "x", image.channels, " image holds ", image.pixels.size(), " bytes");
}

// Pillow's 8-bit resampling keeps weights in fixed point with 22 fraction bits (32 bits
// minus 8 for the pixel minus 2 of headroom) and adds half before the final shift.
constexpr int kPrecisionBits = 22;

// One axis of the separable filter: output i is sum_t weight[i*ksize + t] * in[first[i] + t]
// over t < count[i].
struct AxisTaps {
  int64_t ksize = 0;
  std::vector<int32_t> first, count, weight;
};

// Pillow's precompute_coeffs for the bilinear (triangle, support 1) filter over the whole
// axis (box [0, in_size)). When shrinking, the triangle is stretched by the scale, so every
// input pixel contributes (antialiasing). Each double expression keeps Pillow's operation
// order: the fixed-point weights (and so the output bytes) depend on the last bit.
AxisTaps bilinear_taps(int64_t in_size, int64_t out_size) {
  const double scale = double(in_size) / double(out_size);  // Pillow: (float)(in1 - in0) / out, exact here
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;
  const double inv_filter_scale = 1.0 / filter_scale;
  AxisTaps taps;
  taps.ksize = int64_t(std::ceil(support)) * 2 + 1;
  taps.first.resize(size_t(out_size));
  taps.count.resize(size_t(out_size));
  taps.weight.assign(size_t(out_size * taps.ksize), 0);
  std::vector<double> w(size_t(taps.ksize));
  for (int64_t i = 0; i < out_size; ++i) {
    const double center = 0.0 + (double(i) + 0.5) * scale;  // 0.0: the box starts at the edge
    // (int)(v + 0.5) truncates toward zero, as Pillow's C cast; negatives clamp to 0 either way.
    const int64_t lo = std::max<int64_t>(int64_t(center - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(int64_t(center + support + 0.5), in_size);
    const int64_t n = hi - lo;
    double sum = 0.0;
    for (int64_t t = 0; t < n; ++t) {
      const double x = std::abs((double(t + lo) - center + 0.5) * inv_filter_scale);
      w[size_t(t)] = x < 1.0 ? 1.0 - x : 0.0;
      sum += w[size_t(t)];
    }
    for (int64_t t = 0; t < n; ++t) {
      const double k = sum != 0.0 ? w[size_t(t)] / sum : w[size_t(t)];
      const double scaled = k * double(1 << kPrecisionBits);
      taps.weight[size_t(i * taps.ksize + t)] = int32_t(k < 0 ? -0.5 + scaled : 0.5 + scaled);
    }
    taps.first[size_t(i)] = int32_t(lo);
    taps.count[size_t(i)] = int32_t(n);
  }
  return taps;
}

// Weights are >= 0 and sum to ~2^22, so acc fits an int32 (< 2^31) and is never negative;
// the clamp handles a sum rounded just past 255.
inline uint8_t clip8(int32_t acc) { return uint8_t(std::clamp(acc >> kPrecisionBits, 0, 255)); }

// Rows [row0, row0 + out.height) of `in`, resampled along x. Scalar on purpose: for the
// baseline x86-64 ISA (SSE2 has no 32-bit vector multiply) a variant that transposed bands
// of 8 rows so each tap was a fixed 24-lane vector loop measured 1.6x slower (1080p to
// 256x455, -O3). The channels are spelled out so the sums stay in registers; this loop
// runs 1.2-1.6x faster than Pillow 9.4's own resize on the same machine.
template <int C>
void horizontal_pass(const Image& in, int64_t row0, const AxisTaps& taps, Image& out) {
  const int32_t* first = taps.first.data();
  const int32_t* count = taps.count.data();
  const int32_t* weight = taps.weight.data();
  const int64_t ksize = taps.ksize;
  constexpr int32_t half = 1 << (kPrecisionBits - 1);
  for (int64_t y = 0; y < out.height; ++y) {
    const uint8_t* src = in.row(row0 + y);
    uint8_t* dst = out.row(y);
    for (int64_t x = 0; x < out.width; ++x) {
      const uint8_t* s = src + int64_t(first[x]) * C;
      const int32_t* k = weight + x * ksize;
      const int32_t n = count[x];
      if constexpr (C == 1) {
        int32_t v = half;
        for (int32_t t = 0; t < n; ++t) v += int32_t(s[t]) * k[t];
        dst[x] = clip8(v);
      } else {
        int32_t r = half, g = half, b = half;
        for (int32_t t = 0; t < n; ++t) {
          r += int32_t(s[3 * t]) * k[t];
          g += int32_t(s[3 * t + 1]) * k[t];
          b += int32_t(s[3 * t + 2]) * k[t];
        }
        dst[3 * x] = clip8(r);
        dst[3 * x + 1] = clip8(g);
        dst[3 * x + 2] = clip8(b);
      }
    }
  }
}

// Resampling along y: each output row is a weighted sum of whole input rows, so the inner
// loop runs over a contiguous row of bytes (it vectorises at -O3).
void vertical_pass(const Image& in, const AxisTaps& taps, int64_t row_shift, Image& out) {
  const int64_t n = in.width * in.channels;
  std::vector<int32_t> sums(static_cast<size_t>(n));
  int32_t* __restrict acc = sums.data();
  for (int64_t y = 0; y < out.height; ++y) {
    std::fill(acc, acc + n, 1 << (kPrecisionBits - 1));
    const int32_t* k = taps.weight.data() + y * taps.ksize;
    for (int32_t t = 0; t < taps.count[size_t(y)]; ++t) {
      const uint8_t* __restrict s = in.row(taps.first[size_t(y)] - row_shift + t);
      const int32_t w = k[t];
      for (int64_t i = 0; i < n; ++i) acc[i] += int32_t(s[i]) * w;
    }
    uint8_t* __restrict dst = out.row(y);
    for (int64_t i = 0; i < n; ++i) dst[i] = clip8(acc[i]);
  }
}

// A window of `image` starting at (top, left), which may reach outside it: those pixels are 0.
Image copy_window(const Image& image, int64_t top, int64_t left, int64_t height, int64_t width) {
  Image out(height, width, image.channels);
  const int64_t c = image.channels;
  const int64_t y0 = std::max<int64_t>(0, -top), y1 = std::min(height, image.height - top);
  const int64_t x0 = std::max<int64_t>(0, -left), x1 = std::min(width, image.width - left);
  if (x1 <= x0) return out;
  for (int64_t y = y0; y < y1; ++y)
    std::memcpy(out.row(y) + x0 * c, image.row(top + y) + (left + x0) * c, size_t((x1 - x0) * c));
  return out;
}

}  // namespace

// ImagingResampleInner: the horizontal pass first, on only the rows the vertical pass will
// read, then the vertical pass. An axis whose size does not change is skipped (as PIL does;
// at scale 1 the taps are (1, 0), an exact copy, so this only saves the work).
Image resize(const Image& image, int64_t height, int64_t width) {
  check_image(image, "resize");
  HONE_CHECK(height > 0 && width > 0, "resize: output size ", height, "x", width, " must be positive (image ",
             image.height, "x", image.width, ")");
  const bool need_horizontal = width != image.width, need_vertical = height != image.height;
  if (!need_horizontal && !need_vertical) return image;

  const AxisTaps vertical = bilinear_taps(image.height, height);
  const int64_t row_first = vertical.first.front();
  const int64_t row_last = int64_t(vertical.first.back()) + vertical.count.back();

  Image narrowed;
  const Image* src = &image;
  int64_t row_shift = 0;
  if (need_horizontal) {
    const AxisTaps horizontal = bilinear_taps(image.width, width);
    narrowed = Image(row_last - row_first, width, image.channels);
    if (image.channels == 3)
      horizontal_pass<3>(image, row_first, horizontal, narrowed);
    else
      horizontal_pass<1>(image, row_first, horizontal, narrowed);
    if (!need_vertical) return narrowed;
    src = &narrowed;
    row_shift = row_first;
  }
  Image out(height, width, image.channels);
  vertical_pass(*src, vertical, row_shift, out);
  return out;
}

// torchvision's F.resized_crop crops first, then resizes the crop: pixels outside the box
// never enter the filter (PIL's resize(box=...) would let them in at the box's edges).
Image resized_crop(const Image& image, const Rect& box, int64_t height, int64_t width) {
  return resize(crop(image, box), height, width);
}

Image resize_shorter(const Image& image, int64_t size) {
  check_image(image, "resize_shorter");
  HONE_CHECK(size > 0, "resize_shorter: size ", size, " must be positive");
  const bool wide = image.width > image.height;  // torchvision: short = w when w <= h
  const int64_t shorter = wide ? image.height : image.width, longer = wide ? image.width : image.height;
  // Python's int(size * long / short): exact integer product, one correctly rounded division, truncation.
  const int64_t new_long = int64_t(double(size * longer) / double(shorter));
  return wide ? resize(image, size, new_long) : resize(image, new_long, size);
}

// torchvision pads (zeros; (d // 2) before, the rest after) an axis shorter than the crop,
// so that axis' crop starts at the padding; a longer axis starts at round((H - h) / 2) with
// Python's round (half to even: 8.5 -> 8), which std::nearbyint matches in the default mode.
Image center_crop(const Image& image, int64_t height, int64_t width) {
  check_image(image, "center_crop");
  HONE_CHECK(height > 0 && width > 0, "center_crop: crop ", height, "x", width, " must be positive");
  auto start = [](int64_t size, int64_t crop) {
    return crop > size ? -((crop - size) / 2) : int64_t(std::nearbyint(double(size - crop) / 2.0));
  };
  return copy_window(image, start(image.height, height), start(image.width, width), height, width);
}

Image crop(const Image& image, const Rect& rect) {
  check_image(image, "crop");
  HONE_CHECK(rect.height > 0 && rect.width > 0 && rect.top >= 0 && rect.left >= 0 &&
                 rect.top + rect.height <= image.height && rect.left + rect.width <= image.width,
             "crop: rect (top ", rect.top, ", left ", rect.left, ", ", rect.height, "x", rect.width,
             ") does not lie inside the ", image.height, "x", image.width, " image");
  return copy_window(image, rect.top, rect.left, rect.height, rect.width);
}

Image hflip(const Image& image) {
  check_image(image, "hflip");
  Image out(image.height, image.width, image.channels);
  const int64_t c = image.channels, w = image.width;
  for (int64_t y = 0; y < image.height; ++y) {
    const uint8_t* src = image.row(y);
    uint8_t* dst = out.row(y);
    for (int64_t x = 0; x < w; ++x)
      for (int64_t k = 0; k < c; ++k) dst[(w - 1 - x) * c + k] = src[x * c + k];
  }
  return out;
}

namespace {
void check_scale_ratio(const char* op, std::array<double, 2> scale, std::array<double, 2> ratio) {
  HONE_CHECK(scale[0] > 0 && scale[0] <= scale[1], op, ": scale (", scale[0], ", ", scale[1],
             ") must be positive and ordered (min <= max)");
  HONE_CHECK(ratio[0] > 0 && ratio[0] <= ratio[1], op, ": ratio (", ratio[0], ", ", ratio[1],
             ") must be positive and ordered (min <= max)");
}
}  // namespace

// Draw order, per try: uniform (area scale), uniform (log aspect ratio); on success randint
// (top) then randint (left). Rounding is Python's round (half to even), as torchvision's.
Rect random_resized_crop_params(int64_t height, int64_t width, std::array<double, 2> scale,
                                std::array<double, 2> ratio, SampleRng& rng) {
  HONE_CHECK(height > 0 && width > 0, "random_resized_crop_params: empty image ", height, "x", width);
  check_scale_ratio("random_resized_crop_params", scale, ratio);
  const double area = double(height * width);
  const double log_lo = std::log(ratio[0]), log_hi = std::log(ratio[1]);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(scale[0], scale[1]);
    const double aspect = std::exp(rng.uniform(log_lo, log_hi));
    const int64_t w = int64_t(std::nearbyint(std::sqrt(target_area * aspect)));
    const int64_t h = int64_t(std::nearbyint(std::sqrt(target_area / aspect)));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.randint(0, height - h + 1);
      const int64_t left = rng.randint(0, width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: the largest centred crop whose aspect ratio is clamped into [ratio].
  const double in_ratio = double(width) / double(height);
  int64_t w = width, h = height;
  if (in_ratio < ratio[0])
    h = int64_t(std::nearbyint(double(w) / ratio[0]));
  else if (in_ratio > ratio[1])
    w = int64_t(std::nearbyint(double(h) * ratio[1]));
  return {(height - h) / 2, (width - w) / 2, h, w};
}

Image to_channels(const Image& image, int64_t channels) {
  check_image(image, "to_channels");
  HONE_CHECK(channels == 1 || channels == 3, "to_channels: channels must be 1 or 3, not ", channels);
  if (channels == image.channels) return image;
  Image out(image.height, image.width, channels);
  const int64_t n = image.height * image.width;
  const uint8_t* src = image.pixels.data();
  uint8_t* dst = out.pixels.data();
  if (channels == 3) {
    for (int64_t i = 0; i < n; ++i) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i];
  } else {  // PIL's ITU-R 601-2 luma in 16-bit fixed point; the weights sum to 65536
    for (int64_t i = 0; i < n; ++i)
      dst[i] = uint8_t((src[3 * i] * 19595 + src[3 * i + 1] * 38470 + src[3 * i + 2] * 7471 + 0x8000) >> 16);
  }
  return out;
}

// torchvision computes float(u8) / 255 and then (x - mean) / std, each a float32 IEEE op with
// mean and std rounded to float32 first; a 256-entry table per channel holds exactly those
// values (the golden test checks all 256 levels bitwise against torchvision).
void to_tensor_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std,
                          float* out) {
  check_image(image, "to_tensor_normalized");
  HONE_CHECK(int64_t(mean.size()) == image.channels && int64_t(std.size()) == image.channels,
             "to_tensor_normalized: mean has ", mean.size(), " and std ", std.size(), " values for a ",
             image.channels, "-channel image");
  const int64_t c_count = image.channels, n = image.height * image.width;
  for (int64_t c = 0; c < c_count; ++c) {
    const float m = float(mean[size_t(c)]), s = float(std[size_t(c)]);
    HONE_CHECK(s != 0.0f, "to_tensor_normalized: std[", c, "] is 0 (as float32)");
    float table[256];
    for (int v = 0; v < 256; ++v) {
      const float x = float(v) / 255.0f;
      table[v] = (x - m) / s;
    }
    const uint8_t* src = image.pixels.data() + c;
    float* dst = out + c * n;
    for (int64_t i = 0; i < n; ++i) dst[i] = table[src[i * c_count]];
  }
}

// ---------------------------------------------------------------- the per-sample pipeline

Transform::Transform(TransformOptions options) : opts_(std::move(options)) {
  const auto& o = opts_;
  HONE_CHECK(o.crop > 0, "Transform: crop must be positive, not ", o.crop);
  HONE_CHECK(o.resize >= 0, "Transform: resize must be >= 0 (0: no resize), not ", o.resize);
  HONE_CHECK(o.channels == 1 || o.channels == 3, "Transform: channels must be 1 or 3, not ", o.channels);
  HONE_CHECK(int64_t(o.mean.size()) == o.channels, "Transform: mean has ", o.mean.size(), " values for ",
             o.channels, " channels");
  HONE_CHECK(int64_t(o.std.size()) == o.channels, "Transform: std has ", o.std.size(), " values for ",
             o.channels, " channels");
  for (size_t c = 0; c < o.std.size(); ++c)
    HONE_CHECK(float(o.std[c]) != 0.0f && std::isfinite(o.std[c]), "Transform: std[", c, "] = ", o.std[c],
               " (must be finite and non-zero as float32)");
  check_scale_ratio("Transform", o.scale, o.ratio);
}

int64_t Transform::output_numel() const { return opts_.channels * opts_.crop * opts_.crop; }

DecodeOptions Transform::decode_options() const {
  DecodeOptions d;
  if (opts_.train) d.min_short_side = opts_.crop;
  return d;
}

// Evaluation: [resize_shorter] -> center_crop -> to_channels -> normalize (no draws).
// Training: random_resized_crop_params (its draws) -> resized_crop -> [one uniform() < 0.5:
// hflip, drawn only when flip is on] -> to_channels -> normalize. Channels are converted
// last, on the small crop; grey -> RGB commutes with the geometry exactly.
void Transform::apply(const Image& image, uint64_t seed, int64_t epoch, int64_t index, float* out) const {
  check_image(image, "Transform::apply");
  Image img;
  if (!opts_.train) {
    img = opts_.resize > 0 ? center_crop(resize_shorter(image, opts_.resize), opts_.crop, opts_.crop)
                           : center_crop(image, opts_.crop, opts_.crop);
  } else {
    SampleRng rng(seed, epoch, index);
    const Rect box = random_resized_crop_params(image.height, image.width, opts_.scale, opts_.ratio, rng);
    img = resized_crop(image, box, opts_.crop, opts_.crop);
    if (opts_.flip && rng.uniform() < 0.5) img = hflip(img);
  }
  if (img.channels != opts_.channels) img = to_channels(img, opts_.channels);
  to_tensor_normalized(img, opts_.mean, opts_.std, out);
}

}  // namespace hone::io
