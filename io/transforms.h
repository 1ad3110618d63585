#pragma once
// Image transforms with torchvision's semantics (torchvision 0.14 on PIL images), so a
// network pretrained with torchvision's preprocessing sees the same numbers here:
//   evaluation:  Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize(mean, std)
//   training:    RandomResizedCrop(224, scale, ratio) -> RandomHorizontalFlip -> ToTensor -> Normalize
// Geometry works on 8-bit images exactly as PIL does it (its fixed-point separable
// resampling with the antialiased bilinear filter), then to_tensor makes CHW float.
//
// Randomness: every random draw for a sample comes from SampleRng(seed, epoch, index), a
// pure function of those three numbers, so results do not depend on thread count or order.
#include <array>
#include <cstdint>
#include <vector>

#include "io/image.h"

namespace hone::io {

// Counter-based per-sample random numbers: Philox keyed by splitmix64(seed, epoch), with
// the counter (index << 20 | block), so two samples of an epoch never share numbers.
class SampleRng {
 public:
  SampleRng(uint64_t seed, int64_t epoch, int64_t index);
  double uniform();                               // [0, 1)
  double uniform(double lo, double hi);           // [lo, hi)
  int64_t randint(int64_t lo, int64_t hi);        // [lo, hi), hi > lo

 private:
  uint64_t seed_, stream_, counter_ = 0;
  std::array<uint32_t, 4> block_{};
  int used_ = 4;
};

struct Rect {
  int64_t top = 0, left = 0, height = 0, width = 0;
};

// PIL Image.resize(size, BILINEAR) (antialiased: the filter widens when shrinking).
Image resize(const Image& image, int64_t height, int64_t width);
// torchvision F.resized_crop: crop(box), then resize (not PIL's resize(box=...), whose
// filter also reads pixels just outside the box).
Image resized_crop(const Image& image, const Rect& box, int64_t height, int64_t width);
// torchvision Resize(size) with an int: the shorter side becomes `size`, the longer
// int(size * long / short) (truncated, as torchvision 0.14).
Image resize_shorter(const Image& image, int64_t size);
// torchvision CenterCrop: top = int(round((H - h) / 2.0)), left likewise; pads with zeros
// when the crop is larger than the image (as torchvision).
Image center_crop(const Image& image, int64_t height, int64_t width);
Image crop(const Image& image, const Rect& rect);  // rect must lie inside the image
Image hflip(const Image& image);
// torchvision RandomResizedCrop.get_params: 10 tries of (area scale, log-uniform ratio),
// then the centre crop fallback with the ratio clamped.
Rect random_resized_crop_params(int64_t height, int64_t width, std::array<double, 2> scale,
                                std::array<double, 2> ratio, SampleRng& rng);
// Grey <-> RGB: grey to RGB repeats the channel; RGB to grey is PIL's convert("L")
// (L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16).
Image to_channels(const Image& image, int64_t channels);

// ToTensor + Normalize: out[c][y][x] = (pixel / 255 - mean[c]) / std[c], CHW, float32.
// `out` holds channels*height*width floats.
void to_tensor_normalized(const Image& image, const std::vector<double>& mean, const std::vector<double>& std,
                          float* out);

// The whole per-sample pipeline, as a value the loader and the command line share.
struct TransformOptions {
  int64_t resize = 256;            // evaluation: shorter side before the centre crop (0: none)
  int64_t crop = 224;              // output height and width
  int64_t channels = 3;            // what the model takes; images are converted to it
  std::vector<double> mean = {0.485, 0.456, 0.406};
  std::vector<double> std = {0.229, 0.224, 0.225};
  bool train = false;              // RandomResizedCrop + flip instead of resize + centre crop
  std::array<double, 2> scale = {0.08, 1.0};
  std::array<double, 2> ratio = {3.0 / 4.0, 4.0 / 3.0};
  bool flip = true;                // with train
};

class Transform {
 public:
  explicit Transform(TransformOptions options);
  const TransformOptions& options() const { return opts_; }
  // Output floats per sample: channels * crop * crop.
  int64_t output_numel() const;
  // The decode hint for a source image: training may decode a JPEG scaled down as long as
  // the shorter side stays >= crop (RandomResizedCrop then works on the smaller image);
  // evaluation decodes at full size.
  DecodeOptions decode_options() const;
  // Applies the pipeline to one image; the random draws come from (seed, epoch, index).
  void apply(const Image& image, uint64_t seed, int64_t epoch, int64_t index, float* out) const;

 private:
  TransformOptions opts_;
};

}  // namespace hone::io
