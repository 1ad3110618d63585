// Every CPU kernel, registered under its op family: the whole list in one place.
#include "kernels/cpu/batchnorm.h"
#include "kernels/cpu/conv2d.h"
#include "kernels/cpu/dropout.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/matmul.h"
#include "kernels/cpu/optim.h"
#include "kernels/cpu/pooling.h"
#include "kernels/cpu/reduce.h"
#include "kernels/cpu/softmax.h"
#include "kernels/registry.h"

namespace hone::kernels::cpu {

void register_kernels(KernelRegistry& r) {
  constexpr DeviceType kCpu = DeviceType::CPU;
  constexpr Backend kOurs = Backend::Native;
  const std::initializer_list<DType> floats{DType::Float32, DType::Float64};
  // Integer dtypes run the ops that make sense for them; the kernel names the others.
  const std::initializer_list<DType> numbers{DType::Float32, DType::Float64, DType::Int64, DType::Int32, DType::UInt8};

  r.unary.add(kCpu, numbers, kOurs, "cpu", unary);
  r.binary.add(kCpu, numbers, kOurs, "cpu", binary);
  r.matmul.add(kCpu, floats, kOurs, "cpu", matmul);
  r.conv2d_forward.add(kCpu, floats, kOurs, "cpu", conv2d_forward);
  r.conv2d_backward.add(kCpu, floats, kOurs, "cpu", conv2d_backward);
  r.batch_norm_forward.add(kCpu, floats, kOurs, "cpu", batchnorm_forward);
  r.batch_norm_backward.add(kCpu, floats, kOurs, "cpu", batchnorm_backward);
  r.max_pool2d_forward.add(kCpu, floats, kOurs, "cpu", max_pool2d_forward);
  r.max_pool2d_backward.add(kCpu, floats, kOurs, "cpu", max_pool2d_backward);
  r.avg_pool2d_forward.add(kCpu, floats, kOurs, "cpu", avg_pool2d_forward);
  r.avg_pool2d_backward.add(kCpu, floats, kOurs, "cpu", avg_pool2d_backward);
  r.adaptive_avg_pool2d_forward.add(kCpu, floats, kOurs, "cpu", adaptive_avg_pool2d_forward);
  r.adaptive_avg_pool2d_backward.add(kCpu, floats, kOurs, "cpu", adaptive_avg_pool2d_backward);
  r.softmax_forward.add(kCpu, floats, kOurs, "cpu", softmax_forward);
  r.softmax_backward.add(kCpu, floats, kOurs, "cpu", softmax_backward);
  r.cross_entropy_forward.add(kCpu, floats, kOurs, "cpu", cross_entropy_forward);
  r.cross_entropy_backward.add(kCpu, floats, kOurs, "cpu", cross_entropy_backward);
  r.sum.add(kCpu, {DType::Float32, DType::Float64, DType::Int64, DType::Int32}, kOurs, "cpu", sum);
  r.max_dim.add(kCpu, numbers, kOurs, "cpu", max_dim);
  r.index_add_dim.add(kCpu, floats, kOurs, "cpu", index_add_dim);
  r.dropout_forward.add(kCpu, floats, kOurs, "cpu", dropout_forward);
  r.dropout_backward.add(kCpu, floats, kOurs, "cpu", dropout_backward);
  r.sgd_update.add(kCpu, floats, kOurs, "cpu", sgd_update);
  r.adam_update.add(kCpu, floats, kOurs, "cpu", adam_update);
  r.sum_of_squares.add(kCpu, floats, kOurs, "cpu", sum_of_squares);
  r.clip_scale.add(kCpu, floats, kOurs, "cpu", clip_scale);
}

}  // namespace hone::kernels::cpu
