// Every CUDA kernel, registered under its op family (kernels/registry.h). None has run on a
// GPU yet: they are compiled (tools/check_cuda_kernels.sh) and wait for a GPU session to run
// the op harness over them against the reference and the CPU kernels.
#include "kernels/cuda/batchnorm.h"
#include "kernels/cuda/conv2d.h"
#include "kernels/cuda/dropout.h"
#include "kernels/cuda/elementwise.h"
#include "kernels/cuda/matmul.h"
#include "kernels/cuda/optim.h"
#include "kernels/cuda/pooling.h"
#include "kernels/cuda/reduce.h"
#include "kernels/cuda/softmax.h"
#include "kernels/registry.h"

namespace hone::kernels::cuda {

void register_kernels(KernelRegistry& r) {
  constexpr DeviceType kCuda = DeviceType::CUDA;
  r.unary.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", unary);
  r.binary.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", binary);
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
  r.softmax_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", softmax_forward);
  r.softmax_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", softmax_backward);
  r.cross_entropy_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", cross_entropy_forward);
  r.cross_entropy_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", cross_entropy_backward);
  r.sum.add(kCuda, {DType::Float32, DType::Float64, DType::Int64, DType::Int32}, Backend::Native, "cuda", sum);
  r.max_dim.add(kCuda, {DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8}, Backend::Native, "cuda",
                max_dim);
  r.index_add_dim.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", index_add_dim);
  r.matmul.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", matmul);
  r.conv2d_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", conv2d_backward);
  r.dropout_forward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", dropout_forward);
  r.dropout_backward.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", dropout_backward);
  r.sgd_update.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", sgd_update);
  r.adam_update.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", adam_update);
  r.sum_of_squares.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", sum_of_squares);
  r.clip_scale.add(kCuda, {DType::Float32, DType::Float64}, Backend::Native, "cuda", clip_scale);
}

}  // namespace hone::kernels::cuda
