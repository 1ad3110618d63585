// JPEG and PNG decoding to 8-bit RGB that matches PIL's Image.open(f).convert("RGB") (after
// ImageOps.exif_transpose), and the small encoders the tests and tools use. Measured against
// PIL 9.4 (same libjpeg-turbo 2.1.5, ISLOW DCT, fancy upsampling): bit-identical on all 397
// hymenoptera JPEGs, on DCT-scaled decodes where PIL's draft() picks the same scale, and on
// generated CMYK/YCCK, progressive, EXIF 1-8 and every PNG colour type, depth and interlace.
//
// libjpeg and libpng report errors by calling a handler that must not return. We longjmp
// back to a setjmp inside call(), which then throws: throwing straight through the C
// libraries' frames is not guaranteed to unwind. So that the jump skips no C++ destructor,
// every body passed to call() touches only C objects and memory owned by its caller, and
// the decoder structs are destroyed by RAII owners outside it.
#include "io/image.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>
#include <type_traits>

#include <jpeglib.h>  // needs <cstdio> first
#include <jerror.h>
#include <libexif/exif-data.h>
#include <png.h>

#include "tensor/allocator.h"
#include "tensor/error.h"

namespace hone::io {
namespace {

namespace fs = std::filesystem;

// PIL's limit (Image.MAX_IMAGE_PIXELS * 2, where it raises DecompressionBombError): far
// past any photo a model trains on, and a hostile header claiming more is refused before
// anything is allocated or decoded for it. The pixels must fit the memory budget too.
constexpr int64_t kMaxPixels = 2 * int64_t(89478485);

std::string where(const std::string& name) { return "image '" + name + "'"; }

void check_size(const std::string& name, int64_t width, int64_t height) {
  HONE_CHECK(width > 0 && height > 0, where(name), ": has no pixels (", width, " x ", height, ")");
  HONE_CHECK(width * height <= kMaxPixels, where(name), ": ", width, " x ", height,
             " pixels is more than the ", kMaxPixels, " this decoder accepts (PIL's decompression-bomb limit)");
  check_memory_budget({height, width, 3}, 1, where(name).c_str());
}

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

File open_for_reading(const fs::path& path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  HONE_CHECK(fs::exists(status), where(path.string()), ": no such file");
  HONE_CHECK(!fs::is_directory(status), where(path.string()), ": is a directory, not an image file");
  File file(std::fopen(path.c_str(), "rb"), std::fclose);
  HONE_CHECK(file, where(path.string()), ": cannot open (", std::generic_category().message(errno), ")");
  return file;
}

// ---------------------------------------------------------------- EXIF orientation

// The EXIF orientation (1..8) of a JPEG's first "Exif\0" APP1 segment, IFD0 only, or 1 when
// there is none or it is unreadable: exactly where PIL's getexif() looks.
int exif_orientation(jpeg_saved_marker_ptr markers) {
  for (auto m = markers; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 6 || std::memcmp(m->data, "Exif\0", 5) != 0) continue;
    std::unique_ptr<ExifData, void (*)(ExifData*)> exif(exif_data_new(), exif_data_unref);
    if (!exif) return 1;
    // Read the entries as stored: "following the specification" would let libexif rewrite them.
    exif_data_unset_option(exif.get(), EXIF_DATA_OPTION_FOLLOW_SPECIFICATION);
    exif_data_load_data(exif.get(), m->data, m->data_length);
    const ExifEntry* e = exif_content_get_entry(exif->ifd[EXIF_IFD_0], EXIF_TAG_ORIENTATION);
    int value = 1;
    if (e && e->components >= 1 && e->format == EXIF_FORMAT_SHORT && e->size >= 2)
      value = exif_get_short(e->data, exif_data_get_byte_order(exif.get()));
    else if (e && e->components >= 1 && e->format == EXIF_FORMAT_LONG && e->size >= 4)
      value = int(exif_get_long(e->data, exif_data_get_byte_order(exif.get())));
    return value >= 1 && value <= 8 ? value : 1;  // PIL ignores other values too
  }
  return 1;
}

// ImageOps.exif_transpose: 2 mirror left-right, 3 rotate 180, 4 mirror top-bottom,
// 5 transpose, 6 rotate 90 clockwise, 7 transverse, 8 rotate 90 anticlockwise.
Image apply_orientation(Image in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int64_t h = in.height, w = in.width, c = in.channels;
  // Output pixel (y, x) comes from input pixel offset base + y * dy + x * dx.
  struct Walk { int64_t base, dy, dx; };
  const Walk walks[9] = {{}, {0, w, 1}, {w - 1, w, -1}, {h * w - 1, -w, -1}, {(h - 1) * w, -w, 1},
                         {0, 1, w}, {(h - 1) * w, 1, -w}, {h * w - 1, -1, -w}, {w - 1, -1, w}};
  const Walk& walk = walks[orientation];
  Image out = orientation >= 5 ? Image(w, h, c) : Image(h, w, c);
  for (int64_t y = 0; y < out.height; ++y) {
    uint8_t* dst = out.row(y);
    for (int64_t x = 0; x < out.width; ++x, dst += c)
      std::memcpy(dst, in.pixels.data() + (walk.base + y * walk.dy + x * walk.dx) * c, size_t(c));
  }
  return out;
}

// ---------------------------------------------------------------- JPEG

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first, so libjpeg's cinfo->err pointer is also ours
  std::jmp_buf jump;
  bool damaged_data = false;
  char message[JMSG_LENGTH_MAX] = {};
};

[[noreturn]] void jpeg_jump(j_common_ptr cinfo, bool damaged_data) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  err->damaged_data = damaged_data;
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}
void on_jpeg_error(j_common_ptr cinfo) { jpeg_jump(cinfo, false); }
// Level -1 is a warning. libjpeg then carries on, filling what it could not read with grey;
// we refuse such pixels, except for the two warnings that concern labels, not pixel data.
void on_jpeg_message(j_common_ptr cinfo, int level) {
  const int code = cinfo->err->msg_code;
  if (level < 0 && code != JWRN_JFIF_MAJOR && code != JWRN_ADOBE_XFORM) jpeg_jump(cinfo, true);
}

// Owns one libjpeg codec object (decompress or compress) and its error manager.
template <typename Codec>
class JpegCodec {
 public:
  explicit JpegCodec(std::string what) : what_(std::move(what)) {
    std::memset(&codec, 0, sizeof codec);
    codec.err = jpeg_std_error(&err_.pub);
    err_.pub.error_exit = on_jpeg_error;
    err_.pub.emit_message = on_jpeg_message;
    call([&] {
      if constexpr (std::is_same_v<Codec, jpeg_decompress_struct>) jpeg_create_decompress(&codec);
      else jpeg_create_compress(&codec);
    });
  }
  ~JpegCodec() { jpeg_destroy(reinterpret_cast<j_common_ptr>(&codec)); }
  JpegCodec(const JpegCodec&) = delete;
  JpegCodec& operator=(const JpegCodec&) = delete;

  // Runs `body`; a libjpeg error or damaged-data warning inside it becomes a hone::Error.
  template <typename F>
  void call(F&& body) {
    constexpr bool decoding = std::is_same_v<Codec, jpeg_decompress_struct>;
    if (setjmp(err_.jump) != 0)
      fail(what_, err_.damaged_data ? ": truncated or corrupt JPEG data"
                                    : decoding ? ": cannot decode JPEG" : ": cannot encode JPEG",
           " (libjpeg: ", err_.message, ")");
    body();
  }

  Codec codec;

 private:
  std::string what_;
  JpegErrorManager err_;
};
using JpegDecoder = JpegCodec<jpeg_decompress_struct>;

// PIL's CMYK->RGB for the Adobe-inverted samples libjpeg returns (PIL assumes Adobe's
// polarity for every CMYK JPEG): with c = 255 - stored c, k = 255 - stored k,
// r = (255 - k) - (c * (255 - k)) / 255, the division rounded as PIL's MULDIV255.
uint8_t cmyk_channel(int stored_c, int stored_k) {
  const int c = 255 - stored_c, nk = stored_k, t = c * nk + 128;
  return uint8_t(nk - (((t >> 8) + t) >> 8));
}

// Reads the header and, unless header_only, the pixels. `set_source` installs the input.
template <typename SetSource>
Image decode_jpeg(const std::string& name, SetSource&& set_source, const DecodeOptions& options, bool header_only) {
  JpegDecoder jpeg(where(name));
  jpeg_decompress_struct& cinfo = jpeg.codec;
  jpeg.call([&] {
    set_source(&cinfo);
    jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);  // EXIF
    jpeg_read_header(&cinfo, TRUE);
  });
  check_size(name, cinfo.image_width, cinfo.image_height);
  const int orientation = exif_orientation(cinfo.marker_list);
  if (header_only)
    return orientation >= 5 ? Image(cinfo.image_width, cinfo.image_height, 0)
                            : Image(cinfo.image_height, cinfo.image_width, 0);
  switch (cinfo.jpeg_color_space) {
    case JCS_GRAYSCALE: case JCS_YCbCr: case JCS_RGB: cinfo.out_color_space = JCS_RGB; break;
    case JCS_CMYK: case JCS_YCCK: cinfo.out_color_space = JCS_CMYK; break;  // libjpeg turns YCCK into CMYK
    default: fail(where(name), ": unsupported JPEG colour space (", cinfo.num_components, " components)");
  }
  if (options.min_short_side > 0) {
    // The smallest scale whose shorter side (libjpeg rounds up) still covers min_short_side.
    const int64_t short_side = std::min(cinfo.image_width, cinfo.image_height);
    for (unsigned denom : {8, 4, 2})
      if ((short_side + denom - 1) / denom >= options.min_short_side) {
        cinfo.scale_num = 1, cinfo.scale_denom = denom;
        break;
      }
  }
  jpeg.call([&] { jpeg_start_decompress(&cinfo); });
  Image out(cinfo.output_height, cinfo.output_width, 3);
  const bool cmyk = cinfo.out_color_space == JCS_CMYK;
  std::vector<uint8_t> cmyk_row(cmyk ? size_t(out.width) * 4 : 0);
  jpeg.call([&] {
    while (cinfo.output_scanline < cinfo.output_height) {
      uint8_t* dst = out.row(cinfo.output_scanline);
      JSAMPROW row = cmyk ? cmyk_row.data() : dst;
      jpeg_read_scanlines(&cinfo, &row, 1);
      for (size_t x = 0; cmyk && x < size_t(out.width); ++x)
        for (int ch = 0; ch < 3; ++ch) dst[3 * x + ch] = cmyk_channel(cmyk_row[4 * x + ch], cmyk_row[4 * x + 3]);
    }
  });
  // No jpeg_finish_decompress: every pixel is read, and what follows the last scan (the
  // EOI marker, trailing bytes) does not change them; PIL does not read it either.
  return apply_orientation(std::move(out), orientation);
}

// ---------------------------------------------------------------- PNG

struct PngErrorText { char text[256] = "unknown error"; };
void on_png_error(png_structp png, png_const_charp message) {
  auto* err = static_cast<PngErrorText*>(png_get_error_ptr(png));
  std::snprintf(err->text, sizeof err->text, "%s", message);
  png_longjmp(png, 1);
}
// Warnings concern ancillary chunks (colour profiles, text) or data after the image: the
// pixels are intact. Damaged pixel data, a short file and (see png_set_crc_action) every
// bad CRC are errors.
void on_png_warning(png_structp, png_const_charp) {}

template <typename F>
void png_call(png_structp png, const PngErrorText& err, const std::string& what, F&& body) {
  if (setjmp(png_jmpbuf(png)) != 0) fail(what, " (libpng: ", err.text, ")");
  body();
}

struct PngReader {
  PngErrorText err;
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_png_error, on_png_warning);
  png_infop info = png ? png_create_info_struct(png) : nullptr;
  ~PngReader() { png_destroy_read_struct(&png, &info, nullptr); }
};

struct MemorySource { const uint8_t* data; size_t size, pos = 0; };
void read_from_memory(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<MemorySource*>(png_get_io_ptr(png));
  if (n > src->size - src->pos) png_error(png, "unexpected end of file");  // never read past `size`
  std::memcpy(out, src->data + src->pos, n);
  src->pos += n;
}

template <typename SetSource>
Image decode_png(const std::string& name, SetSource&& set_source, bool header_only) {
  PngReader r;
  HONE_CHECK(r.png && r.info, where(name), ": out of memory creating a PNG reader");
  const std::string corrupt = where(name) + ": truncated or corrupt PNG data";
  png_uint_32 width = 0, height = 0;
  int depth = 0, colour = 0;
  png_call(r.png, r.err, corrupt, [&] {
    set_source(r.png);
    png_set_crc_action(r.png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);  // as PIL: "broken PNG file"
    // A chunk's length is the file's word, and libpng allocates a text or ICC chunk whole
    // (a fuzzer's 45-byte file made it allocate 1.6 GB). The pixels need none of the
    // ancillary chunks but tRNS (PIL applies no gamma, background or colour profile), so
    // the others are skipped unread, in small pieces, as unknown chunks are.
    static const png_byte kSkipped[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf\0hIST\0pCAL\0sCAL\0tIME\0pHYs\0oFFs\0"
                                       "sTER\0cHRM\0gAMA\0sRGB\0bKGD\0sBIT";
    png_set_keep_unknown_chunks(r.png, PNG_HANDLE_CHUNK_NEVER, nullptr, 0);
    png_set_keep_unknown_chunks(r.png, PNG_HANDLE_CHUNK_NEVER, kSkipped, int(sizeof kSkipped / 5));
    png_read_info(r.png, r.info);
    png_get_IHDR(r.png, r.info, &width, &height, &depth, &colour, nullptr, nullptr, nullptr);
  });
  check_size(name, width, height);
  if (header_only) return Image(height, width, 0);
  // PIL opens 16-bit grey as mode "I" and its convert("RGB") clips each value to 255 (so
  // anything brighter than 255/65535 is white); we read it as is and do the same below.
  // Every other 16-bit type keeps the high byte, as PIL's ";16B" raw modes do.
  const bool grey16 = colour == PNG_COLOR_TYPE_GRAY && depth == 16;
  png_call(r.png, r.err, corrupt, [&] {
    if (!grey16) {
      png_set_palette_to_rgb(r.png);          // expands tRNS to alpha too, dropped below
      png_set_expand_gray_1_2_4_to_8(r.png);  // 0..2^d-1 scaled to 0..255, as PIL's L;2 and L;4
      png_set_strip_16(r.png);
      png_set_strip_alpha(r.png);             // convert("RGB") drops alpha, never blends it
      png_set_gray_to_rgb(r.png);
    }
    png_set_interlace_handling(r.png);
    png_read_update_info(r.png, r.info);
  });
  const size_t channels = png_get_channels(r.png, r.info), row_bytes = png_get_rowbytes(r.png, r.info);
  HONE_CHECK(row_bytes == (grey16 ? 2 : 3) * size_t(width) && channels == (grey16 ? 1 : 3), where(name),
             ": libpng produced ", channels, " channels in ", row_bytes, "-byte rows; expected 8-bit RGB");
  Image out(height, width, 3);
  std::vector<uint8_t> grey(grey16 ? row_bytes * height : 0);
  std::vector<png_bytep> rows(height);
  for (size_t y = 0; y < height; ++y) rows[y] = grey16 ? grey.data() + y * row_bytes : out.row(int64_t(y));
  png_call(r.png, r.err, corrupt, [&] { png_read_image(r.png, rows.data()); });
  // No png_read_end: the pixels are complete, and PIL ignores what follows them too.
  for (size_t i = 0; i < grey.size() / 2; ++i) {
    const int value = (grey[2 * i] << 8) | grey[2 * i + 1];
    std::memset(&out.pixels[3 * i], value > 255 ? 255 : value, 3);
  }
  return out;
}

// Appends for encode_jpeg's output callbacks, which must not throw through libjpeg.
bool append(std::vector<uint8_t>* out, const uint8_t* data, size_t n) noexcept {
  try {
    out->insert(out->end(), data, data + n);
    return true;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

// libjpeg destination appending to a vector: unlike jpeg_mem_dest's malloc'd buffer, nothing
// leaks when libjpeg fails half way.
struct VectorDestination {
  jpeg_destination_mgr pub{nullptr, 0, restart, flush, finish};  // first, so cinfo->dest is also ours
  std::vector<uint8_t>* out;
  JOCTET buffer[1 << 14];

  static VectorDestination* of(j_compress_ptr c) { return reinterpret_cast<VectorDestination*>(c->dest); }
  static void restart(j_compress_ptr c) {
    of(c)->pub.next_output_byte = of(c)->buffer;
    of(c)->pub.free_in_buffer = sizeof buffer;
  }
  static boolean flush(j_compress_ptr c) {
    if (!append(of(c)->out, of(c)->buffer, sizeof buffer)) ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
    restart(c);
    return TRUE;
  }
  static void finish(j_compress_ptr c) {
    const size_t used = sizeof buffer - of(c)->pub.free_in_buffer;
    if (!append(of(c)->out, of(c)->buffer, used)) ERREXIT1(c, JERR_OUT_OF_MEMORY, 0);
  }
};

// What the encoders accept: 1 or 3 channels, sides 1..max_side, height*width*channels bytes.
void check_encodable(const Image& image, const std::string& what, int64_t max_side) {
  HONE_CHECK((image.channels == 1 || image.channels == 3) && image.height > 0 && image.width > 0 &&
                 image.height <= max_side && image.width <= max_side &&
                 image.pixels.size() == size_t(image.height * image.width * image.channels),
             what, ": needs 1 or 3 channels, sides 1..", max_side, " and height*width*channels bytes, got ",
             image.height, " x ", image.width, " x ", image.channels, " with ", image.pixels.size(), " bytes");
}

// "GIF89a\x01\x00": the first bytes, printable ones as text, for "not an image" errors.
std::string first_bytes(const uint8_t* data, size_t size) {
  std::string s;
  for (size_t i = 0; i < std::min<size_t>(size, 8); ++i) {
    char hex[8];
    std::snprintf(hex, sizeof hex, "\\x%02x", data[i]);
    s += data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\' ? std::string(1, char(data[i])) : hex;
  }
  return s;
}

}  // namespace

ImageFormat sniff_image_format(const uint8_t* data, size_t size) {
  static const uint8_t jpeg[] = {0xFF, 0xD8, 0xFF}, png[] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (size >= sizeof jpeg && std::memcmp(data, jpeg, sizeof jpeg) == 0) return ImageFormat::Jpeg;
  if (size >= sizeof png && std::memcmp(data, png, sizeof png) == 0) return ImageFormat::Png;
  return ImageFormat::Unknown;
}

Image decode_image(const uint8_t* data, size_t size, const std::string& name, const DecodeOptions& options) {
  HONE_CHECK(size > 0, where(name), ": empty file");
  switch (sniff_image_format(data, size)) {
    case ImageFormat::Jpeg:
      return decode_jpeg(name, [&](j_decompress_ptr c) { jpeg_mem_src(c, data, static_cast<unsigned long>(size)); },
                         options, false);
    case ImageFormat::Png: {
      MemorySource src{data, size};
      return decode_png(name, [&](png_structp p) { png_set_read_fn(p, &src, read_from_memory); }, false);
    }
    case ImageFormat::Unknown: break;
  }
  fail(where(name), ": not a JPEG or PNG file (starts with '", first_bytes(data, size), "')");
}

Image read_image(const fs::path& path, const DecodeOptions& options) {
  File file = open_for_reading(path);
  std::vector<uint8_t> bytes;
  std::error_code ec;
  if (const auto size = fs::file_size(path, ec); !ec) bytes.reserve(size_t(size));
  uint8_t chunk[1 << 16];
  while (const size_t n = std::fread(chunk, 1, sizeof chunk, file.get())) bytes.insert(bytes.end(), chunk, chunk + n);
  HONE_CHECK(!std::ferror(file.get()), where(path.string()), ": read failed (",
             std::generic_category().message(errno), ")");
  return decode_image(bytes.data(), bytes.size(), path.string(), options);
}

ImageInfo probe_image(const fs::path& path) {
  // Streams from the file, so only the header (and EXIF) is read, not the whole image.
  File file = open_for_reading(path);
  const std::string name = path.string();
  uint8_t magic[8];
  const size_t n = std::fread(magic, 1, sizeof magic, file.get());
  HONE_CHECK(n > 0, where(name), ": empty file");
  const ImageFormat format = sniff_image_format(magic, n);
  HONE_CHECK(format != ImageFormat::Unknown, where(name), ": not a JPEG or PNG file (starts with '",
             first_bytes(magic, n), "')");
  std::rewind(file.get());
  const Image header = format == ImageFormat::Jpeg
      ? decode_jpeg(name, [&](j_decompress_ptr c) { jpeg_stdio_src(c, file.get()); }, {}, true)
      : decode_png(name, [&](png_structp p) { png_init_io(p, file.get()); }, true);
  return ImageInfo{header.height, header.width, format};
}

void write_png(const Image& image, const fs::path& path) {
  const std::string what = "write_png '" + path.string() + "'";
  check_encodable(image, what, PNG_USER_WIDTH_MAX);
  // libpng's simplified API: it handles its own errors and removes a half-written file.
  png_image png{};
  png.version = PNG_IMAGE_VERSION;
  png.width = png_uint_32(image.width), png.height = png_uint_32(image.height);
  png.format = image.channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
  HONE_CHECK(png_image_write_to_file(&png, path.c_str(), 0, image.pixels.data(), 0, nullptr), what,
             ": cannot write (libpng: ", png.message, ")");
}

std::vector<uint8_t> encode_jpeg(const Image& image, int quality) {
  check_encodable(image, "encode_jpeg", JPEG_MAX_DIMENSION);
  HONE_CHECK(quality >= 1 && quality <= 100, "encode_jpeg: quality ", quality, " is not in 1..100");
  std::vector<uint8_t> out;
  VectorDestination dest;
  dest.out = &out;
  JpegCodec<jpeg_compress_struct> jpeg("encode_jpeg");
  jpeg_compress_struct& cinfo = jpeg.codec;
  jpeg.call([&] {
    cinfo.dest = &dest.pub;
    cinfo.image_width = JDIMENSION(image.width);
    cinfo.image_height = JDIMENSION(image.height);
    cinfo.input_components = int(image.channels);
    cinfo.in_color_space = image.channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, quality, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
      JSAMPROW row = const_cast<uint8_t*>(image.row(cinfo.next_scanline));
      jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
  });
  return out;
}

}  // namespace hone::io
