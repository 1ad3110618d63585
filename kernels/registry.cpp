#include "kernels/registry.h"

#include <mutex>
#include <set>

#include "hone_config.h"

namespace hone::kernels {

namespace {
KernelRegistry& registry_instance() {
  static KernelRegistry registry = [] {
    KernelRegistry r;
    cpu::register_kernels(r);
#if HONE_HAS_CUDA
    cuda::register_kernels(r);
#endif
    return r;
  }();
  return registry;
}
}  // namespace

const KernelRegistry& kernel_registry() { return registry_instance(); }

void extend_kernel_registry(void (*add)(KernelRegistry&)) {
  static std::mutex mutex;
  static std::set<void (*)(KernelRegistry&)> added;
  std::lock_guard<std::mutex> lock(mutex);
  if (!added.insert(add).second) return;
  add(registry_instance());
}

}  // namespace hone::kernels
