// Image decoding (io/image.h). Inputs are made here: encode_jpeg / write_png for the plain
// cases, and small libpng / libjpeg writers for what those cannot make (every PNG colour
// type and bit depth, interlacing, CMYK and YCCK JPEGs), plus a hand-built EXIF segment.
// Expected pixels follow PIL's Image.open(f).convert("RGB") after ImageOps.exif_transpose;
// the pixel-exact comparison with PIL itself was made outside the suite (io/image.cpp says how it came out).
#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>

#include <jpeglib.h>
#include <png.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "io/image.h"
#include "test_util.h"

namespace hone {
namespace {

namespace fs = std::filesystem;
using io::decode_image;
using io::DecodeOptions;
using io::Image;
using io::ImageFormat;
using test::expect_error;

struct TempDir : test::TempDir {
  std::string write(const std::string& name, const std::vector<uint8_t>& bytes) const {
    const std::string p = (path / name).string();
    std::ofstream(p, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    return p;
  }
};

Image decode(const std::vector<uint8_t>& bytes, const DecodeOptions& options = {}) {
  return decode_image(bytes.data(), bytes.size(), "test", options);
}

// A smooth gradient, different in each channel: JPEG keeps it within a few levels.
Image gradient(int64_t h, int64_t w, int64_t channels) {
  Image im(h, w, channels);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t along_x = x * 255 / std::max<int64_t>(w - 1, 1), along_y = y * 255 / std::max<int64_t>(h - 1, 1);
      for (int64_t c = 0; c < channels; ++c)
        im.row(y)[x * channels + c] = uint8_t((along_x * (c + 1) + along_y * (2 - c)) / 3);
    }
  return im;
}

double mean_abs_error(const Image& a, const Image& b) {
  EXPECT_EQ(a.pixels.size(), b.pixels.size());
  double sum = 0;
  for (size_t i = 0; i < std::min(a.pixels.size(), b.pixels.size()); ++i)
    sum += std::abs(int(a.pixels[i]) - int(b.pixels[i]));
  return sum / double(std::max<size_t>(a.pixels.size(), 1));
}

// ---------------------------------------------------------------- test writers

// A PNG of any colour type and depth from one value per sample (palette: one index per
// pixel).
struct PngSpec {
  int width = 0, height = 0, colour = PNG_COLOR_TYPE_RGB, depth = 8;
  bool interlace = false, gamma = false;  // gamma: add a gAMA chunk (ancillary), which PIL ignores
  std::vector<int> samples;
  std::vector<png_color> palette;
  std::vector<uint8_t> palette_alpha;  // tRNS for a palette
  bool colour_key = false;             // tRNS for grey / RGB: the first pixel's value
};

int samples_per_pixel(int colour) {
  switch (colour) {
    case PNG_COLOR_TYPE_GRAY: case PNG_COLOR_TYPE_PALETTE: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    default: return 4;
  }
}

std::vector<uint8_t> make_png(const PngSpec& s) {
  std::vector<uint8_t> out;
  const int spp = samples_per_pixel(s.colour);
  const size_t row_bytes = (size_t(s.width) * spp * s.depth + 7) / 8;
  std::vector<uint8_t> packed(row_bytes * s.height);
  for (int y = 0; y < s.height; ++y)
    for (int i = 0; i < s.width * spp; ++i) {
      const int v = s.samples[size_t(y) * s.width * spp + i];
      uint8_t* row = packed.data() + y * row_bytes;
      if (s.depth == 16) {
        row[2 * i] = uint8_t(v >> 8);
        row[2 * i + 1] = uint8_t(v);
      } else {  // most significant bits first
        const int bit = i * s.depth;
        row[bit / 8] |= uint8_t(v << (8 - s.depth - bit % 8));
      }
    }
  std::vector<png_bytep> rows(s.height);
  for (int y = 0; y < s.height; ++y) rows[y] = packed.data() + y * row_bytes;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    ADD_FAILURE() << "libpng could not write the test PNG";
    png_destroy_write_struct(&png, &info);
    return {};
  }
  png_set_write_fn(png, &out, [](png_structp p, png_bytep d, size_t n) {
    auto* o = static_cast<std::vector<uint8_t>*>(png_get_io_ptr(p));
    o->insert(o->end(), d, d + n);
  }, nullptr);
  png_set_IHDR(png, info, s.width, s.height, s.depth, s.colour, s.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  if (!s.palette.empty()) png_set_PLTE(png, info, s.palette.data(), int(s.palette.size()));
  if (!s.palette_alpha.empty()) png_set_tRNS(png, info, s.palette_alpha.data(), int(s.palette_alpha.size()), nullptr);
  if (s.colour_key) {
    png_color_16 key{};
    key.gray = png_uint_16(s.samples[0]);
    key.red = png_uint_16(s.samples[0]);
    key.green = png_uint_16(s.samples[1 % s.samples.size()]);
    key.blue = png_uint_16(s.samples[2 % s.samples.size()]);
    png_set_tRNS(png, info, nullptr, 0, &key);
  }
  if (s.gamma) png_set_gAMA(png, info, 1 / 2.2);
  png_write_info(png, info);
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// One PNG chunk: length, type, data, CRC.
void append_chunk(std::vector<uint8_t>& png, const char* type, const std::vector<uint8_t>& data) {
  const uint32_t n = uint32_t(data.size());
  png.insert(png.end(), {uint8_t(n >> 24), uint8_t(n >> 16), uint8_t(n >> 8), uint8_t(n)});
  const size_t start = png.size();
  png.insert(png.end(), type, type + 4);
  png.insert(png.end(), data.begin(), data.end());
  const uint32_t crc = uint32_t(crc32(crc32(0, nullptr, 0), png.data() + start, uInt(png.size() - start)));
  png.insert(png.end(), {uint8_t(crc >> 24), uint8_t(crc >> 16), uint8_t(crc >> 8), uint8_t(crc)});
}

// What PIL's convert("RGB") gives for one pixel of `s`.
std::array<uint8_t, 3> pil_rgb(const PngSpec& s, size_t pixel) {
  const int spp = samples_per_pixel(s.colour);
  const int* v = &s.samples[pixel * spp];
  auto eight_bit = [&](int x) {
    if (s.depth == 16) return uint8_t(x >> 8);  // PIL's ";16B" raw modes keep the high byte
    return uint8_t(x * 255 / ((1 << s.depth) - 1));
  };
  switch (s.colour) {
    case PNG_COLOR_TYPE_GRAY: {
      // 16-bit grey opens as mode "I"; PIL 9.4's convert("RGB") clips it to 0..255.
      const uint8_t g = s.depth == 16 ? uint8_t(std::min(v[0], 255)) : eight_bit(v[0]);
      return {g, g, g};
    }
    case PNG_COLOR_TYPE_GRAY_ALPHA: return {eight_bit(v[0]), eight_bit(v[0]), eight_bit(v[0])};
    case PNG_COLOR_TYPE_PALETTE: {
      const png_color c = s.palette[size_t(v[0])];
      return {c.red, c.green, c.blue};
    }
    default: return {eight_bit(v[0]), eight_bit(v[1]), eight_bit(v[2])};
  }
}

// Random samples covering each depth's extremes, with values around 255 for 16-bit ones.
PngSpec random_png(int colour, int depth, int width, int height, uint32_t seed) {
  PngSpec s;
  s.width = width, s.height = height, s.colour = colour, s.depth = depth;
  std::mt19937 rng(seed);
  const int spp = samples_per_pixel(colour);
  if (colour == PNG_COLOR_TYPE_PALETTE) {
    const int entries = std::min(1 << depth, 200);
    for (int i = 0; i < entries; ++i) s.palette.push_back({uint8_t(rng()), uint8_t(rng()), uint8_t(rng())});
    s.samples.resize(size_t(width) * height);
    for (auto& v : s.samples) v = int(rng() % entries);
    return s;
  }
  const int max = (1 << depth) - 1;
  const int specials[] = {0, max, 1, 254, 255, 256, 257, 1000};
  s.samples.resize(size_t(width) * height * spp);
  for (size_t i = 0; i < s.samples.size(); ++i)
    s.samples[i] = i < 8 ? std::min(specials[i], max) : int(rng() % (uint32_t(max) + 1));
  return s;
}

void expect_png_decodes_as_pil(const PngSpec& s, const std::string& label) {
  SCOPED_TRACE(label);
  const Image im = decode(make_png(s));
  ASSERT_EQ(im.height, s.height);
  ASSERT_EQ(im.width, s.width);
  ASSERT_EQ(im.channels, 3);
  int wrong = 0;
  for (size_t p = 0; p < size_t(s.width) * s.height; ++p) {
    const auto want = pil_rgb(s, p);
    for (int c = 0; c < 3; ++c)
      if (im.pixels[3 * p + c] != want[c] && wrong++ < 5)
        ADD_FAILURE() << "pixel " << p << " channel " << c << ": " << int(im.pixels[3 * p + c]) << " != "
                      << int(want[c]);
  }
}

// A JPEG from libjpeg directly, for what encode_jpeg cannot make: CMYK and YCCK (libjpeg
// adds the Adobe marker; the caller stores inverted samples, as Adobe does) and progressive.
std::vector<uint8_t> make_jpeg(const std::vector<uint8_t>& samples, int width, int height, J_COLOR_SPACE in_space,
                               J_COLOR_SPACE jpeg_space, bool progressive = false) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = JDIMENSION(width), c.image_height = JDIMENSION(height);
  c.input_components = in_space == JCS_CMYK ? 4 : 3, c.in_color_space = in_space;
  jpeg_set_defaults(&c);
  jpeg_set_colorspace(&c, jpeg_space);
  jpeg_set_quality(&c, progressive ? 95 : 100, TRUE);
  if (progressive) jpeg_simple_progression(&c);
  jpeg_start_compress(&c, TRUE);
  for (int y = 0; y < height; ++y) {
    JSAMPROW r = const_cast<uint8_t*>(&samples[size_t(y) * width * c.input_components]);
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  std::vector<uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  jpeg_destroy_compress(&c);
  return out;
}

// "Exif\0\0" + a TIFF header + IFD0 with one entry: Orientation (0x0112), SHORT, count 1.
std::vector<uint8_t> exif_payload(int orientation, bool big_endian = false) {
  std::vector<uint8_t> p = {'E', 'x', 'i', 'f', 0, 0};
  auto u16 = [&](int v) {
    const uint8_t hi = uint8_t(v >> 8), lo = uint8_t(v);
    p.insert(p.end(), big_endian ? std::initializer_list<uint8_t>{hi, lo} : std::initializer_list<uint8_t>{lo, hi});
  };
  auto u32 = [&](int v) { big_endian ? (u16(v >> 16), u16(v & 0xffff)) : (u16(v & 0xffff), u16(v >> 16)); };
  p.push_back(big_endian ? 'M' : 'I');
  p.push_back(big_endian ? 'M' : 'I');
  u16(42), u32(8);                         // TIFF magic, IFD0 right after the header
  u16(1);                                  // one entry
  u16(0x0112), u16(3), u32(1), u16(orientation), u16(0);  // the value, left-justified
  u32(0);                                  // no next IFD
  return p;
}

// The JPEG with an APP1 segment holding `payload` right after SOI.
std::vector<uint8_t> with_app1(const std::vector<uint8_t>& jpeg, const std::vector<uint8_t>& payload) {
  const size_t length = payload.size() + 2;
  std::vector<uint8_t> out = {jpeg[0], jpeg[1], 0xFF, 0xE1, uint8_t(length >> 8), uint8_t(length)};
  out.reserve(out.size() + payload.size() + jpeg.size() - 2);
  for (uint8_t b : payload) out.push_back(b);  // push_back, not insert: GCC 12 misreads the
  for (size_t i = 2; i < jpeg.size(); ++i) out.push_back(jpeg[i]);  // inlined memcpy's bounds
  return out;
}

// 64 wide, 32 high: red block top-left, green top-right, blue bottom-left, grey elsewhere.
Image corner_pattern() {
  Image im(32, 64, 3);
  for (int64_t y = 0; y < 32; ++y)
    for (int64_t x = 0; x < 64; ++x) {
      uint8_t* p = im.row(y) + 3 * x;
      const bool top = y < 16, left = x < 16, right = x >= 48;
      p[0] = top && left ? 255 : 128;
      p[1] = top && right ? 255 : 128;
      p[2] = !top && left ? 255 : 128;
    }
  return im;
}

// Which pattern corner block (0 red, 1 green, 2 blue) is brightest at the given point.
int block_at(const Image& im, int64_t y, int64_t x) {
  const uint8_t* p = im.row(y) + 3 * x;
  for (int c = 0; c < 3; ++c)
    if (p[c] > 200) return c;
  return -1;
}

// ---------------------------------------------------------------- format and PNG

TEST(Image, SniffsFormatFromMagicBytes) {
  const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0}, png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  const uint8_t gif[] = {'G', 'I', 'F', '8', '9', 'a'};
  EXPECT_EQ(io::sniff_image_format(jpeg, 4), ImageFormat::Jpeg);
  EXPECT_EQ(io::sniff_image_format(png, 8), ImageFormat::Png);
  EXPECT_EQ(io::sniff_image_format(png, 7), ImageFormat::Unknown);  // a prefix is not enough
  EXPECT_EQ(io::sniff_image_format(jpeg, 2), ImageFormat::Unknown);
  EXPECT_EQ(io::sniff_image_format(gif, 6), ImageFormat::Unknown);
  EXPECT_EQ(io::sniff_image_format(nullptr, 0), ImageFormat::Unknown);
}

TEST(Image, EveryPngColourTypeAndDepthDecodesToPilRgb) {
  struct Case { int colour, depth; };
  const Case cases[] = {{PNG_COLOR_TYPE_GRAY, 1},       {PNG_COLOR_TYPE_GRAY, 2},       {PNG_COLOR_TYPE_GRAY, 4},
                        {PNG_COLOR_TYPE_GRAY, 8},       {PNG_COLOR_TYPE_GRAY, 16},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8},
                        {PNG_COLOR_TYPE_GRAY_ALPHA, 16}, {PNG_COLOR_TYPE_RGB, 8},       {PNG_COLOR_TYPE_RGB, 16},
                        {PNG_COLOR_TYPE_PALETTE, 1},    {PNG_COLOR_TYPE_PALETTE, 2},    {PNG_COLOR_TYPE_PALETTE, 4},
                        {PNG_COLOR_TYPE_PALETTE, 8},    {PNG_COLOR_TYPE_RGB_ALPHA, 8},  {PNG_COLOR_TYPE_RGB_ALPHA, 16}};
  uint32_t seed = 1;
  for (const Case& c : cases)
    for (bool interlace : {false, true}) {
      PngSpec s = random_png(c.colour, c.depth, 13, 11, seed++);  // odd sizes: every Adam7 pass is partial
      s.interlace = interlace;
      expect_png_decodes_as_pil(s, "colour type " + std::to_string(c.colour) + ", depth " + std::to_string(c.depth) +
                                       (interlace ? ", interlaced" : ""));
    }
}

TEST(Image, PngTransparencyIsDroppedNotBlended) {
  PngSpec palette = random_png(PNG_COLOR_TYPE_PALETTE, 8, 9, 7, 50);
  palette.palette_alpha = {0, 10, 128, 255, 0};
  expect_png_decodes_as_pil(palette, "palette with tRNS");
  for (int colour : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB})
    for (int depth : {8, 16}) {
      PngSpec keyed = random_png(colour, depth, 9, 7, uint32_t(60 + colour + depth));
      keyed.colour_key = true;
      expect_png_decodes_as_pil(keyed,
                                "colour key, type " + std::to_string(colour) + " depth " + std::to_string(depth));
    }
}

TEST(Image, WritePngRoundTripsGreyAndRgb) {
  TempDir dir;
  const Image rgb = gradient(17, 23, 3), grey = gradient(17, 23, 1);
  io::write_png(rgb, dir.path / "rgb.png");
  io::write_png(grey, dir.path / "grey.png");
  const Image rgb_back = io::read_image(dir.path / "rgb.png"), grey_back = io::read_image(dir.path / "grey.png");
  EXPECT_EQ(rgb_back.pixels, rgb.pixels);
  ASSERT_EQ(grey_back.channels, 3);
  for (size_t i = 0; i < grey.pixels.size(); ++i)
    for (int c = 0; c < 3; ++c) ASSERT_EQ(grey_back.pixels[3 * i + c], grey.pixels[i]) << "pixel " << i;
  const io::ImageInfo info = io::probe_image(dir.path / "rgb.png");
  EXPECT_EQ(info.height, 17);
  EXPECT_EQ(info.width, 23);
  EXPECT_EQ(info.format, ImageFormat::Png);
}

// ---------------------------------------------------------------- JPEG

TEST(Image, JpegRgbAndGreyRoundTripWithinJpegError) {
  const Image rgb = gradient(48, 64, 3), grey = gradient(48, 64, 1);
  const Image rgb_back = decode(io::encode_jpeg(rgb, 95));
  ASSERT_EQ(rgb_back.height, 48);
  ASSERT_EQ(rgb_back.width, 64);
  ASSERT_EQ(rgb_back.channels, 3);
  EXPECT_LT(mean_abs_error(rgb_back, rgb), 3.0);
  const Image grey_back = decode(io::encode_jpeg(grey, 95));
  ASSERT_EQ(grey_back.channels, 3);
  Image grey_as_rgb(48, 64, 3);
  for (size_t i = 0; i < grey.pixels.size(); ++i) {
    EXPECT_EQ(grey_back.pixels[3 * i], grey_back.pixels[3 * i + 1]);
    EXPECT_EQ(grey_back.pixels[3 * i], grey_back.pixels[3 * i + 2]);
    for (int c = 0; c < 3; ++c) grey_as_rgb.pixels[3 * i + c] = grey.pixels[i];
  }
  EXPECT_LT(mean_abs_error(grey_back, grey_as_rgb), 2.0);
}

TEST(Image, ProgressiveJpegDecodesAndATruncatedOneIsAnError) {
  const Image rgb = gradient(48, 64, 3);
  const std::vector<uint8_t> jpeg = make_jpeg(rgb.pixels, 64, 48, JCS_RGB, JCS_YCbCr, /*progressive=*/true);
  const Image back = decode(jpeg);
  ASSERT_EQ(back.height, 48);
  ASSERT_EQ(back.width, 64);
  EXPECT_LT(mean_abs_error(back, rgb), 3.0);
  EXPECT_EQ(decode(jpeg, DecodeOptions{.min_short_side = 12}).height, 12);
  // libjpeg reads every scan of a progressive file before the first row, so even a cut
  // that loses only the EOI marker is reported.
  for (size_t n : {jpeg.size() / 2, jpeg.size() - 1})
    expect_error([&] { decode_image(jpeg.data(), n, "prog.jpg"); },
                 {"image 'prog.jpg'", "truncated or corrupt JPEG data (libjpeg: Premature end of JPEG file)"});
}

TEST(Image, CmykAndYcckJpegsDecodeAsPil) {
  // Four flat 16x16 patches; PIL: r = (255 - k) - c * (255 - k) / 255, same for g and b.
  const uint8_t patches[4][4] = {{0, 0, 0, 0}, {200, 40, 0, 0}, {30, 120, 220, 60}, {0, 0, 0, 200}};
  std::vector<uint8_t> adobe(32 * 32 * 4);  // stored inverted
  for (size_t i = 0; i < adobe.size(); ++i) {
    const size_t y = i / 4 / 32, x = i / 4 % 32;
    adobe[i] = uint8_t(255 - patches[(y / 16) * 2 + x / 16][i % 4]);
  }
  for (J_COLOR_SPACE space : {JCS_CMYK, JCS_YCCK}) {
    SCOPED_TRACE(space == JCS_CMYK ? "CMYK" : "YCCK");
    const Image im = decode(make_jpeg(adobe, 32, 32, JCS_CMYK, space));
    ASSERT_EQ(im.channels, 3);
    for (int p = 0; p < 4; ++p) {
      const uint8_t* v = patches[p];
      const int64_t y = (p / 2) * 16 + 8, x = (p % 2) * 16 + 8;  // patch centre
      for (int c = 0; c < 3; ++c) {
        const double want = (255 - v[3]) * (1 - v[c] / 255.0);
        EXPECT_NEAR(im.row(y)[3 * x + c], want, 3) << "patch " << p << " channel " << c;
      }
    }
  }
}

TEST(Image, ExifOrientationMatchesPilExifTranspose) {
  const std::vector<uint8_t> jpeg = io::encode_jpeg(corner_pattern(), 95);
  const Image upright = decode(jpeg);
  ASSERT_EQ(upright.height, 32);
  ASSERT_EQ(upright.width, 64);
  TempDir dir;
  // Where the top-left (red) and top-right (green) corners land, as PIL's exif_transpose
  // puts them: 0 TL, 1 TR, 2 BL, 3 BR.
  const int red_to[9] = {0, 0, 1, 3, 2, 0, 1, 3, 2}, green_to[9] = {0, 1, 0, 2, 3, 2, 3, 1, 0};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE("orientation " + std::to_string(orientation));
    for (bool big_endian : {false, true}) {
      const std::vector<uint8_t> file = with_app1(jpeg, exif_payload(orientation, big_endian));
      const Image im = decode(file);
      const bool swapped = orientation >= 5;
      ASSERT_EQ(im.height, swapped ? 64 : 32);
      ASSERT_EQ(im.width, swapped ? 32 : 64);
      const int64_t corner_y[4] = {4, 4, im.height - 5, im.height - 5};
      const int64_t corner_x[4] = {4, im.width - 5, 4, im.width - 5};
      EXPECT_EQ(block_at(im, corner_y[red_to[orientation]], corner_x[red_to[orientation]]), 0);
      EXPECT_EQ(block_at(im, corner_y[green_to[orientation]], corner_x[green_to[orientation]]), 1);
      // Every pixel is the upright decode's, moved: out(y, x) = upright(sy, sx).
      for (int64_t y = 0; y < im.height; ++y)
        for (int64_t x = 0; x < im.width; ++x) {
          const int64_t h = 32, w = 64;
          int64_t sy = y, sx = x;
          switch (orientation) {
            case 2: sx = w - 1 - x; break;
            case 3: sy = h - 1 - y, sx = w - 1 - x; break;
            case 4: sy = h - 1 - y; break;
            case 5: sy = x, sx = y; break;
            case 6: sy = h - 1 - x, sx = y; break;
            case 7: sy = h - 1 - x, sx = w - 1 - y; break;
            case 8: sy = x, sx = w - 1 - y; break;
          }
          ASSERT_EQ(0, std::memcmp(im.row(y) + 3 * x, upright.row(sy) + 3 * sx, 3)) << "at " << y << "," << x;
        }
      const io::ImageInfo info = io::probe_image(dir.write("o.jpg", file));
      EXPECT_EQ(info.height, im.height);
      EXPECT_EQ(info.width, im.width);
      EXPECT_EQ(info.format, ImageFormat::Jpeg);
    }
  }
  // Values outside 1..8, and a segment that is not EXIF, leave the image as stored.
  for (int bad : {0, 9, 0xffff}) EXPECT_EQ(decode(with_app1(jpeg, exif_payload(bad))).pixels, upright.pixels);
  EXPECT_EQ(decode(with_app1(jpeg, {'X', 'M', 'P', 0, 6, 6, 6, 6})).pixels, upright.pixels);
}

TEST(Image, DctScalingKeepsTheShorterSideAtLeastMinShortSide) {
  const std::vector<uint8_t> jpeg = io::encode_jpeg(gradient(400, 512, 3), 90);
  struct Case { int64_t min_short_side, height, width; };
  // Shorter side 400: 1/8 -> 50, 1/4 -> 100, 1/2 -> 200; 0 or > 200 -> full size.
  for (const Case& c : {Case{0, 400, 512}, Case{1, 50, 64}, Case{50, 50, 64}, Case{51, 100, 128}, Case{100, 100, 128},
                        Case{101, 200, 256}, Case{200, 200, 256}, Case{201, 400, 512}, Case{1000, 400, 512}}) {
    const Image im = decode(jpeg, DecodeOptions{.min_short_side = c.min_short_side});
    EXPECT_EQ(im.height, c.height) << "min_short_side " << c.min_short_side;
    EXPECT_EQ(im.width, c.width) << "min_short_side " << c.min_short_side;
  }
  // libjpeg rounds scaled sides up: 401 / 8 -> 51.
  const Image odd = decode(io::encode_jpeg(gradient(401, 513, 3), 90), DecodeOptions{.min_short_side = 51});
  EXPECT_EQ(odd.height, 51);
  EXPECT_EQ(odd.width, 65);
  // Scaling comes before rotation; the shorter side is the same either way.
  const Image rotated = decode(with_app1(jpeg, exif_payload(6)), DecodeOptions{.min_short_side = 100});
  EXPECT_EQ(rotated.height, 128);
  EXPECT_EQ(rotated.width, 100);
  // PNG has no cheap scaling: always full size.
  PngSpec png = random_png(PNG_COLOR_TYPE_RGB, 8, 40, 30, 7);
  const Image full = decode(make_png(png), DecodeOptions{.min_short_side = 2});
  EXPECT_EQ(full.height, 30);
  EXPECT_EQ(full.width, 40);
}

// ---------------------------------------------------------------- errors

TEST(Image, EmptyAndMissingFilesAreErrorsNamingThePath) {
  TempDir dir;
  const std::string empty = dir.write("empty.jpg", {});
  expect_error([&] { io::read_image(empty); }, {"image '" + empty + "'", "empty file"});
  expect_error([&] { io::probe_image(empty); }, {"image '" + empty + "'", "empty file"});
  const std::string missing = (dir.path / "nope" / "missing.png").string();
  expect_error([&] { io::read_image(missing); }, {"image '" + missing + "'", "no such file"});
  expect_error([&] { io::probe_image(missing); }, {"image '" + missing + "'", "no such file"});
  expect_error([&] { io::read_image(dir.path); }, {dir.path.string(), "is a directory"});
}

TEST(Image, TruncatedJpegIsAnErrorAtEveryLength) {
  TempDir dir;
  const std::vector<uint8_t> jpeg = io::encode_jpeg(gradient(40, 56, 3), 90);
  const std::string half =
      dir.write("half.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + long(jpeg.size() / 2)));
  expect_error([&] { io::read_image(half); },
               {"image '" + half + "'", "truncated or corrupt JPEG data (libjpeg: Premature end of JPEG file)"});
  // Every cut before the last entropy-coded byte (only the 2-byte EOI marker may be missing).
  for (size_t n = 3; n + 2 < jpeg.size(); n += 7)
    expect_error([&] { decode_image(jpeg.data(), n, "cut.jpg"); }, {"image 'cut.jpg'", "JPEG"});
  expect_error([&] { io::probe_image(dir.write("head.jpg", std::vector<uint8_t>(jpeg.begin(), jpeg.begin() + 40))); },
               {"head.jpg", "truncated or corrupt JPEG data"});
}

TEST(Image, TruncatedPngIsAnErrorAtEveryLength) {
  TempDir dir;
  const std::vector<uint8_t> png = make_png(random_png(PNG_COLOR_TYPE_RGB, 8, 20, 15, 3));
  const std::string half = dir.write("half.png", std::vector<uint8_t>(png.begin(), png.begin() + long(png.size() / 2)));
  expect_error([&] { io::read_image(half); },
               {"image '" + half + "'", "truncated or corrupt PNG data (libpng: unexpected end of file)"});
  // IEND (12 bytes) and the last IDAT's CRC may go: the pixels are all there by then.
  for (size_t n = 8; n + 16 < png.size(); n += 5)
    expect_error([&] { decode_image(png.data(), n, "cut.png"); }, {"image 'cut.png'", "truncated or corrupt PNG data"});
}

TEST(Image, CorruptBytesAreErrorsNotGreyPixels) {
  // PNG: a flipped byte in the image data (zlib's check or a filter type catches it), a bad
  // CRC on the image data and, as PIL ("broken PNG file"), on an ancillary chunk.
  PngSpec spec = random_png(PNG_COLOR_TYPE_RGB, 8, 20, 15, 4);
  spec.gamma = true;
  const std::vector<uint8_t> png = make_png(spec);
  auto png_with = [&](size_t at) {
    std::vector<uint8_t> bad = png;
    bad[at] ^= 0x40;
    return bad;
  };
  const size_t idat_crc = png.size() - 12 - 4, gama_crc = 8 + 25 + 8 + 4;  // IEND is 12 bytes; gAMA follows IHDR
  ASSERT_EQ(0, std::memcmp(&png[8 + 25 + 4], "gAMA", 4));
  for (const auto& c : {std::pair{png_with(idat_crc - 10), "truncated or corrupt PNG data (libpng: "},
                        std::pair{png_with(idat_crc), "(libpng: IDAT: CRC error)"},
                        std::pair{png_with(gama_crc), "(libpng: gAMA: CRC error)"}}) {
    const std::vector<uint8_t>& bad = c.first;  // not a structured binding: clang 14 cannot capture one
    expect_error([&] { decode_image(bad.data(), bad.size(), "bad.png"); }, {"image 'bad.png'", c.second});
  }
  // JPEG: a marker in the middle of the entropy-coded data cuts the scan short.
  std::vector<uint8_t> jpeg = io::encode_jpeg(gradient(64, 64, 3), 90);
  size_t scan = 0;
  while (!(jpeg[scan] == 0xFF && jpeg[scan + 1] == 0xDA)) ++scan;
  const size_t mid = (scan + jpeg.size()) / 2;
  jpeg[mid] = 0xFF;
  jpeg[mid + 1] = 0xD3;
  expect_error([&] { decode_image(jpeg.data(), jpeg.size(), "bad.jpg"); },
               {"image 'bad.jpg'", "truncated or corrupt JPEG data (libjpeg: Corrupt JPEG data"});
  // JPEG header: a quantisation table with an impossible index.
  std::vector<uint8_t> header = io::encode_jpeg(gradient(8, 8, 3), 90);
  for (size_t i = 2; i + 4 < header.size(); ++i)
    if (header[i] == 0xFF && header[i + 1] == 0xDB) header[i + 4] = 0x0F;  // precision 0, table 15
  expect_error([&] { decode_image(header.data(), header.size(), "dqt.jpg"); },
               {"image 'dqt.jpg'", "cannot decode JPEG (libjpeg: Bogus DQT index 15)"});
}

TEST(Image, OtherFormatsAndRandomBytesAreRefusedNamingTheFile) {
  TempDir dir;
  const std::vector<uint8_t> gif = {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0x80, 0,  // 1x1, 2-colour palette
                                    0, 0, 0, 0xff, 0xff, 0xff, 0x3b};
  const std::string gif_path = dir.write("anim.jpg", gif);  // the name says JPEG; the bytes decide
  expect_error([&] { io::read_image(gif_path); },
               {"image '" + gif_path + "'", "not a JPEG or PNG file (starts with 'GIF89a\\x01\\x00')"});
  expect_error([&] { io::probe_image(gif_path); }, {"image '" + gif_path + "'", "not a JPEG or PNG file"});
  std::mt19937 rng(9);
  std::vector<uint8_t> noise(1000);
  for (auto& b : noise) b = uint8_t(rng());
  noise[0] = 0x12;
  expect_error([&] { io::read_image(dir.write("noise.png", noise)); },
               {"noise.png", "not a JPEG or PNG file (starts with '"});
  // The magic bytes, then noise.
  std::vector<uint8_t> fake_jpeg = noise, fake_png = noise;
  std::copy_n("\xFF\xD8\xFF", 3, fake_jpeg.begin());
  std::copy_n("\x89PNG\r\n\x1A\n", 8, fake_png.begin());
  expect_error([&] { decode_image(fake_jpeg.data(), fake_jpeg.size(), "fake.jpg"); }, {"image 'fake.jpg'", "JPEG"});
  expect_error([&] { decode_image(fake_png.data(), fake_png.size(), "fake.png"); },
               {"image 'fake.png'", "truncated or corrupt PNG data"});
}

TEST(Image, HugeHeadersAreRefusedBeforeAllocating) {
  TempDir dir;
  // IHDR for 20000 x 20000 RGB (4e8 pixels > 2^28), then a few bytes of image data.
  std::vector<uint8_t> huge = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  append_chunk(huge, "IHDR", {0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20, 8, 2, 0, 0, 0});
  append_chunk(huge, "IDAT", {0x78, 0x9C, 0x63, 0, 0});
  append_chunk(huge, "IEND", {});
  const std::string png = dir.write("huge.png", huge);
  expect_error([&] { io::read_image(png); },
               {"image '" + png + "'", "20000 x 20000 pixels is more than the 178956970", "decompression-bomb"});
  expect_error([&] { io::probe_image(png); }, {"huge.png", "20000 x 20000 pixels"});
  std::vector<uint8_t> jpeg = io::encode_jpeg(gradient(8, 8, 3), 90);
  for (size_t i = 2; i + 8 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xC0)  // SOF0: height, then width, big-endian
      for (size_t k : {5, 6, 7, 8}) jpeg[i + k] = k % 2 ? 0xFF : 0x40;
  expect_error([&] { decode_image(jpeg.data(), jpeg.size(), "huge.jpg"); }, {"huge.jpg", "65344 x 65344 pixels"});
  // 15000 x 15000 passes 2^28 (the old limit) but not PIL's; a fuzzer's 527-byte JPEG of
  // 30464 x 8196 took 12 s to decode.
  std::vector<uint8_t> bomb = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  append_chunk(bomb, "IHDR", {0, 0, 0x3A, 0x98, 0, 0, 0x3A, 0x98, 8, 2, 0, 0, 0});
  append_chunk(bomb, "IDAT", {0x78, 0x9C, 0x63, 0, 0});
  append_chunk(bomb, "IEND", {});
  expect_error([&] { decode_image(bomb.data(), bomb.size(), "bomb.png"); }, {"bomb.png", "15000 x 15000 pixels"});
  // Within the pixel limit, the memory budget decides: 8000 x 8000 RGB is 183 MiB.
  const size_t saved = memory_budget();
  set_memory_budget(size_t(64) << 20);
  std::vector<uint8_t> big = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  append_chunk(big, "IHDR", {0, 0, 0x1F, 0x40, 0, 0, 0x1F, 0x40, 8, 2, 0, 0, 0});
  append_chunk(big, "IDAT", {0x78, 0x9C, 0x63, 0, 0});
  append_chunk(big, "IEND", {});
  expect_error([&] { decode_image(big.data(), big.size(), "big.png"); }, {"big.png", "memory budget of 64 MiB"});
  set_memory_budget(saved);
}

// A chunk whose length field claims 1.6 GB (found by the fuzzer: libpng allocated it for
// a zTXt chunk) is refused without allocating it.
TEST(Image, HugeChunkLengthsAreRefusedNotAllocated) {
  std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  append_chunk(png, "IHDR", {0, 0, 0, 6, 0, 0, 0, 6, 2, 0, 0, 0, 0});
  for (int b : {0x62, 0x4B, 0x47, 0x44, 0x7A, 0x54, 0x58, 0x74, 0x78, 0x9D, 0x63, 0x60}) png.push_back(uint8_t(b));  // ... "zTXt" ...
  expect_error([&] { decode_image(png.data(), png.size(), "chunk.png"); }, {"chunk.png", "unexpected end of file"});
  // Measured in a child of its own: its peak memory stays small (was 1.6 GB).
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    try {
      decode_image(png.data(), png.size(), "chunk.png");
    } catch (const Error&) {
    }
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    ::_exit(ru.ru_maxrss < 200 * 1024 ? 0 : 1);  // KiB
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the decode's peak memory passed 200 MiB";
}

TEST(Image, EncodersRefuseBadImagesNamingWhy) {
  TempDir dir;
  Image two(4, 4, 2);
  expect_error([&] { io::encode_jpeg(two); }, {"encode_jpeg", "1 or 3 channels", "4 x 4 x 2"});
  expect_error([&] { io::write_png(two, dir.path / "two.png"); }, {"write_png", "two.png", "1 or 3 channels"});
  expect_error([&] { io::encode_jpeg(gradient(4, 4, 3), 0); }, {"encode_jpeg", "quality 0"});
  expect_error([&] { io::write_png(gradient(4, 4, 3), dir.path / "no" / "such" / "dir.png"); },
               {"write_png", "dir.png", "cannot write (libpng: No such file or directory)"});
}

// ---------------------------------------------------------------- a real data set

TEST(Image, HymenopteraAntsDecodeAndTheGifIsRefused) {
  HONE_REQUIRE_SHARED("data/hymenoptera/train/ants");
  const fs::path root = fs::path(test::shared_dir()) / "data/hymenoptera";
  int decoded = 0;
  for (const auto& e : fs::directory_iterator(root / "train/ants")) {
    if (e.path().extension() != ".jpg" && e.path().extension() != ".jpeg") continue;
    SCOPED_TRACE(e.path().string());
    const io::ImageInfo info = io::probe_image(e.path());
    const Image im = io::read_image(e.path(), DecodeOptions{.min_short_side = 224});
    ASSERT_EQ(im.channels, 3);
    // At least 224 (or full size, when smaller), and below 448 unless even 1/8 is larger.
    const int64_t full_short = std::min(info.height, info.width), short_side = std::min(im.height, im.width);
    EXPECT_GE(short_side, std::min<int64_t>(224, full_short));
    if (full_short < 8 * 224) {
      EXPECT_LT(short_side, 448);
    }
    ++decoded;
  }
  EXPECT_GT(decoded, 100);
  fs::path gif;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.path().filename() == "imageNotFound.gif") gif = e.path();
  ASSERT_FALSE(gif.empty()) << "imageNotFound.gif not found under " << root;
  expect_error([&] { io::read_image(gif); },
               {"image '" + gif.string() + "'", "not a JPEG or PNG file (starts with 'GIF8"});
}

}  // namespace
}  // namespace hone
