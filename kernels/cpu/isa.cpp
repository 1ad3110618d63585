#include "kernels/cpu/isa.h"

namespace hone::kernels::cpu {

bool cpu_isa_supported(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Auto:
    case CpuIsa::Portable: return true;
    case CpuIsa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case CpuIsa::Avx512: return __builtin_cpu_supports("avx512f");
  }
  return false;
}

CpuIsa best_cpu_isa() {
  static const CpuIsa best = cpu_isa_supported(CpuIsa::Avx512) ? CpuIsa::Avx512
                             : cpu_isa_supported(CpuIsa::Avx2) ? CpuIsa::Avx2
                                                               : CpuIsa::Portable;
  return best;
}

const char* cpu_isa_name(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::Auto: return "auto";
    case CpuIsa::Avx512: return "avx512";
    case CpuIsa::Avx2: return "avx2";
    case CpuIsa::Portable: return "portable";
  }
  return "?";
}

}  // namespace hone::kernels::cpu
