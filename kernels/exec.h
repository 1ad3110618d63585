#pragma once
// What a kernel may use besides its data: the threads it may split its work over and, on
// CUDA, the stream it runs on. The dispatch point (autograd/ops/dispatch.h) fills one from
// the current Context for each call; tests and benchmarks build their own. A kernel's
// dependencies are exactly its parameters: no kernel reads a global context.
#include <algorithm>
#include <cstdint>

#include "tensor/thread_pool.h"

namespace hone::kernels {

struct Exec {
  ThreadPool* pool = nullptr;  // nullptr: everything runs on the calling thread
  void* stream = nullptr;      // a cudaStream_t; nullptr = the default stream
  bool allow_tf32 = false;     // CUDA matrix products may use TF32 tensor cores (Context::allow_tf32)

  int threads() const { return pool ? pool->size() : 1; }
};

// Calls fn(begin, end) on disjoint sub-ranges of [0, n), each holding >= grain items, over
// exec's threads. Callers split work so that each output element is computed by exactly
// one chunk in a fixed order: results are bit-identical whatever the thread count.
template <typename F>
void parallel_for(const Exec& exec, int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  const int64_t most = n / std::max<int64_t>(grain, 1);
  const int64_t chunks = std::min<int64_t>(exec.threads(), most);
  if (chunks <= 1) { fn(int64_t(0), n); return; }
  exec.pool->run(chunks, [&](int64_t c) { fn(n * c / chunks, n * (c + 1) / chunks); });
}

}  // namespace hone::kernels
