// Every CUDA kernel, registered under its op family (kernels/registry.h). Issue 13 adds the
// rest of the training step here; until then ops without a CUDA kernel report that they
// have none for cuda, naming the op.
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/pooling.h"
#include "kernels/registry.h"

namespace hone::kernels::cuda {

void register_kernels(KernelRegistry& r) {
  constexpr DeviceType kCuda = DeviceType::CUDA;
  r.unary.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", unary);
  r.binary.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", binary);
  // Compiled, not yet run on a GPU: the op harness checks them against the reference there.
  r.conv2d_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", conv2d_forward);
  r.batch_norm_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", batchnorm_forward);
  r.batch_norm_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", batchnorm_backward);
  r.max_pool2d_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", max_pool2d_forward);
  r.max_pool2d_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", max_pool2d_backward);
  r.avg_pool2d_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", avg_pool2d_forward);
  r.avg_pool2d_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", avg_pool2d_backward);
  r.adaptive_avg_pool2d_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda",
                                    adaptive_avg_pool2d_forward);
  r.adaptive_avg_pool2d_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda",
                                     adaptive_avg_pool2d_backward);
  r.matmul.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", matmul);
  r.conv2d_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", conv2d_backward);
}

}  // namespace hone::kernels::cuda
