#pragma once
// parallel_for over an index range with the current context's threads, for tensor/'s own
// raw copies, fills and random fills (tensor/copy.cpp, tensor/factory.cpp). Kernels do not
// use this: they get their threads as an argument (kernels/exec.h). Callers split work so
// that each output element is computed by exactly one chunk in a fixed order: results are
// bit-identical whatever the thread count.
#include <algorithm>
#include <cstdint>

#include "tensor/context.h"

namespace hone {

// Calls fn(begin, end) on disjoint sub-ranges of [0, n); ranges hold >= grain items.
// Work too small to split never touches the pool; otherwise the call holds its own
// snapshot of the pool (see Context::thread_pool): the context is locked once per call.
template <typename F>
void parallel_for(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  const int64_t most = n / std::max<int64_t>(grain, 1);
  if (most <= 1) { fn(int64_t(0), n); return; }
  const std::shared_ptr<ThreadPool> pool = Context::current().thread_pool();
  const int64_t chunks = std::min<int64_t>(pool->size(), most);
  if (chunks <= 1) { fn(int64_t(0), n); return; }
  pool->run(chunks, [&](int64_t c) { fn(n * c / chunks, n * (c + 1) / chunks); });
}

}  // namespace hone
