#pragma once
// Images in: JPEG (libjpeg-turbo) and PNG (libpng) decoded to 8-bit pixels, rows top to
// bottom, channels interleaved (HWC). Every colour type becomes RGB: grey, grey+alpha,
// palette, RGBA (alpha dropped, as PIL's convert("RGB")), CMYK and YCCK JPEGs (always
// taken as Adobe's inverted CMYK, as PIL), 16-bit colour PNG (high byte, as PIL), 16-bit
// grey PNG (values clipped to 255, as PIL's mode "I" -> RGB). EXIF orientation (JPEG APP1,
// read with libexif) is applied, so the image is upright as a viewer shows it (PIL's
// exif_transpose; torchvision's default loader does not apply it).
//
// A corrupt, truncated, empty or non-JPEG/PNG file (a GIF, say) is a hone::Error naming the
// file and what is wrong; libjpeg's and libpng's warnings about damaged data are errors too,
// never grey or half-decoded pixels.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace hone::io {

struct Image {
  int64_t height = 0, width = 0, channels = 0;  // channels: 3 (RGB) or 1 (grey, e.g. IDX data)
  std::vector<uint8_t> pixels;                   // height * width * channels bytes, HWC

  Image() = default;
  Image(int64_t h, int64_t w, int64_t c) : height(h), width(w), channels(c), pixels(size_t(h * w * c)) {}
  uint8_t* row(int64_t y) { return pixels.data() + y * width * channels; }
  const uint8_t* row(int64_t y) const { return pixels.data() + y * width * channels; }
};

struct DecodeOptions {
  // The shorter side (after EXIF rotation) the caller still needs. When > 0 a JPEG at
  // least twice that size is decoded with libjpeg's DCT scaling (1/2, 1/4 or 1/8: the
  // smallest that keeps the shorter side >= min_short_side), which costs a fraction of a
  // full decode. 0: full size (evaluation and predict, so pixels equal PIL's).
  int64_t min_short_side = 0;
};

enum class ImageFormat { Unknown, Jpeg, Png };
// From the first bytes (magic numbers), not the file name.
ImageFormat sniff_image_format(const uint8_t* data, size_t size);

// `name` is what errors call the data (usually the file path).
Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options = {});
Image read_image(const std::filesystem::path& path, const DecodeOptions& options = {});

// Width and height (after EXIF rotation) from the header alone, without decoding pixels;
// throws like decode_image on a file that is not a JPEG or PNG or whose header is bad.
struct ImageInfo {
  int64_t height = 0, width = 0;
  ImageFormat format = ImageFormat::Unknown;
};
ImageInfo probe_image(const std::filesystem::path& path);

// 8-bit PNG (grey or RGB as `image.channels`): for tools, tests and the demo's samples.
void write_png(const Image& image, const std::filesystem::path& path);
// Baseline JPEG at `quality` (tests make their inputs with it).
std::vector<uint8_t> encode_jpeg(const Image& image, int quality = 95);

}  // namespace hone::io
