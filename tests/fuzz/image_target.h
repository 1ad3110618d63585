#pragma once
// Image decoder target: what the data pipeline does with a file. The input is decoded from
// memory at full size (evaluation) and with DCT scaling (training, min_short_side 1), and
// its header probed from a file (how data sets size their images). A decoded image is
// 3-channel with height*width*3 bytes; the scaled decode is no larger than the full one;
// the probe gives the full decode's size. PNG inputs are decoded a second time with every
// chunk CRC made right, so mutations reach the chunk contents instead of stopping at a CRC
// check. Seeds: tests/fuzz/corpus/image (make_seeds.py: JPEG baseline, progressive, grey,
// CMYK, EXIF orientations, restart markers; PNG palette, tRNS, 16-bit, interlaced, ...).
#include <cstring>

#include "fuzz/fuzz_util.h"
#include "io/image.h"

namespace hone::fuzz {

inline void check_decoded(const io::Image& im, const char* how) {
  if (im.height <= 0 || im.width <= 0 || im.channels != 3 ||
      im.pixels.size() != size_t(im.height) * size_t(im.width) * 3)
    bug(std::string(how) + " decode gave " + std::to_string(im.height) + " x " + std::to_string(im.width) + " x " +
        std::to_string(im.channels) + " with " + std::to_string(im.pixels.size()) + " bytes");
}

// Decodes and checks one input; true when the full decode succeeded.
inline bool decode_and_check(const uint8_t* data, size_t size) {
  io::Image full;
  try {
    full = io::decode_image(data, size, "fuzz");
  } catch (const Error& e) {
    refused(e);
    full = io::Image();
  }
  if (full.height) check_decoded(full, "full-size");
  try {
    const io::Image scaled = io::decode_image(data, size, "fuzz", {.min_short_side = 1});
    check_decoded(scaled, "DCT-scaled");
    if (full.height && (scaled.height > full.height || scaled.width > full.width)) bug("a scaled decode is larger");
  } catch (const Error& e) {
    refused(e);
  }
  if (!full.height) return false;
  const fs::path path = Scratch::get().file("input.img");
  write_file(path, data, size);
  const io::ImageInfo info = io::probe_image(path);  // a hone::Error here escapes: the file decoded
  if (info.height != full.height || info.width != full.width)
    bug("probe_image gives " + std::to_string(info.height) + " x " + std::to_string(info.width) + ", decoding gives " +
        std::to_string(full.height) + " x " + std::to_string(full.width));
  return true;
}

inline uint32_t png_crc(const uint8_t* p, size_t n) {  // CRC-32 as PNG (and zlib) define it
  uint32_t c = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    c ^= p[i];
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
  }
  return ~c;
}

// The PNG with every chunk's CRC recomputed, or empty when `data` is not a PNG or all were right.
inline std::vector<uint8_t> with_png_crcs_fixed(const uint8_t* data, size_t size) {
  if (io::sniff_image_format(data, size) != io::ImageFormat::Png) return {};
  std::vector<uint8_t> out(data, data + size);
  bool changed = false;
  for (size_t pos = 8; pos + 12 <= out.size();) {
    const uint8_t* p = out.data() + pos;
    const size_t length = size_t(p[0]) << 24 | size_t(p[1]) << 16 | size_t(p[2]) << 8 | p[3];
    if (length > out.size() - pos - 12) break;
    const uint32_t crc = png_crc(p + 4, length + 4);
    uint8_t* c = out.data() + pos + 8 + length;
    const uint8_t want[4] = {uint8_t(crc >> 24), uint8_t(crc >> 16), uint8_t(crc >> 8), uint8_t(crc)};
    if (std::memcmp(c, want, 4) != 0) std::memcpy(c, want, 4), changed = true;
    pos += 12 + length;
  }
  return changed ? out : std::vector<uint8_t>();
}

inline bool image_target(const uint8_t* data, size_t size) {
  bool accepted = decode_and_check(data, size);
  if (const std::vector<uint8_t> fixed = with_png_crcs_fixed(data, size); !fixed.empty())
    accepted = decode_and_check(fixed.data(), fixed.size()) || accepted;
  return accepted;
}

}  // namespace hone::fuzz
