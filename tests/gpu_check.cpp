// gpu_check: the op harness's CUDA half without GoogleTest, so it builds on a GPU machine
// that has only nvcc, CMake and a compiler (bench/gpu.sh builds hone there with
// -DHONE_WITH_IO=OFF). For every case of tests/op_cases.h it runs each registered CUDA
// kernel on the device against the float64 reference (the same inputs, tolerances and NaN
// pre-fill as tests/op_harness_test.cpp, which checks the CPU kernels the same way), then
// checks the device caching allocator on the real device.
//   gpu_check [--filter TEXT] [--perf] [--reps N]
// --perf also times each CUDA kernel (median of N runs, synchronised), printing GFLOP/s or
// GB/s where the case states its work. Exit status: 0 all passed, 1 a failure, 77 no GPU
// (the reason is printed).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "op_cases.h"
#include "tensor/caching_allocator.h"

namespace hone {
namespace {

int check_allocator() {
  const size_t before = cuda_memory_stats(0).allocated_bytes;
  {
    Tensor t = zeros({1024, 1024}, {.device = Device::cuda(0)});
    if (cuda_memory_stats(0).allocated_bytes != before + (size_t(4) << 20)) {
      std::printf("FAIL allocator: a 4 MiB tensor is not counted as allocated\n");
      return 1;
    }
  }
  const size_t hits = cuda_memory_stats(0).cache_hits;
  Tensor again = zeros({1024, 1024}, {.device = Device::cuda(0)});
  if (cuda_memory_stats(0).cache_hits != hits + 1) {
    std::printf("FAIL allocator: the freed block was not reused\n");
    return 1;
  }
  std::printf("PASS allocator: counted, freed, reused (reserved %.1f MiB)\n",
              double(cuda_memory_stats(0).reserved_bytes) / 1048576.0);
  return 0;
}

int run(int argc, char** argv) {
  std::string filter;
  bool perf = false;
  int reps = 10;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--filter") && i + 1 < argc) filter = argv[++i];
    else if (!std::strcmp(argv[i], "--perf")) perf = true;
    else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) reps = std::max(1, std::atoi(argv[++i]));
    else {
      std::fprintf(stderr, "usage: gpu_check [--filter TEXT] [--perf] [--reps N]\n");
      return 2;
    }
  }
  if (!cuda_built() || cuda_device_count() == 0) {
    std::printf("gpu_check: %s: nothing to check\n", cuda_built() ? "no CUDA device present" : "built without CUDA");
    return 77;
  }
  int passed = 0, failed = 0;
  for (const harness::OpCase& c : harness::op_cases()) {
    if (!filter.empty() && c.name.find(filter) == std::string::npos && c.table.find(filter) == std::string::npos) continue;
    for (DType t : c.dtypes) {
      harness::Prepared ref = c.reference(t);
      ref.problem->reset();
      ref.run({});
      const auto expected = ref.problem->outputs();
      for (const harness::Variant& v : c.variants(t)) {
        if (v.device != DeviceType::CUDA) continue;
        harness::Prepared p = v.prepare();
        p.problem->reset();
        try {
          p.run({});
          cuda_synchronize();
        } catch (const Error& e) {
          std::printf("FAIL %s | %s: %s\n", c.name.c_str(), v.label.c_str(), e.what());
          ++failed;
          continue;
        }
        const harness::Comparison cmp = harness::compare_outputs(p.problem->outputs(), expected, harness::tolerance_for(c, v));
        if (!cmp.failures.empty()) {
          std::printf("FAIL %s | %s:\n%s\n", c.name.c_str(), v.label.c_str(), cmp.failures.c_str());
          ++failed;
          continue;
        }
        ++passed;
        std::printf("PASS %s | %s: error %.3g (tolerance %.3g)", c.name.c_str(), v.label.c_str(), cmp.error,
                    harness::tolerance_for(c, v));
        if (perf) {
          std::vector<double> ms;
          for (int r = 0; r < reps; ++r) {
            const auto t0 = std::chrono::steady_clock::now();
            p.run({});
            cuda_synchronize();
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
          }
          std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
          const double med = ms[ms.size() / 2];
          std::printf(" | %.4f ms", med);
          if (c.flops > 0) std::printf(" %.1f GFLOP/s", c.flops / med / 1e6);
          if (c.elements > 0) std::printf(" %.1f GB/s", c.elements * double(dtype_size(t)) / med / 1e6);
        }
        std::printf("\n");
      }
    }
  }
  failed += filter.empty() ? check_allocator() : 0;
  std::printf("gpu_check: %d CUDA kernel runs passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace hone

int main(int argc, char** argv) {
  try {
    return hone::run(argc, argv);
  } catch (const std::exception& e) {
    std::printf("gpu_check: %s\n", e.what());
    return 1;
  }
}
