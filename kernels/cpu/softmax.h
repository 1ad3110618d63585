#pragma once
// softmax / log_softmax along one dim of a contiguous tensor seen as [outer, dim, inner],
// and cross-entropy on [N, C] logits with integer targets and label smoothing.
// `*_reference` are the textbook definitions (full Jacobians, double sums), for the tests.
#include <cstdint>

#include "kernels/softmax.h"
#include "kernels/exec.h"
#include "tensor/dtype.h"

namespace hone::kernels::cpu {

void softmax_forward(const SoftmaxForwardArgs& args, const Exec& exec);
void softmax_backward(const SoftmaxBackwardArgs& args, const Exec& exec);
void softmax_forward_reference(const SoftmaxForwardArgs& args);
void softmax_backward_reference(const SoftmaxBackwardArgs& args);

void cross_entropy_forward(const CrossEntropyArgs& args, const Exec& exec);
void cross_entropy_backward(const CrossEntropyBackwardArgs& args, const Exec& exec);
void cross_entropy_forward_reference(const CrossEntropyArgs& args);
void cross_entropy_backward_reference(const CrossEntropyBackwardArgs& args);

}  // namespace hone::kernels::cpu
