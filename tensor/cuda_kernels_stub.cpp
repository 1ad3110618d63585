// Built without CUDA, the tensor layer's CUDA kernels (tensor/cuda_kernels.h) exist and
// throw, so copy.cpp and factory.cpp need no #ifdef.
#include "hone_config.h"

#if !HONE_HAS_CUDA
#include "tensor/cuda_kernels.h"
#include "tensor/error.h"

namespace hone::detail {

namespace {
[[noreturn]] void not_built(const char* what) { fail(what, ": hone was built without CUDA (configure with -DHONE_CUDA=ON)"); }
}  // namespace

bool cuda_copy_converts(DType) { return false; }
void cuda_strided_copy(void*, DType, const void*, DType, const StridedIndex<2>&, void*) { not_built("cuda copy"); }
void cuda_fill_uniform(void*, DType, int64_t, uint64_t, uint64_t, double, double, void*) { not_built("cuda uniform"); }
void cuda_fill_normal(void*, DType, int64_t, uint64_t, uint64_t, double, double, void*) { not_built("cuda normal"); }

}  // namespace hone::detail
#endif
