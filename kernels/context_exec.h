#pragma once
// For code that calls a kernel directly (tests, benchmarks, an embedder's own loop): the
// current context's threads as a kernel's Exec, held for as long as this object lives.
//   kernels::cpu::conv2d_forward(args, kernels::ContextExec());
// No kernel includes this: kernels see only the Exec they are handed.
#include <memory>

#include "kernels/exec.h"
#include "tensor/context.h"

namespace hone::kernels {

struct ContextExec {
  std::shared_ptr<ThreadPool> pool = Context::current().thread_pool();
  Exec exec{.pool = pool.get(), .stream = Context::current().cuda_stream(), .allow_tf32 = Context::current().allow_tf32()};
  operator const Exec&() const { return exec; }
};

}  // namespace hone::kernels
