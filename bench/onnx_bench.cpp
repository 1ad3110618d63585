// Forward of an ONNX file imported by import_onnx, in images/s, at a given batch (eval
// mode, no grad). bench/compare_onnx.sh runs it beside ONNX Runtime on the same file and
// PyTorch on the same architecture, and measures import time and peak memory.
// Usage: onnx_bench --file=PATH --batch=N [Google Benchmark flags]
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "hone.h"

namespace {

std::string g_file;
int64_t g_batch = 8;

void BM_onnx_forward(benchmark::State& state) {
  auto m = hone::io::onnx::import_onnx(g_file);
  m->eval();
  hone::NoGradGuard no_grad;
  const auto& in = m->model().inputs.at(0);
  hone::Shape shape(in.dims.begin(), in.dims.end());
  shape[0] = g_batch;
  const hone::Tensor x = hone::uniform(shape, -1, 1);
  m->forward(x);  // warm-up
  for (auto _ : state) benchmark::DoNotOptimize(m->forward(x));
  state.counters["img/s"] = benchmark::Counter(double(g_batch), benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--file=", 7)) g_file = argv[i] + 7;
    else if (!std::strncmp(argv[i], "--batch=", 8)) g_batch = std::stoll(argv[i] + 8);
    else rest.push_back(argv[i]);
  }
  if (g_file.empty()) {
    std::fprintf(stderr, "usage: onnx_bench --file=MODEL.onnx --batch=N [benchmark flags]\n");
    return 2;
  }
  benchmark::RegisterBenchmark("onnx_forward", BM_onnx_forward)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
