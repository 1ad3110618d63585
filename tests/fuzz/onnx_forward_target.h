#pragma once
// ONNX import + run target: what `hone predict` and `hone finetune` do with a model file.
// The input is read as in onnx_reader_target.h; a model is then run on random inputs shaped
// from its graph inputs (symbolic dims: batch 2, others 8), once in eval mode without
// gradients, then with a new 3-class head (when the graph has one) in training mode with a
// backward pass from the sum of its outputs. Inputs the target would have to make large
// (a dim over 64, over 2^14 elements, rank over 6) are skipped, not run: what the library
// does with huge shapes is for the reader's own checks. Run it with -timeout and
// -rss_limit_mb: a graph that computes huge intermediates is a finding too.
// Seeds: tests/fuzz/corpus/onnx.
#include "autograd/grad_mode.h"
#include "autograd/ops.h"
#include "fuzz/fuzz_util.h"
#include "io/onnx/import.h"

namespace hone::fuzz {

inline bool onnx_forward_target(const uint8_t* data, size_t size) {
  constexpr int64_t kMaxDim = 64, kMaxElements = int64_t(1) << 14, kMaxRank = 6;
  const fs::path path = write_model(data, size);
  try {
    io::onnx::OnnxModule module(io::onnx::read_model(path));
    Generator gen(11);
    std::vector<Tensor> inputs;
    for (const io::onnx::ValueInfo& vi : module.model().inputs) {
      if (int64_t(vi.dims.size()) > kMaxRank) return false;
      Shape shape;
      int64_t elements = 1;
      for (size_t d = 0; d < vi.dims.size(); ++d) {
        const int64_t n = vi.dims[d] >= 0 ? vi.dims[d] : d == 0 ? 2 : 8;
        if (n > kMaxDim || (elements *= n) > kMaxElements) return false;
        shape.push_back(n);
      }
      inputs.push_back(randn(shape, {}, &gen));
    }
    {
      NoGradGuard no_grad;
      module.eval();
      for (const Tensor& y : module.run(inputs))
        if (!y.defined()) bug("eval run gave an undefined output");
    }
    try {
      module.replace_head(3, &gen);
    } catch (const Error& e) {
      refused(e);  // no classifier head: train the graph as it is
    }
    module.train();
    Tensor loss;
    for (const Tensor& y : module.run(inputs)) {
      if (!y.defined()) bug("training run gave an undefined output");
      if (y.requires_grad()) loss = loss.defined() ? loss + y.sum() : y.sum();
    }
    if (loss.defined()) loss.backward();
    return true;
  } catch (const Error& e) {
    refused(e);
    return false;
  }
}

}  // namespace hone::fuzz
