// Image transforms against torchvision 0.14 / Pillow 9.4 (tests/golden/transforms, made by
// tools/golden/transforms_golden.py), byte for byte, plus the properties of the random crop
// and of SampleRng that torch's own draws cannot pin down.
#include "io/transforms.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"

namespace hone::io {
namespace {

uint64_t fnv1a64(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t h = 0xCBF29CE484222325ULL;
  for (size_t i = 0; i < size; ++i) h = (h ^ p[i]) * 0x100000001B3ULL;
  return h;
}

// transforms_golden.py's pattern(): smooth gradients, hard edges, hashed noise, a white and
// a black corner. Integer arithmetic mod 2^32, so both languages agree exactly.
Image make_pattern(int64_t h, int64_t w, int64_t c, uint64_t seed) {
  Image img(h, w, c);
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x)
      for (int64_t ch = 0; ch < c; ++ch) {
        const uint64_t k = c == 1 ? 2 : uint64_t(ch), ux = uint64_t(x), uy = uint64_t(y);
        uint64_t v = ux * 0x9E3779B1ULL + uy * 0x85EBCA77ULL + k * 0xC2B2AE3DULL + seed * 0x27D4EB2FULL;
        v &= 0xFFFFFFFFULL;
        v ^= v >> 15;
        v = (v * 0x2C1B3C6DULL) & 0xFFFFFFFFULL;
        v ^= v >> 12;
        const uint64_t noise = v & 31;
        const uint64_t smooth = k == 0   ? ux * 255 / uint64_t(std::max<int64_t>(w - 1, 1))
                                : k == 1 ? uy * 255 / uint64_t(std::max<int64_t>(h - 1, 1))
                                         : (ux + uy) * 255 / uint64_t(std::max<int64_t>(w + h - 2, 1));
        uint64_t p = smooth * 3 / 4 + noise + ((ux / 23 + uy / 17) % 2) * 24;
        if (x < w / 8 && y < h / 8) p = 255;
        if (x >= w - w / 8 && y >= h - h / 8) p = 0;
        img.row(y)[x * c + ch] = uint8_t(p);
      }
  return img;
}

// Every 8-bit level once: levels_rgb pixel x = (x, 255 - x, 7x mod 256); levels_grey x.
Image make_levels(int64_t channels) {
  Image img(1, 256, channels);
  for (int x = 0; x < 256; ++x) {
    if (channels == 1) {
      img.pixels[size_t(x)] = uint8_t(x);
    } else {
      img.pixels[size_t(3 * x)] = uint8_t(x);
      img.pixels[size_t(3 * x + 1)] = uint8_t(255 - x);
      img.pixels[size_t(3 * x + 2)] = uint8_t(x * 7);
    }
  }
  return img;
}

struct GoldenCase {
  std::string name, op, image;
  int64_t arg[6] = {};
  int64_t out_h = 0, out_w = 0, out_c = 0;
  std::string dtype;
  std::vector<uint8_t> bytes;  // empty when only the hash is stored
  uint64_t hash = 0;
};

struct Golden {
  std::map<std::string, Image> images;
  std::vector<GoldenCase> cases;
  std::string problems;  // missing files, or an input image the C++ formula draws differently
};

const Golden& golden() {
  static const Golden g = [] {
    const std::string dir = std::string(HONE_TESTS_DIR) + "/golden/transforms/";
    std::ifstream data_file(dir + "data.bin", std::ios::binary);
    const std::vector<uint8_t> data((std::istreambuf_iterator<char>(data_file)), std::istreambuf_iterator<char>());
    std::ifstream manifest(dir + "manifest.txt");
    Golden out;
    if (!manifest.good() || data.empty()) out.problems += "golden files missing under " + dir + "\n";
    std::string line;
    while (std::getline(manifest, line)) {
      if (line.empty() || line[0] == '#') continue;
      std::istringstream is(line);
      std::string kind, name, hash;
      is >> kind >> name;
      if (kind == "image") {
        int64_t h, w, c;
        uint64_t seed;
        is >> h >> w >> c >> seed >> hash;
        Image img = name.rfind("levels", 0) == 0 ? make_levels(c) : make_pattern(h, w, c, seed);
        if (fnv1a64(img.pixels.data(), img.pixels.size()) != std::stoull(hash, nullptr, 16))
          out.problems += "make_pattern() no longer draws image " + name + " as transforms_golden.py does\n";
        out.images[name] = std::move(img);
      } else {
        GoldenCase c;
        c.name = name;
        size_t offset, nbytes;
        is >> c.op >> c.image;
        for (auto& a : c.arg) is >> a;
        is >> c.out_h >> c.out_w >> c.out_c >> c.dtype >> offset >> nbytes >> hash;
        c.hash = std::stoull(hash, nullptr, 16);
        if (offset + nbytes > data.size())
          out.problems += "case " + name + " reaches past the end of data.bin\n";
        else if (nbytes > 0)
          c.bytes.assign(data.begin() + ptrdiff_t(offset), data.begin() + ptrdiff_t(offset + nbytes));
        out.cases.push_back(std::move(c));
      }
    }
    return out;
  }();
  return g;
}

// transforms_golden.py's RGB_MEAN/RGB_STD (ImageNet's) and GREY_MEAN/GREY_STD.
std::vector<double> golden_mean(int64_t c) {
  return c == 3 ? std::vector<double>{0.485, 0.456, 0.406} : std::vector<double>{0.449};
}
std::vector<double> golden_std(int64_t c) {
  return c == 3 ? std::vector<double>{0.229, 0.224, 0.225} : std::vector<double>{0.226};
}

// Runs one golden case through our transforms; returns the output bytes and its shape.
std::vector<uint8_t> run_case(const GoldenCase& c, int64_t& h, int64_t& w, int64_t& ch) {
  const Image& in = golden().images.at(c.image);
  const int64_t* a = c.arg;
  auto bytes_of = [&](const Image& img) {
    h = img.height, w = img.width, ch = img.channels;
    return img.pixels;
  };
  if (c.op == "resize") return bytes_of(resize(in, a[0], a[1]));
  if (c.op == "resized_crop") return bytes_of(resized_crop(in, Rect{a[0], a[1], a[2], a[3]}, a[4], a[5]));
  if (c.op == "center_crop") return bytes_of(center_crop(in, a[0], a[1]));
  if (c.op == "hflip") return bytes_of(hflip(in));
  if (c.op == "gray") return bytes_of(to_channels(in, 1));
  std::vector<float> out;
  if (c.op == "eval") {
    TransformOptions o;
    o.resize = a[0];
    o.crop = a[1];
    o.channels = in.channels;
    o.mean = golden_mean(in.channels);
    o.std = golden_std(in.channels);
    Transform t(o);
    out.assign(size_t(t.output_numel()), NAN);
    t.apply(in, 0, 0, 0, out.data());
    h = w = o.crop, ch = o.channels;
  } else if (c.op == "normalize") {
    out.assign(size_t(in.pixels.size()), NAN);
    to_tensor_normalized(in, golden_mean(in.channels), golden_std(in.channels), out.data());
    h = in.height, w = in.width, ch = in.channels;
  } else {
    ADD_FAILURE() << "unknown golden op " << c.op;
  }
  std::vector<uint8_t> bytes(out.size() * sizeof(float));
  std::memcpy(bytes.data(), out.data(), bytes.size());  // little-endian, as stored
  return bytes;
}

// Runs every golden case of the given ops and expects our bytes to equal torchvision's.
void expect_golden(const std::set<std::string>& ops) {
  ASSERT_EQ(golden().problems, "");
  int ran = 0;
  for (const auto& c : golden().cases) {
    if (!ops.count(c.op)) continue;
    ++ran;
    SCOPED_TRACE(c.name);
    int64_t h = 0, w = 0, ch = 0;
    const std::vector<uint8_t> got = run_case(c, h, w, ch);
    ASSERT_EQ(h, c.out_h);
    ASSERT_EQ(w, c.out_w);
    ASSERT_EQ(ch, c.out_c);
    const size_t elem = c.dtype == "f32" ? 4 : 1;
    ASSERT_EQ(got.size(), size_t(h * w * ch) * elem);
    if (!c.bytes.empty()) {
      ASSERT_EQ(got.size(), c.bytes.size());
      size_t diffs = 0, first = 0;
      for (size_t i = 0; i < got.size(); i += elem)
        if (std::memcmp(&got[i], &c.bytes[i], elem) != 0 && diffs++ == 0) first = i / elem;
      auto value = [&](const std::vector<uint8_t>& b) {
        if (elem == 1) return double(b[first]);
        float f;
        std::memcpy(&f, &b[first * elem], sizeof f);
        return double(f);
      };
      EXPECT_EQ(diffs, 0u) << "elements differ; first at flat index " << first << " of " << got.size() / elem
                           << ": ours " << value(got) << ", torchvision's " << value(c.bytes);
    }
    EXPECT_EQ(fnv1a64(got.data(), got.size()), c.hash) << "output hash differs from torchvision's";
  }
  EXPECT_GT(ran, 0) << "no golden case for these ops";
}

TEST(Transforms, GoldenInputsAreTheScriptsImages) {
  EXPECT_EQ(golden().problems, "");
  EXPECT_EQ(golden().images.size(), 6u);
  EXPECT_GE(golden().cases.size(), 30u);
}
TEST(Transforms, GoldenResizeMatchesPil) { expect_golden({"resize"}); }
TEST(Transforms, GoldenResizedCropMatchesTorchvision) { expect_golden({"resized_crop"}); }
TEST(Transforms, GoldenCenterCropMatchesTorchvision) { expect_golden({"center_crop"}); }
TEST(Transforms, GoldenHflipAndGreyMatchPil) { expect_golden({"hflip", "gray"}); }
TEST(Transforms, GoldenNormalizeMatchesTorchvisionOnEveryLevel) { expect_golden({"normalize"}); }
// Resize(256) -> CenterCrop(224) -> ToTensor -> Normalize (and the same at 48/40), float32 bitwise.
TEST(Transforms, GoldenEvalPipelineMatchesTorchvision) { expect_golden({"eval"}); }

// ------------------------------------------------------------------ geometry properties

TEST(Transforms, ResizeShorterSizesAreTorchvisions) {
  auto size_of = [](int64_t h, int64_t w, int64_t s) {
    const Image out = resize_shorter(make_pattern(h, w, 1, 9), s);
    return std::pair<int64_t, int64_t>(out.height, out.width);
  };
  EXPECT_EQ(size_of(375, 500, 256), std::make_pair(int64_t(256), int64_t(341)));  // 341.33 truncated
  EXPECT_EQ(size_of(333, 250, 256), std::make_pair(int64_t(340), int64_t(256)));  // 340.99 truncated
  EXPECT_EQ(size_of(40, 40, 32), std::make_pair(int64_t(32), int64_t(32)));
  EXPECT_EQ(size_of(7, 300, 5), std::make_pair(int64_t(5), int64_t(214)));
}

TEST(Transforms, ResizeToTheSameSizeIsACopy) {
  const Image img = make_pattern(31, 17, 3, 5);
  EXPECT_EQ(resize(img, 31, 17).pixels, img.pixels);
  EXPECT_EQ(resize_shorter(img, 17).pixels, img.pixels);
}

TEST(Transforms, CropFlipAndCentreCropBasics) {
  const Image img = make_pattern(20, 30, 3, 6);
  const Image c = crop(img, Rect{3, 4, 5, 6});
  ASSERT_EQ(c.height, 5);
  ASSERT_EQ(c.width, 6);
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 18; ++x) EXPECT_EQ(c.row(y)[x], img.row(y + 3)[4 * 3 + x]);
  const Image f = hflip(img);
  for (int64_t x = 0; x < 30; ++x)
    for (int64_t k = 0; k < 3; ++k) EXPECT_EQ(f.row(7)[x * 3 + k], img.row(7)[(29 - x) * 3 + k]);
  EXPECT_EQ(hflip(f).pixels, img.pixels);
  EXPECT_EQ(center_crop(img, 20, 30).pixels, img.pixels);
  // Larger than the image on both axes: the image sits at ((h - H) // 2, (w - W) // 2), zeros around.
  const Image padded = center_crop(img, 23, 35);
  EXPECT_EQ(padded.row(0)[0], 0);
  EXPECT_EQ(padded.row(1)[2 * 3], img.row(0)[0]);
  EXPECT_EQ(padded.row(22)[34 * 3 + 2], 0);
}

TEST(Transforms, ChannelConversion) {
  const Image grey = make_levels(1);
  const Image rgb = to_channels(grey, 3);
  for (int x = 0; x < 256; ++x)
    for (int k = 0; k < 3; ++k) EXPECT_EQ(rgb.pixels[size_t(3 * x + k)], x);
  EXPECT_EQ(to_channels(rgb, 1).pixels, grey.pixels);  // the luma weights sum to 65536
  const Image levels = make_levels(3);
  const Image l = to_channels(levels, 1);
  for (int x = 0; x < 256; ++x) {
    const uint8_t* p = &levels.pixels[size_t(3 * x)];
    EXPECT_EQ(l.pixels[size_t(x)], (p[0] * 19595 + p[1] * 38470 + p[2] * 7471 + 0x8000) >> 16);
  }
}

TEST(Transforms, BadArgumentsAreErrorsNamingTheOp) {
  const Image img = make_pattern(10, 12, 3, 7);
  test::expect_error([&] { resize(img, 0, 5); }, {"resize", "0x5"});
  test::expect_error([&] { crop(img, Rect{5, 0, 6, 12}); }, {"crop", "10x12"});
  test::expect_error([&] { resized_crop(img, Rect{0, 10, 4, 4}, 8, 8); }, {"crop", "10x12"});
  test::expect_error([&] { to_channels(img, 2); }, {"to_channels", "2"});
  std::vector<float> out(size_t(3 * 10 * 12));
  test::expect_error([&] { to_tensor_normalized(img, {0.5}, {0.5}, out.data()); }, {"to_tensor_normalized", "mean"});
  Image broken = img;
  broken.pixels.pop_back();
  test::expect_error([&] { hflip(broken); }, {"hflip", "10x12x3", "359"});
  Image two(4, 4, 2);
  test::expect_error([&] { resize(two, 2, 2); }, {"resize", "channels"});
  test::expect_error([&] { center_crop(Image(), 2, 2); }, {"center_crop", "empty"});
}

// ------------------------------------------------------------------ randomness

TEST(Transforms, SampleRngIsAPureFunctionOfSeedEpochIndex) {
  auto draws = [](uint64_t seed, int64_t epoch, int64_t index) {
    SampleRng rng(seed, epoch, index);
    std::vector<double> v;
    for (int i = 0; i < 40; ++i) v.push_back(rng.uniform());
    return v;
  };
  EXPECT_EQ(draws(7, 2, 1000), draws(7, 2, 1000));
  EXPECT_NE(draws(7, 2, 1000), draws(7, 2, 1001));
  EXPECT_NE(draws(7, 2, 1000), draws(7, 3, 1000));
  EXPECT_NE(draws(7, 2, 1000), draws(8, 2, 1000));
  // Epoch e index i shares no draw with epoch e+1 index i-1 (streams are not shifted copies).
  const auto a = draws(7, 2, 5), b = draws(7, 3, 4);
  const std::set<double> in_a(a.begin(), a.end());
  for (double v : b) EXPECT_EQ(in_a.count(v), 0u);
  test::expect_error([] { SampleRng(1, 0, -1); }, {"SampleRng", "index"});
}

TEST(Transforms, SampleRngRangesAndUniformity) {
  SampleRng rng(123, 0, 0);
  int counts[6] = {};
  double mean = 0.0;
  const int n = 60000;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    mean += u / n;
    const double v = rng.uniform(-2.0, 3.0);
    ASSERT_GE(v, -2.0);
    ASSERT_LT(v, 3.0);
    const int64_t k = rng.randint(10, 16);
    ASSERT_GE(k, 10);
    ASSERT_LT(k, 16);
    ++counts[k - 10];
  }
  EXPECT_NEAR(mean, 0.5, 0.01);
  for (int c : counts) EXPECT_NEAR(c, n / 6, n / 60);  // 10%: > 20 standard deviations
  EXPECT_EQ(rng.randint(4, 5), 4);
  const int64_t big = rng.randint(-(int64_t(1) << 52), int64_t(1) << 52);
  EXPECT_LT(std::abs(big), int64_t(1) << 52);
  test::expect_error([&] { rng.randint(3, 3); }, {"randint", "[3, 3)"});
}

TEST(Transforms, RandomResizedCropParamsLieInsideWithinScaleAndRatio) {
  const std::array<double, 2> scale = {0.08, 1.0}, ratio = {3.0 / 4.0, 4.0 / 3.0};
  for (const auto& [h, w] : std::vector<std::pair<int64_t, int64_t>>{{375, 500}, {333, 250}, {61, 97}, {224, 224}}) {
    std::set<std::tuple<int64_t, int64_t, int64_t, int64_t>> seen;
    for (int64_t index = 0; index < 300; ++index) {
      SampleRng rng(42, 1, index);
      const Rect r = random_resized_crop_params(h, w, scale, ratio, rng);
      ASSERT_TRUE(r.top >= 0 && r.left >= 0 && r.height > 0 && r.width > 0 && r.top + r.height <= h &&
                  r.left + r.width <= w)
          << h << "x" << w << " index " << index;
      // w and h are each rounded to the nearest integer, so the bounds hold within half a pixel.
      const double hh = double(r.height), ww = double(r.width), area = double(h * w);
      EXPECT_GE((ww + 0.5) * (hh + 0.5), scale[0] * area);
      EXPECT_LE((ww - 0.5) * (hh - 0.5), scale[1] * area);
      EXPECT_GE((ww + 0.5) / (hh - 0.5), ratio[0]);
      EXPECT_LE((ww - 0.5) / (hh + 0.5), ratio[1]);
      seen.insert({r.top, r.left, r.height, r.width});
      SampleRng again(42, 1, index);
      const Rect r2 = random_resized_crop_params(h, w, scale, ratio, again);
      EXPECT_TRUE(r2.top == r.top && r2.left == r.left && r2.height == r.height && r2.width == r.width);
    }
    EXPECT_GT(seen.size(), 250u) << "crops barely vary across indices for " << h << "x" << w;
  }
}

TEST(Transforms, RandomResizedCropParamsFallBackToTheCentre) {
  const std::array<double, 2> scale = {0.08, 1.0}, ratio = {3.0 / 4.0, 4.0 / 3.0};
  auto params = [&](int64_t h, int64_t w, std::array<double, 2> s) {
    SampleRng rng(1, 0, 3);
    const Rect r = random_resized_crop_params(h, w, s, ratio, rng);
    return std::vector<int64_t>{r.top, r.left, r.height, r.width};
  };
  // No try fits a 1000x10 strip; the ratio clamps to 3/4: h = round(10 / 0.75) = 13, centred.
  EXPECT_EQ(params(1000, 10, scale), (std::vector<int64_t>{493, 0, 13, 10}));
  EXPECT_EQ(params(10, 1000, scale), (std::vector<int64_t>{0, 493, 10, 13}));
  // Twice the image's area never fits; the ratio is within bounds, so the whole image.
  EXPECT_EQ(params(300, 350, {2.0, 3.0}), (std::vector<int64_t>{0, 0, 300, 350}));
  SampleRng rng(1, 0, 0);
  test::expect_error([&] { random_resized_crop_params(10, 10, {0.5, 0.1}, ratio, rng); }, {"scale", "ordered"});
  test::expect_error([&] { random_resized_crop_params(10, 10, scale, {-1.0, 1.0}, rng); }, {"ratio", "positive"});
}

// ------------------------------------------------------------------ the pipeline

TEST(Transforms, TransformValidatesOptionsNamingThem) {
  auto bad = [](auto edit, const char* part) {
    TransformOptions o;
    edit(o);
    test::expect_error([&] { Transform t(o); }, {"Transform", part});
  };
  bad([](TransformOptions& o) { o.crop = 0; }, "crop");
  bad([](TransformOptions& o) { o.resize = -1; }, "resize");
  bad([](TransformOptions& o) { o.channels = 2; }, "channels");
  bad([](TransformOptions& o) { o.mean = {0.5}; }, "mean");
  bad([](TransformOptions& o) { o.std = {0.5, 0.5}; }, "std");
  bad([](TransformOptions& o) { o.std = {0.5, 0.0, 0.5}; }, "std[1]");
  bad([](TransformOptions& o) { o.scale = {0.9, 0.1}; }, "scale");
  bad([](TransformOptions& o) { o.scale = {0.0, 1.0}; }, "scale");
  bad([](TransformOptions& o) { o.ratio = {0.0, 1.0}; }, "ratio");
  bad([](TransformOptions& o) { o.ratio = {2.0, 1.0}; }, "ratio");
}

TEST(Transforms, TransformSizesAndDecodeHints) {
  TransformOptions o;
  EXPECT_EQ(Transform(o).output_numel(), 3 * 224 * 224);
  EXPECT_EQ(Transform(o).decode_options().min_short_side, 0);
  o.train = true;
  o.crop = 96;
  o.channels = 1;
  o.mean = {0.5};
  o.std = {0.25};
  EXPECT_EQ(Transform(o).output_numel(), 96 * 96);
  EXPECT_EQ(Transform(o).decode_options().min_short_side, 96);
}

// The training path is exactly: params from SampleRng(seed, epoch, index), resized_crop,
// then a flip when the next uniform() < 0.5, channel conversion, normalisation.
TEST(Transforms, TrainingApplyIsTheDocumentedCompositionAndDeterministic) {
  const Image img = make_pattern(333, 250, 3, 2);
  const Image grey = make_pattern(120, 77, 1, 4);
  TransformOptions o;
  o.train = true;
  o.crop = 40;
  const Transform t(o);
  int flips = 0;
  for (int64_t index = 0; index < 16; ++index) {
    SCOPED_TRACE(index);
    for (const Image* src : {&img, &grey}) {
      std::vector<float> got(size_t(t.output_numel()), NAN), again(got.size(), NAN), want(got.size(), NAN);
      t.apply(*src, 99, 3, index, got.data());
      t.apply(*src, 99, 3, index, again.data());
      EXPECT_EQ(std::memcmp(got.data(), again.data(), got.size() * sizeof(float)), 0);

      SampleRng rng(99, 3, index);
      const Rect r = random_resized_crop_params(src->height, src->width, o.scale, o.ratio, rng);
      Image x = resized_crop(*src, r, o.crop, o.crop);
      const bool flip = rng.uniform() < 0.5;
      if (flip) x = hflip(x);
      flips += flip && src == &img;
      to_tensor_normalized(to_channels(x, 3), o.mean, o.std, want.data());
      EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
    }
    std::vector<float> a(size_t(t.output_numel())), b(a.size());
    t.apply(img, 99, 3, index, a.data());
    t.apply(img, 99, 3, index + 1, b.data());
    EXPECT_NE(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  }
  EXPECT_GT(flips, 2);
  EXPECT_LT(flips, 14);
  // flip = false never flips (and draws nothing after the crop).
  o.flip = false;
  const Transform no_flip(o);
  for (int64_t index = 0; index < 8; ++index) {
    std::vector<float> got(size_t(no_flip.output_numel())), want(got.size());
    no_flip.apply(img, 5, 0, index, got.data());
    SampleRng rng(5, 0, index);
    const Rect r = random_resized_crop_params(img.height, img.width, o.scale, o.ratio, rng);
    to_tensor_normalized(resized_crop(img, r, 40, 40), o.mean, o.std, want.data());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
  }
}

TEST(Transforms, EvaluationWithoutResizeCentreCropsTheImage) {
  const Image img = make_pattern(61, 97, 3, 3);
  TransformOptions o;
  o.resize = 0;
  o.crop = 50;
  const Transform t(o);
  std::vector<float> got(size_t(t.output_numel())), want(got.size());
  t.apply(img, 0, 0, 0, got.data());
  to_tensor_normalized(center_crop(img, 50, 50), o.mean, o.std, want.data());
  EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * sizeof(float)), 0);
}

}  // namespace
}  // namespace hone::io
