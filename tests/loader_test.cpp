// DataLoader: every sample once per epoch, batches bitwise equal whatever the worker count,
// seeded epoch orders, resuming part-way (skip), errors from a worker, cancellation, and
// the time next() waits.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <thread>

#include <unistd.h>

#include "io/loader.h"
#include "test_util.h"

namespace hone::io {
namespace {

// n synthetic RGB images of 20x24 whose pixels hash (index, y, x, c); label index % 3.
// One index may be "corrupt" (load throws), and load may sleep to play a slow disk.
class PatternDataset : public Dataset {
 public:
  explicit PatternDataset(int64_t n, int64_t corrupt = -1, int sleep_ms = 0)
      : n_(n), corrupt_(corrupt), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return n_; }
  int64_t label(int64_t i) const override { return i % 3; }
  Image load(int64_t i, const DecodeOptions& = {}) const override {
    if (sleep_ms_ > 0) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    HONE_CHECK(i != corrupt_, "corrupt data in pattern #", i);
    Image im(20, 24, 3);
    for (size_t k = 0; k < im.pixels.size(); ++k) im.pixels[k] = uint8_t((uint64_t(i) * 2654435761u + k * 40503u) >> 7);
    return im;
  }
  std::string source(int64_t i) const override { return "pattern #" + std::to_string(i); }
  const std::vector<std::string>& classes() const override { return classes_; }

 private:
  int64_t n_, corrupt_;
  int sleep_ms_;
  std::vector<std::string> classes_{"a", "b", "c"};
};

Transform train_transform() {
  TransformOptions o;
  o.crop = 8;
  o.train = true;
  return Transform(o);
}

// Every batch of an epoch (after `skip`) laid end to end: indices, labels, image floats.
struct Epoch {
  std::vector<int64_t> indices, labels, positions, batch_sizes;
  std::vector<float> pixels;
};

Epoch run_epoch(DataLoader& loader, int64_t epoch, int64_t skip = 0) {
  Epoch e;
  loader.start_epoch(epoch, skip);
  while (auto b = loader.next()) {
    const int64_t n = int64_t(b->indices.size());
    EXPECT_EQ(b->images.shape(), (Shape{n, 3, 8, 8}));
    EXPECT_EQ(b->images.dtype(), DType::Float32);
    EXPECT_EQ(b->labels.shape(), (Shape{n}));
    EXPECT_EQ(b->labels.dtype(), DType::Int64);
    EXPECT_FALSE(b->images.requires_grad());
    e.indices.insert(e.indices.end(), b->indices.begin(), b->indices.end());
    const int64_t* l = b->labels.data<int64_t>();
    e.labels.insert(e.labels.end(), l, l + n);
    const float* p = b->images.data<float>();
    e.pixels.insert(e.pixels.end(), p, p + b->images.numel());
    e.positions.push_back(b->position);
    e.batch_sizes.push_back(n);
  }
  EXPECT_FALSE(loader.next().has_value());  // stays at the end
  return e;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST(Loader, EverySampleOncePerEpoch) {
  auto data = std::make_shared<PatternDataset>(23);
  for (int64_t batch : {1, 4, 5, 23, 40})
    for (bool drop_last : {false, true})
      for (int64_t workers : {0, 2}) {
        SCOPED_TRACE(::testing::Message() << "batch " << batch << " drop_last " << drop_last << " workers " << workers);
        DataLoader loader(data, train_transform(),
                          {.batch_size = batch, .drop_last = drop_last, .seed = 3, .workers = workers, .prefetch = 2});
        const Epoch e = run_epoch(loader, 0);
        const int64_t kept = drop_last ? 23 / batch * batch : 23;
        EXPECT_EQ(int64_t(e.batch_sizes.size()), loader.batches_per_epoch());
        ASSERT_EQ(int64_t(e.indices.size()), kept);
        const std::vector<int64_t> order = loader.order(0);
        EXPECT_EQ(e.indices, std::vector<int64_t>(order.begin(), order.begin() + kept));
        std::set<int64_t> unique(e.indices.begin(), e.indices.end());
        EXPECT_EQ(int64_t(unique.size()), kept);
        for (size_t k = 0; k < e.indices.size(); ++k) EXPECT_EQ(e.labels[k], e.indices[k] % 3);
        for (size_t b = 0; b < e.positions.size(); ++b) {
          EXPECT_EQ(e.positions[b], int64_t(b) * batch);
          if (drop_last || b + 1 < e.positions.size()) {
            EXPECT_EQ(e.batch_sizes[b], batch);
          }
        }
      }
}

// The determinism promise: the same batches, bit for bit, with 0, 1 or 3 workers and any
// prefetch depth, each sample transformed with the draws of (seed, epoch, dataset index).
TEST(Loader, BatchesBitwiseEqualForAnyWorkerCount) {
  auto data = std::make_shared<PatternDataset>(23);
  const Transform transform = train_transform();
  std::vector<Epoch> runs;
  for (auto [workers, prefetch] : {std::pair{0, 1}, {1, 1}, {3, 2}, {3, 8}}) {
    DataLoader loader(data, transform, {.batch_size = 5, .seed = 11, .workers = workers, .prefetch = prefetch});
    for (int64_t epoch : {0, 1}) runs.push_back(run_epoch(loader, epoch));
  }
  for (size_t r = 2; r < runs.size(); ++r) {
    EXPECT_EQ(runs[r].indices, runs[r % 2].indices) << "run " << r;
    EXPECT_EQ(runs[r].labels, runs[r % 2].labels) << "run " << r;
    EXPECT_TRUE(same_bits(runs[r].pixels, runs[r % 2].pixels)) << "run " << r;
  }
  // Sample k is exactly transform.apply(load(index), seed, epoch, index).
  std::vector<float> one(size_t(transform.output_numel()));
  for (int64_t epoch : {0, 1}) {
    const Epoch& e = runs[size_t(epoch)];
    for (size_t k = 0; k < e.indices.size(); ++k) {
      transform.apply(data->load(e.indices[k]), 11, epoch, e.indices[k], one.data());
      EXPECT_EQ(std::memcmp(one.data(), e.pixels.data() + k * one.size(), one.size() * sizeof(float)), 0) << k;
    }
  }
  // Augmentation differs between epochs: the same sample gets another crop.
  const auto& e0 = runs[0];
  const auto& e1 = runs[1];
  const size_t k0 = size_t(std::find(e0.indices.begin(), e0.indices.end(), 4) - e0.indices.begin());
  const size_t k1 = size_t(std::find(e1.indices.begin(), e1.indices.end(), 4) - e1.indices.begin());
  EXPECT_NE(std::memcmp(e0.pixels.data() + k0 * one.size(), e1.pixels.data() + k1 * one.size(), one.size() * 4), 0);
}

// pin_memory asks for page-locked batches, which only a CUDA driver can give: without a GPU it
// is refused up front, naming the option. With it off (the default), batches are ordinary,
// unpinned CPU tensors, exactly as before the option existed.
TEST(Loader, PinMemoryNeedsAGpuAndIsOffByDefault) {
  auto data = std::make_shared<PatternDataset>(7);
  if (cuda_device_count() == 0)
    test::expect_error([&] { DataLoader(data, train_transform(), {.batch_size = 2, .pin_memory = true}); },
                       {"DataLoader: pin_memory needs a CUDA", "leave it off"});
  DataLoader loader(data, train_transform(), {.batch_size = 3, .seed = 2, .workers = 1});
  loader.start_epoch(0);
  const Batch b = *loader.next();
  EXPECT_FALSE(b.images.is_pinned());
  EXPECT_FALSE(b.labels.is_pinned());
  EXPECT_TRUE(b.images.device().is_cpu());
}

TEST(Loader, OrderIsASeededPermutationPerEpoch) {
  auto data = std::make_shared<PatternDataset>(50);
  DataLoader a(data, train_transform(), {.seed = 1});
  DataLoader b(data, train_transform(), {.seed = 1});
  DataLoader c(data, train_transform(), {.seed = 2});
  DataLoader plain(data, train_transform(), {.shuffle = false, .seed = 1});
  std::vector<int64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 0);
  EXPECT_EQ(plain.order(0), identity);
  EXPECT_EQ(plain.order(7), identity);
  for (int64_t epoch : {0, 1, 2}) {
    std::vector<int64_t> o = a.order(epoch);
    EXPECT_EQ(o, b.order(epoch));
    EXPECT_NE(o, c.order(epoch));
    EXPECT_NE(o, identity);
    std::sort(o.begin(), o.end());
    EXPECT_EQ(o, identity);
  }
  EXPECT_NE(a.order(0), a.order(1));
  // Pinned: the order must not drift with the compiler or standard library.
  const std::vector<int64_t> first = a.order(0);
  EXPECT_EQ(std::vector<int64_t>(first.begin(), first.begin() + 8), (std::vector<int64_t>{31, 28, 2, 16, 15, 40, 45, 17}));
}

// A resumed run that skips k samples sees exactly the rest of the epoch, cut into batches
// from position k.
TEST(Loader, SkipResumesPartWay) {
  auto data = std::make_shared<PatternDataset>(23);
  DataLoader loader(data, train_transform(), {.batch_size = 4, .seed = 5, .workers = 2, .prefetch = 3});
  const Epoch full = run_epoch(loader, 2);
  const size_t per_sample = 3 * 8 * 8;
  for (int64_t skip : {0, 1, 7, 22, 23}) {
    SCOPED_TRACE(skip);
    const Epoch tail = run_epoch(loader, 2, skip);
    EXPECT_EQ(tail.indices, std::vector<int64_t>(full.indices.begin() + skip, full.indices.end()));
    EXPECT_EQ(tail.labels, std::vector<int64_t>(full.labels.begin() + skip, full.labels.end()));
    EXPECT_TRUE(same_bits(tail.pixels, std::vector<float>(full.pixels.begin() + skip * int64_t(per_sample),
                                                            full.pixels.end())));
    for (size_t b = 0; b < tail.positions.size(); ++b) EXPECT_EQ(tail.positions[b], skip + int64_t(b) * 4);
  }
  test::expect_error([&] { loader.start_epoch(0, 24); }, {"skip 24", "[0, 23]"});
}

TEST(Loader, CorruptSampleThrowsNamingIt) {
  auto data = std::make_shared<PatternDataset>(20, /*corrupt=*/11);
  for (int64_t workers : {0, 1, 3}) {
    SCOPED_TRACE(workers);
    DataLoader loader(data, train_transform(), {.batch_size = 4, .shuffle = false, .workers = workers});
    loader.start_epoch(0);
    for (int b = 0; b < 2; ++b) ASSERT_TRUE(loader.next().has_value());
    test::expect_error([&] { loader.next(); }, {"loading sample 11", "'pattern #11'", "corrupt data"});
    // The failed batch is passed: the epoch goes on with the next one.
    auto after = loader.next();
    ASSERT_TRUE(after.has_value());
    EXPECT_EQ(after->position, 12);
  }
  // Destroyed while workers are still busy with batches after the failure: no hang.
  for (int round = 0; round < 5; ++round) {
    DataLoader loader(data, train_transform(), {.batch_size = 2, .shuffle = false, .workers = 3, .prefetch = 4});
    loader.start_epoch(0, 10);
    EXPECT_THROW(loader.next(), Error);
  }
}

TEST(Loader, RestartAndDestroyMidEpoch) {
  auto slow = std::make_shared<PatternDataset>(40, -1, /*sleep_ms=*/2);
  DataLoader loader(slow, train_transform(), {.batch_size = 3, .seed = 9, .workers = 3, .prefetch = 2});
  loader.start_epoch(0);
  ASSERT_TRUE(loader.next().has_value());
  loader.start_epoch(1);  // cancels epoch 0 with batches in flight
  const Epoch e1 = run_epoch(loader, 1);
  DataLoader fresh(slow, train_transform(), {.batch_size = 3, .seed = 9, .workers = 0});
  const Epoch want = run_epoch(fresh, 1);
  EXPECT_EQ(e1.indices, want.indices);
  EXPECT_TRUE(same_bits(e1.pixels, want.pixels));
  for (int round = 0; round < 3; ++round) {
    DataLoader doomed(slow, train_transform(), {.batch_size = 3, .workers = 3, .prefetch = 2});
    doomed.start_epoch(0);
    if (round > 0) doomed.next();
  }  // destroyed with workers mid-batch
}

TEST(Loader, WaitSecondsCountsTimeBlocked) {
  auto slow = std::make_shared<PatternDataset>(12, -1, /*sleep_ms=*/5);
  for (int64_t workers : {0, 1}) {
    DataLoader loader(slow, train_transform(), {.batch_size = 2, .workers = workers});
    EXPECT_EQ(loader.wait_seconds(), 0.0);
    run_epoch(loader, 0);
    EXPECT_GT(loader.wait_seconds(), 0.0);  // the consumer does nothing: it must have waited
    loader.reset_wait();
    EXPECT_EQ(loader.wait_seconds(), 0.0);
  }
}

// End to end on files: an ImageFolder read without verification keeps a JPEG whose header
// is whole but whose data is cut; the loader's error names that file.
TEST(Loader, CorruptFileInImageFolder) {
  namespace fs = std::filesystem;
  const hone::test::TempDir tmp;
  const fs::path root = tmp.path;
  Image im(16, 12, 3);
  for (size_t k = 0; k < im.pixels.size(); ++k) im.pixels[k] = uint8_t(k * 37 >> 3);
  for (const char* cls : {"a", "b"}) {
    fs::create_directories(root / cls);
    for (int i = 0; i < 3; ++i) write_png(im, root / cls / ("img" + std::to_string(i) + ".png"));
  }
  std::vector<uint8_t> jpeg = encode_jpeg(im);
  jpeg.resize(jpeg.size() - 40);  // inside the entropy-coded data, before the EOI marker
  std::ofstream(root / "a" / "img1b.jpg", std::ios::binary).write(reinterpret_cast<const char*>(jpeg.data()),
                                                                   std::streamsize(jpeg.size()));
  {
    auto folder = std::make_shared<ImageFolder>(root, ImageFolderOptions{.verify = false});
    ASSERT_EQ(folder->size(), 7);
    ASSERT_EQ(folder->path(2), root / "a" / "img1b.jpg");
    DataLoader loader(folder, Transform({.resize = 0, .crop = 8}),
                      {.batch_size = 2, .shuffle = false, .workers = 2});
    loader.start_epoch(0);
    ASSERT_TRUE(loader.next().has_value());
    test::expect_error([&] { loader.next(); }, {"loading sample 2", "'" + (root / "a" / "img1b.jpg").string() + "'"});
    int rest = 0;
    while (loader.next()) ++rest;
    EXPECT_EQ(rest, 2);
  }
}

TEST(Loader, ChecksItsArguments) {
  auto data = std::make_shared<PatternDataset>(5);
  test::expect_error([&] { DataLoader(data, train_transform(), {.batch_size = 0}); }, "batch_size 0");
  test::expect_error([&] { DataLoader(data, train_transform(), {.workers = -1}); }, "workers -1");
  test::expect_error([&] { DataLoader(data, train_transform(), {.prefetch = 0}); }, "prefetch 0");
  test::expect_error([&] { DataLoader(nullptr, train_transform(), {}); }, "no dataset");
  DataLoader loader(data, train_transform(), {});
  test::expect_error([&] { loader.next(); }, "start_epoch");
  EXPECT_EQ(loader.size(), 5);
  EXPECT_EQ(loader.batches_per_epoch(), 1);
}

}  // namespace
}  // namespace hone::io
