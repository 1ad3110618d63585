// Images in: decode + augment + batch throughput of io::DataLoader on a real photo folder
// (default ../shared/data/hymenoptera/train; HONE_BENCH_DATA overrides), with the
// training transform (RandomResizedCrop 224 + flip + normalise, JPEGs decoded with DCT
// scaling) and the evaluation transform (Resize 256 + CenterCrop 224, full decode).
// bench/compare_data.sh runs it beside torchvision's ImageFolder + DataLoader.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>

#include "hone.h"
#include "io/dataset.h"
#include "io/loader.h"

namespace {

std::shared_ptr<const hone::io::ImageFolder> folder() {
  static std::shared_ptr<const hone::io::ImageFolder> f = [] {
    const char* env = std::getenv("HONE_BENCH_DATA");
    const std::string dir = env ? env : std::string(HONE_SOURCE_DIR) + "/../shared/data/hymenoptera/train";
    return std::make_shared<const hone::io::ImageFolder>(dir, hone::io::ImageFolderOptions{.verify = false});
  }();
  return f;
}

void run(benchmark::State& state, bool train) {
  if (!std::filesystem::exists(std::string(HONE_SOURCE_DIR) + "/../shared/data/hymenoptera/train") &&
      !std::getenv("HONE_BENCH_DATA")) {
    state.SkipWithError("no photo folder: set HONE_BENCH_DATA");
    return;
  }
  auto ds = folder();
  hone::io::TransformOptions t;
  t.train = train;
  hone::io::DataLoader loader(ds, hone::io::Transform(t),
                              {.batch_size = 32, .seed = 1, .workers = state.range(0), .prefetch = 4});
  int64_t epoch = 0, images = 0;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto b = loader.next()) images += b->labels.size(0);
  }
  state.counters["images_per_second"] = benchmark::Counter(double(images), benchmark::Counter::kIsRate);
}

void BM_loader_train(benchmark::State& state) { run(state, true); }
void BM_loader_eval(benchmark::State& state) { run(state, false); }
BENCHMARK(BM_loader_train)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
BENCHMARK(BM_loader_eval)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);

}  // namespace
