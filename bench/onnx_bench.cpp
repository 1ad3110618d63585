// Forward of an ONNX file imported by import_onnx, in images/s, at a given batch (eval
// mode, no grad). bench/compare_onnx.sh runs it beside ONNX Runtime on the same file and
// PyTorch on the same architecture, and measures import time and peak memory.
// With --arch (resnet18 or vgg16: the file's architecture) it also reports GFLOP/s and the
// share of the FMA peak, FLOPs counted from hone's own model of that architecture
// (bench/flops.h), provided its parameter count is the file's.
// Usage: onnx_bench --file=PATH --batch=N [--arch=resnet18|vgg16] [--blocked=0|avx2] [Google Benchmark flags]
// --blocked=0 turns off the blocked fast path (io/onnx/blocked_run.h), for a before/after;
// --blocked=avx2 runs its AVX2 kernels on an AVX-512 CPU.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>

#include "bench/flops.h"
#include "bench/fma_peak.h"
#include "hone.h"
#include "models/resnet.h"
#include "models/vgg.h"

namespace {

std::string g_file;
int64_t g_batch = 8;
std::string g_arch;
bool g_blocked = true;  // --blocked=0: every node through the ordinary NCHW ops
hone::kernels::cpu::CpuIsa g_isa = hone::kernels::cpu::CpuIsa::Auto;  // --blocked=avx2: the AVX2 kernels

// FLOPs per image of the file's network, or 0 when --arch is not given or does not match.
double flops_per_image(const hone::nn::Module& imported) {
  if (g_arch.empty()) return 0;
  hone::Generator g(1);
  std::shared_ptr<hone::nn::Module> net;
  if (g_arch == "resnet18") net = hone::models::resnet18(1000, &g);
  else if (g_arch == "vgg16") net = hone::models::vgg16(1000, false, &g);
  if (!net || net->count_parameters().total != imported.count_parameters().total) {
    std::fprintf(stderr, "onnx_bench: --arch=%s is not the file's network (parameter counts differ); no %%peak\n",
                 g_arch.c_str());
    return 0;
  }
  return hone::bench::count_flops(*net, 3, 224).forward;
}

void BM_onnx_forward(benchmark::State& state) {
  auto m = hone::io::onnx::import_onnx(g_file);
  static const double per_image = flops_per_image(*m);
  if (per_image > 0) hone::bench::fma_peak();  // measured once, before the timed loop
  m->eval();
  m->set_blocked_inference(g_blocked, g_isa);
  hone::NoGradGuard no_grad;
  const auto& in = m->model().inputs.at(0);
  hone::Shape shape(in.dims.begin(), in.dims.end());
  shape[0] = g_batch;
  const hone::Tensor x = hone::uniform(shape, -1, 1);
  m->forward(x);  // warm-up
  const hone::bench::PeakClock clock;
  for (auto _ : state) benchmark::DoNotOptimize(m->forward(x));
  state.counters["img/s"] = benchmark::Counter(double(g_batch), benchmark::Counter::kIsIterationInvariantRate);
  if (per_image > 0) {  // named to sort before img/s: bench/compare_onnx.sh reads the last column
    const double flops = per_image * double(g_batch);
    state.counters["GFLOP/s"] =
        benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
    clock.report(state, flops);
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<char*> rest = {argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (!std::strncmp(argv[i], "--file=", 7)) g_file = argv[i] + 7;
    else if (!std::strncmp(argv[i], "--batch=", 8)) g_batch = std::stoll(argv[i] + 8);
    else if (!std::strncmp(argv[i], "--arch=", 7)) g_arch = argv[i] + 7;
    else if (!std::strncmp(argv[i], "--blocked=", 10)) {
      g_blocked = std::strcmp(argv[i] + 10, "0") != 0;
      if (!std::strcmp(argv[i] + 10, "avx2")) g_isa = hone::kernels::cpu::CpuIsa::Avx2;
    }
    else rest.push_back(argv[i]);
  }
  if (g_file.empty()) {
    std::fprintf(stderr, "usage: onnx_bench --file=MODEL.onnx --batch=N [--arch=resnet18|vgg16] [--blocked=0|avx2] [benchmark flags]\n");
    return 2;
  }
  benchmark::RegisterBenchmark("onnx_forward", BM_onnx_forward)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(2.0);
  int n = int(rest.size());
  benchmark::Initialize(&n, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
