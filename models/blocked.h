#pragma once
// The frozen front of a built-in network (ResNet, VGG) run as inference, the way an imported
// file's frozen part runs (io/onnx/blocked_run.h): activations stay channel-blocked
// (kernels/cpu/nchwc.h) from the first conv to the last frozen one, each conv with its batch
// norm folded in and the residual add and ReLU after it fused, max pools and the global
// average pool blocked. One conversion in, one out; nothing saved for backward.
//
// Without it each frozen conv converted its input to the blocked layout and its output back,
// and batch norm and ReLU each passed over memory again: a head-only step of the built-in
// ResNet-18 took 1.15-1.19x PyTorch's time where an imported one took 1.55-1.83x.
//
// A module runs here only when nothing needs a gradient through it (no_grad, or all its
// weights frozen and an input that needs none), each of its batch norms uses running
// statistics (eval mode or Frozen), and it is CPU float32 of the expected layer types (a
// layer swapped in with replace_module, such as a PackNet mask, runs the ordinary way).
// Results agree with the ordinary ops to rounding (the fold and the sums' order differ);
// tests/models_blocked_test.cpp checks them against each other.
#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "kernels/cpu/nchwc.h"
#include "nn/layers.h"
#include "tensor/tensor.h"

namespace hone::models {

// Batch norm on running statistics, folded into the conv before it: y = (conv - mean) *
// scale / sqrt(var + eps) + shift. scale and shift may be null (not affine: 1 and 0).
struct FoldedBatchNorm {
  const Tensor *scale, *shift, *mean, *var;
  double eps;
};

// Packed conv weights (pack_conv, batch norm folded in) by key: a conv module, a graph node.
// An entry is packed again when any tensor it came from changed: another storage (held
// weakly, so a new one at a freed one's address is still another) or another version.
// Hands out copies that share the packed floats, so a forward on another thread that repacks
// an entry cannot free the weights this one is reading.
class PackedConvCache {
 public:
  // w [c_out, c_in, kh, kw]; bias [c_out] or null; in_lanes: the input layout's lanes.
  kernels::cpu::nchwc::PackedConv get(uintptr_t key, const Tensor& w, const Tensor* bias, const FoldedBatchNorm* bn,
                                      int64_t in_lanes, kernels::cpu::CpuIsa isa);

 private:
  struct Source {
    std::weak_ptr<Storage> storage;
    const void* data = nullptr;
    uint64_t version = 0;
    bool operator==(const Source& o) const {
      return data == o.data && version == o.version && !storage.owner_before(o.storage) && !o.storage.owner_before(storage);
    }
  };
  struct Entry {
    std::vector<Source> sources;
    kernels::cpu::nchwc::PackedConv packed;
  };
  std::mutex mu_;
  std::unordered_map<uintptr_t, Entry> entries_;
};

// An activation in the blocked layout.
struct BlockedActivation {
  kernels::cpu::nchwc::Layout l;
  std::shared_ptr<kernels::cpu::AlignedFloats> buf;
  float* data() const { return buf->data(); }
  static BlockedActivation allocate(const kernels::cpu::nchwc::Layout& l);  // uninitialised
};

// One forward's blocked steps. The model decides what runs here (frozen()) and in what order;
// each step allocates its output.
class BlockedForward {
 public:
  explicit BlockedForward(PackedConvCache& cache, kernels::cpu::CpuIsa isa = kernels::cpu::CpuIsa::Auto);
  // Whether this CPU has the blocked kernels (AVX-512, or AVX2 + FMA).
  static bool available();
  // Whether `m` may run here on input x (see the top of this file): every parameter needs no
  // gradient (or grad mode is off), every BatchNorm2d in it uses running statistics, x and
  // the parameters are CPU float32, and no one watches the layers one by one (an export's
  // trace, Module::summary).
  static bool frozen(const nn::Module& m, const Tensor& x);

  // NCHW x -> blocked, with a zero border as wide as `first`'s widest pad (the conv that
  // reads it).
  BlockedActivation input(const Tensor& x, const nn::Conv2d& first) const;
  // relu(bn(conv(x)) + residual), the bn, residual and relu each optional. Null when the conv
  // cannot run blocked (groups, dilation, a pad wider than x's border); the caller then
  // runs the ordinary layers.
  std::unique_ptr<BlockedActivation> conv(const nn::Conv2d& conv, const nn::BatchNorm2d* bn, bool relu,
                                          const BlockedActivation& x, const BlockedActivation* residual = nullptr);
  std::unique_ptr<BlockedActivation> max_pool(const nn::MaxPool2d& pool, const BlockedActivation& x) const;
  Tensor global_avg_pool(const BlockedActivation& x) const;  // [n, c, 1, 1]
  Tensor tensor(const BlockedActivation& x) const;           // NCHW
  size_t convs() const { return convs_; }                    // run so far

 private:
  PackedConvCache& cache_;
  kernels::cpu::CpuIsa isa_;
  int64_t lanes_;
  size_t convs_ = 0;
};

}  // namespace hone::models
