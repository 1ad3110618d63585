#pragma once
// The CPU instruction sets our hand-vectorised kernels come in: the GEMM micro-kernels
// (kernels/cpu/gemm_*.cpp) and the direct convolution's tiles (conv2d_direct_*.cpp) each
// have an AVX-512 and an AVX2+FMA build, chosen at run time from the CPU's features. Auto
// picks the widest this CPU runs; tests force each one the CPU supports.
namespace hone::kernels::cpu {

enum class CpuIsa { Auto, Avx512, Avx2, Portable };

CpuIsa best_cpu_isa();               // what Auto picks on this CPU
bool cpu_isa_supported(CpuIsa isa);  // can this CPU run kernels built for it?
const char* cpu_isa_name(CpuIsa isa);

}  // namespace hone::kernels::cpu
