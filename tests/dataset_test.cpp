// Data sets: ImageFolder's scan (order, skips, warnings, errors), IDX files (gzip and raw,
// every validation), Fashion-MNIST when installed, and the views (Subset, class_subset,
// random_split, per_class).
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <sstream>

#include "io/dataset.h"
#include "test_util.h"

namespace hone::io {
namespace {

namespace fs = std::filesystem;

using TempDir = test::TempDir;

Image pattern_image(int64_t h, int64_t w, int64_t c, int seed) {
  Image image(h, w, c);
  uint32_t x = uint32_t(seed) * 2654435761u + 1;
  for (auto& p : image.pixels) p = uint8_t((x = x * 1664525u + 1013904223u) >> 24);  // noise: JPEG data is long
  return image;
}

void write_bytes(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void write_jpeg(const fs::path& path, const Image& image) { write_bytes(path, encode_jpeg(image)); }

void write_png_file(const fs::path& path, const Image& image) {
  fs::create_directories(path.parent_path());
  write_png(image, path);
}

// A JPEG cut in the middle of its entropy-coded data: the header is whole (so probe_image
// accepts it) but a decode runs out of data.
std::vector<uint8_t> truncated_jpeg() {
  std::vector<uint8_t> jpeg = encode_jpeg(pattern_image(64, 48, 3, 7));
  size_t sos = 0;
  for (size_t i = 0; i + 1 < jpeg.size(); ++i)
    if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) sos = i;
  jpeg.resize(sos + (jpeg.size() - sos) / 2);
  return jpeg;
}

const std::vector<uint8_t> kGif = {0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0xFF, 0xFF,
                                   0xFF, 0x00, 0x00, 0x00, 0x2C, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x02,
                                   0x02, 0x44, 0x01, 0x00, 0x3B};

// cats: 3 images (one nested), hidden ones, a GIF; dogs: 1 image and three broken files;
// fish: 2 images and a broken link; plus a hidden class folder and a loose file at the top.
fs::path make_folder(const fs::path& root) {
  write_png_file(root / "cats" / "a.png", pattern_image(6, 8, 3, 1));
  write_jpeg(root / "cats" / "x.jpg", pattern_image(12, 16, 3, 2));
  write_png_file(root / "cats" / "nested" / "c.png", pattern_image(5, 5, 1, 3));
  write_png_file(root / "cats" / ".hidden.png", pattern_image(4, 4, 3, 4));
  write_png_file(root / "cats" / ".hiddendir" / "d.png", pattern_image(4, 4, 3, 5));
  write_bytes(root / "cats" / "anim.gif", kGif);
  write_png_file(root / "dogs" / "e.png", pattern_image(7, 3, 3, 6));
  write_bytes(root / "dogs" / "empty.jpg", {});
  write_bytes(root / "dogs" / "trunc.jpg", truncated_jpeg());
  write_bytes(root / "dogs" / "notes.txt", {'h', 'i', '\n'});
  write_jpeg(root / "fish" / "f.jpg", pattern_image(9, 9, 3, 8));
  write_png_file(root / "fish" / "g.png", pattern_image(3, 4, 3, 9));
  write_png_file(root / ".hiddenclass" / "h.png", pattern_image(4, 4, 3, 10));
  write_bytes(root / "readme.txt", {'x'});
  fs::create_symlink(root / "nowhere.png", root / "fish" / "broken_link.png");  // not a file: ignored
  return root;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

TEST(Dataset, ImageFolderScansSortedRecursiveAndSkipsBadFiles) {
  TempDir tmp;
  const fs::path root = make_folder(tmp.path / "train");
  for (int64_t threads : {1, 4}) {
    ::testing::internal::CaptureStderr();
    ImageFolder folder(root, {.verify = true, .threads = threads});
    const std::string err = ::testing::internal::GetCapturedStderr();
    EXPECT_EQ(folder.classes(), (std::vector<std::string>{"cats", "dogs", "fish"}));
    // torchvision's sorted walk: a folder's own files, then its subfolders' ("x.jpg" before
    // "nested/c.png"), not one sort of the full paths.
    const std::vector<fs::path> want = {root / "cats/a.png", root / "cats/x.jpg", root / "cats/nested/c.png",
                                        root / "dogs/e.png",  root / "fish/f.jpg", root / "fish/g.png"};
    ASSERT_EQ(folder.size(), int64_t(want.size()));
    for (int64_t i = 0; i < folder.size(); ++i) {
      EXPECT_EQ(folder.path(i), want[size_t(i)]);
      EXPECT_EQ(folder.source(i), want[size_t(i)].string());
    }
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < folder.size(); ++i) labels.push_back(folder.label(i));
    EXPECT_EQ(labels, (std::vector<int64_t>{0, 0, 0, 1, 2, 2}));
    EXPECT_EQ(folder.class_counts(), (std::vector<int64_t>{3, 1, 2}));

    const std::vector<fs::path> bad = {root / "cats/anim.gif", root / "dogs/empty.jpg", root / "dogs/notes.txt",
                                       root / "dogs/trunc.jpg"};
    ASSERT_EQ(folder.skipped().size(), bad.size());
    const auto warnings = lines(err);
    ASSERT_EQ(warnings.size(), bad.size()) << err;
    for (size_t i = 0; i < bad.size(); ++i) {
      EXPECT_EQ(folder.skipped()[i].first, bad[i]);
      EXPECT_FALSE(folder.skipped()[i].second.empty());
      EXPECT_EQ(warnings[i], "hone: warning: skipping '" + bad[i].string() + "': " + folder.skipped()[i].second);
    }
  }
}

TEST(Dataset, ImageFolderLoadsPixels) {
  TempDir tmp;
  const fs::path root = make_folder(tmp.path / "train");
  ::testing::internal::CaptureStderr();
  ImageFolder folder(root);
  ::testing::internal::GetCapturedStderr();
  const Image a = folder.load(0);  // cats/a.png: PNG is lossless
  EXPECT_EQ(a.pixels, pattern_image(6, 8, 3, 1).pixels);
  const Image c = folder.load(2);  // grey PNG comes back as RGB
  EXPECT_EQ(c.channels, 3);
  EXPECT_EQ(c.height, 5);
  const Image b = folder.load(1);  // cats/x.jpg: JPEG: lossy, so only the size
  EXPECT_EQ(b.height, 12);
  EXPECT_EQ(b.width, 16);
  test::expect_error([&] { folder.load(6); }, "out of range");
  test::expect_error([&] { folder.label(-1); }, "out of range");
}

TEST(Dataset, ImageFolderWithoutVerifyChecksHeadersOnly) {
  TempDir tmp;
  const fs::path root = make_folder(tmp.path / "train");
  ::testing::internal::CaptureStderr();
  ImageFolder folder(root, {.verify = false});
  const auto warnings = lines(::testing::internal::GetCapturedStderr());
  // The truncated JPEG's header is whole: it passes a probe and fails only when decoded.
  EXPECT_EQ(folder.size(), 7);
  EXPECT_EQ(folder.path(4), root / "dogs/trunc.jpg");
  ASSERT_EQ(folder.skipped().size(), 3u);
  EXPECT_EQ(warnings.size(), 3u);
  test::expect_error([&] { folder.load(4); }, "trunc.jpg");
}

TEST(Dataset, ImageFolderErrorsNameTheFolder) {
  TempDir tmp;
  test::expect_error([&] { ImageFolder((tmp.path / "nope").string()); }, {"nope", "does not exist"});
  write_bytes(tmp.path / "file.txt", {'x'});
  test::expect_error([&] { ImageFolder(tmp.path / "file.txt"); }, {"file.txt", "not a folder"});
  fs::create_directories(tmp.path / "empty" / ".git");
  test::expect_error([&] { ImageFolder(tmp.path / "empty"); }, {"empty", "no class folders"});
  write_png_file(tmp.path / "one" / "only" / "a.png", pattern_image(4, 4, 3, 1));
  test::expect_error([&] { ImageFolder(tmp.path / "one"); }, {"one", "'only'", "at least 2 classes"});
  write_png_file(tmp.path / "two" / "ants" / "a.png", pattern_image(4, 4, 3, 1));
  write_bytes(tmp.path / "two" / "bees" / "a.txt", {'x'});
  write_bytes(tmp.path / "two" / "bees" / "b.jpg", {});
  ::testing::internal::CaptureStderr();
  test::expect_error([&] { ImageFolder(tmp.path / "two"); }, {"class 'bees'", "no usable image", "2 files skipped"});
  EXPECT_EQ(lines(::testing::internal::GetCapturedStderr()).size(), 2u);  // the warnings still explain why
  fs::create_directories(tmp.path / "three" / "ants");
  fs::create_directories(tmp.path / "three" / "bees");
  write_png_file(tmp.path / "three" / "bees" / "a.png", pattern_image(4, 4, 3, 1));
  test::expect_error([&] { ImageFolder(tmp.path / "three"); }, {"class 'ants'", "0 files skipped"});
}

TEST(Dataset, ImageFolderHymenoptera) {
  HONE_REQUIRE_SHARED("data/hymenoptera/train/ants/imageNotFound.gif");
  const fs::path root = fs::path(test::shared_dir()) / "data/hymenoptera/train";
  ::testing::internal::CaptureStderr();
  ImageFolder folder(root);
  const auto warnings = lines(::testing::internal::GetCapturedStderr());
  EXPECT_EQ(folder.classes(), (std::vector<std::string>{"ants", "bees"}));
  // 124 files in ants (one the GIF placeholder), 121 in bees: counted with find.
  ASSERT_EQ(folder.skipped().size(), 1u);
  EXPECT_EQ(folder.skipped()[0].first, root / "ants" / "imageNotFound.gif");
  EXPECT_EQ(warnings.size(), 1u);
  EXPECT_EQ(folder.size(), 244);
  EXPECT_EQ(folder.class_counts(), (std::vector<int64_t>{123, 121}));
}

// ---- IDX ----

std::vector<uint8_t> idx_bytes(uint32_t magic, const std::vector<uint32_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  auto put32 = [&](uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
  };
  put32(magic);
  for (uint32_t d : dims) put32(d);
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_gz(const fs::path& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.string().c_str(), "wb");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(gzwrite(f, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(f), Z_OK);
}

std::vector<uint8_t> iota_bytes(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 7 + 3);
  return v;
}

TEST(Dataset, IdxReadsGzipAndRaw) {
  TempDir tmp;
  const auto pixels = iota_bytes(5 * 3 * 4);
  const std::vector<uint8_t> labels = {3, 0, 9, 1, 3};
  write_gz(tmp.path / "img.gz", idx_bytes(0x803, {5, 3, 4}, pixels));
  write_gz(tmp.path / "lbl.gz", idx_bytes(0x801, {5}, labels));
  write_bytes(tmp.path / "img.raw", idx_bytes(0x803, {5, 3, 4}, pixels));
  write_bytes(tmp.path / "lbl.raw", idx_bytes(0x801, {5}, labels));
  for (const char* ext : {".gz", ".raw"}) {
    IdxDataset d(tmp.path / (std::string("img") + ext), tmp.path / (std::string("lbl") + ext));
    ASSERT_EQ(d.size(), 5);
    EXPECT_EQ(d.height(), 3);
    EXPECT_EQ(d.width(), 4);
    EXPECT_EQ(d.num_classes(), 10);
    EXPECT_EQ(d.classes()[9], "9");
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(d.label(i), labels[size_t(i)]);
      const Image im = d.load(i);
      EXPECT_EQ(im.channels, 1);
      EXPECT_EQ(im.pixels, std::vector<uint8_t>(pixels.begin() + i * 12, pixels.begin() + (i + 1) * 12));
    }
    EXPECT_EQ(d.source(2), std::string("img") + ext + " #2");
    EXPECT_EQ(d.class_counts(), (std::vector<int64_t>{1, 1, 0, 2, 0, 0, 0, 0, 0, 1}));
    test::expect_error([&] { d.load(5); }, "out of range");
  }
}

TEST(Dataset, IdxErrorsNameTheFile) {
  TempDir tmp;
  const fs::path p = tmp.path;
  write_gz(p / "img.gz", idx_bytes(0x803, {5, 3, 4}, iota_bytes(60)));
  write_gz(p / "lbl.gz", idx_bytes(0x801, {5}, {0, 1, 2, 3, 4}));
  // Files swapped: each has the other's magic.
  test::expect_error([&] { IdxDataset(p / "lbl.gz", p / "img.gz"); }, {"lbl.gz", "magic 0x00000801", "0x00000803"});
  write_gz(p / "short.gz", idx_bytes(0x803, {5, 3, 4}, iota_bytes(59)));
  test::expect_error([&] { IdxDataset(p / "short.gz", p / "lbl.gz"); }, {"short.gz", "truncated", "60"});
  write_bytes(p / "long.raw", idx_bytes(0x803, {5, 3, 4}, iota_bytes(61)));
  test::expect_error([&] { IdxDataset(p / "long.raw", p / "lbl.gz"); }, {"long.raw", "data after"});
  write_gz(p / "lbl4.gz", idx_bytes(0x801, {4}, {0, 1, 2, 3}));
  test::expect_error([&] { IdxDataset(p / "img.gz", p / "lbl4.gz"); }, {"img.gz", "5 images", "lbl4.gz", "4 labels"});
  write_gz(p / "lbl12.gz", idx_bytes(0x801, {5}, {0, 1, 12, 3, 4}));
  test::expect_error([&] { IdxDataset(p / "img.gz", p / "lbl12.gz"); }, {"lbl12.gz", "label 12", "sample 2"});
  test::expect_error([&] { IdxDataset(p / "img.gz", p / "lbl.gz", {"a", "b"}); }, {"label 2", "class count 2"});
  test::expect_error([&] { IdxDataset(p / "missing.gz", p / "lbl.gz"); }, {"missing.gz", "does not exist"});
  write_bytes(p / "tiny.raw", {0, 0, 8});
  test::expect_error([&] { IdxDataset(p / "tiny.raw", p / "lbl.gz"); }, {"tiny.raw", "shorter than an IDX header"});
  // A header that claims 2^32 images is refused before anything is allocated.
  write_bytes(p / "huge.raw", idx_bytes(0x803, {0x80000000u, 28, 28}, {}));
  test::expect_error([&] { IdxDataset(p / "huge.raw", p / "lbl.gz"); }, {"huge.raw", "2^31"});
  // A gzip stream cut short.
  std::ifstream in(p / "img.gz", std::ios::binary);
  std::vector<uint8_t> gz((std::istreambuf_iterator<char>(in)), {});
  gz.resize(gz.size() - 12);
  write_bytes(p / "cut.gz", gz);
  test::expect_error([&] { IdxDataset(p / "cut.gz", p / "lbl.gz"); }, {"cut.gz", "truncated"});
}

TEST(Dataset, FashionMnistTest) {
  const fs::path dir = "/usr/share/datasets/fashion-mnist";
  if (!fs::exists(dir / "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << dir << " not found (apt-get install dataset-fashion-mnist)";
  auto d = fashion_mnist("test");
  ASSERT_EQ(d->size(), 10000);
  EXPECT_EQ(d->height(), 28);
  EXPECT_EQ(d->width(), 28);
  EXPECT_EQ(d->classes().front(), "T-shirt/top");
  EXPECT_EQ(d->classes().back(), "Ankle boot");
  EXPECT_EQ(d->class_counts(), std::vector<int64_t>(10, 1000));
  EXPECT_EQ(d->source(7), "t10k-images-idx3-ubyte.gz #7");
}

TEST(Dataset, FashionMnistErrors) {
  test::expect_error([] { fashion_mnist("val"); }, {"\"val\"", "train", "test"});
  test::expect_error([] { fashion_mnist("test", "/nonexistent/fmnist"); },
                     {"/nonexistent/fmnist/t10k-images-idx3-ubyte.gz", "install dataset-fashion-mnist"});
}

// ---- views ----

// Labels given, images 1x1 with the sample's index as the pixel.
class LabelDataset : public Dataset {
 public:
  explicit LabelDataset(std::vector<int64_t> labels, int64_t num_classes) : labels_(std::move(labels)) {
    for (int64_t c = 0; c < num_classes; ++c) classes_.push_back("c" + std::to_string(c));
  }
  int64_t size() const override { return int64_t(labels_.size()); }
  int64_t label(int64_t i) const override { return labels_.at(size_t(i)); }
  Image load(int64_t i, const DecodeOptions& = {}) const override {
    Image im(1, 1, 1);
    im.pixels[0] = uint8_t(i);
    return im;
  }
  std::string source(int64_t i) const override { return "sample #" + std::to_string(i); }
  const std::vector<std::string>& classes() const override { return classes_; }

 private:
  std::vector<int64_t> labels_;
  std::vector<std::string> classes_;
};

// 20 samples, classes interleaved: 10 of c0, 7 of c1, 3 of c2.
std::shared_ptr<LabelDataset> three_classes() {
  std::vector<int64_t> labels;
  for (int i = 0; i < 10; ++i) {
    labels.push_back(0);
    if (i < 7) labels.push_back(1);
    if (i < 3) labels.push_back(2);
  }
  return std::make_shared<LabelDataset>(labels, 3);
}

TEST(Dataset, RandomSplitIsStratifiedDisjointAndSeeded) {
  auto base = three_classes();
  auto [train, val] = random_split(base, 0.3, 1);
  // round(0.3 * {10, 7, 3}) = {3, 2, 1} go to validation.
  EXPECT_EQ(val->class_counts(), (std::vector<int64_t>{3, 2, 1}));
  EXPECT_EQ(train->class_counts(), (std::vector<int64_t>{7, 5, 2}));
  std::vector<int64_t> all = train->indices();
  all.insert(all.end(), val->indices().begin(), val->indices().end());
  EXPECT_TRUE(std::is_sorted(train->indices().begin(), train->indices().end()));
  EXPECT_TRUE(std::is_sorted(val->indices().begin(), val->indices().end()));
  std::sort(all.begin(), all.end());
  std::vector<int64_t> want(20);
  std::iota(want.begin(), want.end(), 0);
  EXPECT_EQ(all, want);  // disjoint, and together every sample
  for (int64_t i = 0; i < val->size(); ++i) EXPECT_EQ(val->label(i), base->label(val->indices()[size_t(i)]));
  EXPECT_EQ(val->source(0), "sample #" + std::to_string(val->indices()[0]));
  EXPECT_EQ(val->classes(), base->classes());

  EXPECT_EQ(random_split(base, 0.3, 1).second->indices(), val->indices());
  EXPECT_NE(random_split(base, 0.3, 2).second->indices(), val->indices());
  // Pinned: the split must not drift with the compiler or standard library.
  EXPECT_EQ(val->indices(), (std::vector<int64_t>{0, 1, 2, 9, 12, 18}));

  EXPECT_EQ(random_split(base, 0.0, 1).second->size(), 0);
  EXPECT_EQ(random_split(base, 1.0, 1).second->size(), 20);
  test::expect_error([&] { random_split(base, 1.5, 1); }, "fraction 1.5");
}

TEST(Dataset, ClassSubsetRelabels) {
  auto base = three_classes();
  auto sub = class_subset(base, {2, 0});
  EXPECT_EQ(sub->classes(), (std::vector<std::string>{"c2", "c0"}));
  EXPECT_EQ(sub->size(), 13);
  EXPECT_EQ(sub->class_counts(), (std::vector<int64_t>{3, 10}));
  EXPECT_TRUE(std::is_sorted(sub->indices().begin(), sub->indices().end()));
  for (int64_t i = 0; i < sub->size(); ++i) {
    const int64_t base_label = base->label(sub->indices()[size_t(i)]);
    EXPECT_EQ(sub->label(i), base_label == 2 ? 0 : 1);
    EXPECT_EQ(sub->load(i).pixels[0], uint8_t(sub->indices()[size_t(i)]));
  }
  test::expect_error([&] { class_subset(base, {0, 3}); }, {"class 3", "out of range"});
  test::expect_error([&] { class_subset(base, {1, 1}); }, {"class 1", "twice"});
}

TEST(Dataset, PerClassTakesSeededSamples) {
  auto base = three_classes();
  auto four = per_class(base, 4, 5);
  EXPECT_EQ(four->class_counts(), (std::vector<int64_t>{4, 4, 3}));
  EXPECT_TRUE(std::is_sorted(four->indices().begin(), four->indices().end()));
  EXPECT_EQ(per_class(base, 4, 5)->indices(), four->indices());
  EXPECT_NE(per_class(base, 4, 6)->indices(), four->indices());
  EXPECT_EQ(per_class(base, 100, 5)->size(), 20);
  EXPECT_EQ(per_class(base, 0, 5)->size(), 0);
}

TEST(Dataset, SubsetChecksItsArguments) {
  auto base = three_classes();
  test::expect_error([&] { Subset(base, {0, 20}); }, {"index 20", "20 samples"});
  test::expect_error([&] { Subset(base, {0}, {0, 1}); }, {"label_map has 2 entries", "3 base classes"});
  test::expect_error([&] { Subset(base, {0}, {5, 0, 0}, {"x"}); }, "maps to label 5");
  Subset s(base, {4, 4, 1});
  EXPECT_EQ(s.size(), 3);
  EXPECT_EQ(s.label(2), base->label(1));
  test::expect_error([&] { s.load(3); }, {"Subset::load", "out of range"});
}

}  // namespace
}  // namespace hone::io
