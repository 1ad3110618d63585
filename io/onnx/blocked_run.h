#pragma once
// The fast path of an imported network's frozen part: its convs, with the batch norm
// folded in and the residual add and ReLU that follow them fused, its max pools and its
// global average pool run on channel-blocked activations (kernels/cpu/nchwc.h), as ONNX
// Runtime runs them. Used by OnnxModule for every node it may run this way: in eval mode or
// with batch norm frozen, and only where nothing needs a gradient (no_grad, or weights that
// are frozen and an input that needs none: the frozen stages of a partial fine-tune).
// Everything else (the head, Flatten, a Dropout, a trainable stage) runs through the
// ordinary ops, on tensors converted back from the blocked layout where needed.
//
// Results agree with the ordinary ops to rounding (batch norm is folded into the conv's
// weights and bias, and sums run in another order); tests/onnx_blocked_test.cpp checks
// both against each other. OnnxModule::set_blocked_inference(false) turns it off.
#include <atomic>
#include <functional>
#include <string>
#include <unordered_map>

#include "io/onnx/model.h"
#include "kernels/cpu/nchwc.h"
#include "models/blocked.h"
#include "tensor/tensor.h"

namespace hone::io::onnx {

class BlockedRunner {
 public:
  using Values = std::unordered_map<std::string, Tensor>;
  using Reads = std::unordered_map<std::string, int64_t>;  // value -> nodes and graph outputs reading it
  struct Mode {
    bool training = false;  // the module's mode
    int bn_policy = 0;      // OnnxModule::BnPolicy: 0 as the mode, 1 frozen where frozen, 2 all frozen
    kernels::cpu::CpuIsa isa = kernels::cpu::CpuIsa::Auto;  // tests force each the CPU runs
  };

  // Whether this CPU has the blocked kernels (AVX-512 or AVX2 + FMA).
  static bool available();

  // Runs nodes [begin, end) of m over `values`. Nodes it cannot run blocked go to
  // run_node(i) once their inputs are tensors again; it returns how many nodes it ran from i
  // (a node and the Relu it fused: 2). On return every value a later node or
  // a graph output reads is a tensor in `values`.
  // `reads`: how often each value is read by nodes from `begin` on and by graph outputs.
  void run(const Model& m, Values& values, size_t begin, size_t end, Mode mode, const Reads& reads,
           const std::function<size_t(size_t)>& run_node);

  // How many nodes the last run() to finish ran blocked (convs with what they fused, pools);
  // for tests and benchmarks.
  size_t last_blocked_nodes() const { return last_blocked_; }

 private:
  models::PackedConvCache cache_;  // by node index
  std::atomic<size_t> last_blocked_{0};

  friend struct BlockedPass;
};

}  // namespace hone::io::onnx
