#include "kernels/registry.h"

#include "hone_config.h"

namespace hone::kernels {

const KernelRegistry& kernel_registry() {
  static const KernelRegistry registry = [] {
    KernelRegistry r;
    cpu::register_kernels(r);
#if HONE_HAS_CUDA
    cuda::register_kernels(r);
#endif
    return r;
  }();
  return registry;
}

}  // namespace hone::kernels
