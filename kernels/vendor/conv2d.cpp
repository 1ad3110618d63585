// conv2d through cuDNN's legacy convolution API (kernels/vendor/vendor.h has the mapping).
// Compiled; no GPU has run it yet.
#include <cuda_runtime.h>

#include <array>
#include <map>
#include <mutex>

#include "kernels/vendor/common.h"
#include "kernels/vendor/kernels.h"
#include "tensor/cuda_runtime.h"
#include "tensor/error.h"

namespace hone::kernels::vendor {

namespace {

// Refuses what cuDNN's convolution cannot express, before anything is created or launched.
void refuse_unsupported(const Conv2dGeometry& g, const char* op) {
  HONE_CHECK(g.pad_top == g.pad_bottom && g.pad_left == g.pad_right, op, ": padding top/bottom ", g.pad_top, "/",
             g.pad_bottom, ", left/right ", g.pad_left, "/", g.pad_right,
             " is asymmetric and cuDNN pads symmetrically; use Backend::Native for conv2d");
}

// The descriptors of one convolution: input, weight, output, and the convolution itself.
struct ConvDescs {
  TensorDesc x, y, bias;
  cudnnFilterDescriptor_t w = nullptr;
  cudnnConvolutionDescriptor_t conv = nullptr;

  ConvDescs(const Conv2dGeometry& g, DType t, const char* op) {
    HONE_CUDNN_CHECK(cudnnCreateFilterDescriptor(&w));
    HONE_CUDNN_CHECK(cudnnCreateConvolutionDescriptor(&conv));
    const cudnnDataType_t type = cudnn_type(t, op);
    x.set(t, g.n, g.c_in, g.h, g.w, op);
    y.set(t, g.n, g.c_out, g.out_h(), g.out_w(), op);
    bias.set(t, 1, g.c_out, 1, 1, op);
    HONE_CUDNN_CHECK(cudnnSetFilter4dDescriptor(w, type, CUDNN_TENSOR_NCHW, to_int(g.c_out, op, "c_out"),
                                                to_int(g.c_in / g.groups, op, "c_in / groups"),
                                                to_int(g.kh, op, "kh"), to_int(g.kw, op, "kw")));
    // The accumulation type is the data type: float32 sums in float32, as hone's CUDA kernels.
    HONE_CUDNN_CHECK(cudnnSetConvolution2dDescriptor(
        conv, to_int(g.pad_top, op, "pad"), to_int(g.pad_left, op, "pad"), to_int(g.stride_h, op, "stride"),
        to_int(g.stride_w, op, "stride"), to_int(g.dilation_h, op, "dilation"), to_int(g.dilation_w, op, "dilation"),
        CUDNN_CROSS_CORRELATION, type));
    HONE_CUDNN_CHECK(cudnnSetConvolutionGroupCount(conv, to_int(g.groups, op, "groups")));
    int n, c, h, wd;
    HONE_CUDNN_CHECK(cudnnGetConvolution2dForwardOutputDim(conv, x.d, w, &n, &c, &h, &wd));
    HONE_CHECK(h == g.out_h() && wd == g.out_w(), op, ": cuDNN's output ", h, "x", wd, " differs from hone's ",
               g.out_h(), "x", g.out_w(), "; use Backend::Native for conv2d");
  }
  ~ConvDescs() {
    cudnnDestroyConvolutionDescriptor(conv);
    cudnnDestroyFilterDescriptor(w);
  }
  ConvDescs(const ConvDescs&) = delete;
  ConvDescs& operator=(const ConvDescs&) = delete;
};

// The first of cuDNN's ranked algorithms (fastest first) that succeeded and is deterministic
// (hone's results do not depend on scheduling). Its math type goes on the descriptor, except that float32
// without TF32 stays CUDNN_FMA_MATH whatever the heuristics report (as PyTorch does: the
// algorithm then runs without tensor cores, exact float32).
template <typename Perf>
Perf pick(const Perf* perfs, int count, cudnnConvolutionDescriptor_t conv, DType t, bool allow_tf32, const char* op) {
  for (int i = 0; i < count; ++i) {
    const Perf& p = perfs[i];
    if (p.status != CUDNN_STATUS_SUCCESS || p.determinism != CUDNN_DETERMINISTIC) continue;
    const bool exact = t == DType::Float32 && !allow_tf32;
    HONE_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, exact ? CUDNN_FMA_MATH : p.mathType));
    return p;
  }
  fail(op, ": cuDNN offers no deterministic algorithm", allow_tf32 ? "" : " with exact float32 math",
       " for this convolution; use Backend::Native for conv2d");
}

// The algorithm of each (direction, device, geometry, dtype, math) is chosen once per process
// from cuDNN's *timed* ranking (Find*Ex on the call's own buffers, as PyTorch's
// cudnn.benchmark does), so a comparison meets cuDNN at its best, not at its heuristic guess;
// later calls reuse it. The search may write the call's output, which the call then writes.
using AlgoKey = std::array<int64_t, 22>;

AlgoKey algo_key(int direction, const Conv2dGeometry& g, DType t, bool allow_tf32) {
  int device = 0;
  HONE_CUDA_CHECK(cudaGetDevice(&device));
  return {direction, device, g.n, g.c_in, g.h, g.w, g.c_out, g.kh, g.kw, g.stride_h, g.stride_w, g.pad_top,
          g.pad_left, g.pad_bottom, g.pad_right, g.dilation_h, g.dilation_w, g.groups, int64_t(t), allow_tf32, 0, 0};
}

// Workspace offered to the search: algorithms needing more are not timed.
constexpr size_t kFindWorkspace = size_t(1) << 30;

template <typename Perf, typename Find>
Perf choose(const AlgoKey& key, cudnnConvolutionDescriptor_t conv, DType t, bool allow_tf32, const char* op,
            const Exec& exec, Find&& find) {
  static std::mutex mutex;
  static std::map<AlgoKey, Perf> cache;
  {
    std::lock_guard<std::mutex> lock(mutex);
    if (auto it = cache.find(key); it != cache.end()) return pick(&it->second, 1, conv, t, allow_tf32, op);
  }
  Perf perfs[16];
  int count = 0;
  {
    Scratch ws(kFindWorkspace, exec);
    find(perfs, &count, ws.get(), ws.size());
  }
  const Perf chosen = pick(perfs, count, conv, t, allow_tf32, op);
  std::lock_guard<std::mutex> lock(mutex);
  cache.emplace(key, chosen);
  return chosen;
}

void set_math(cudnnConvolutionDescriptor_t conv, DType t, bool allow_tf32) {
  // Asks the heuristics for algorithms of the allowed math only (double: no tensor cores).
  const bool tensor_ops = t == DType::Float32 && allow_tf32;
  HONE_CUDNN_CHECK(cudnnSetConvolutionMathType(conv, tensor_ops ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH));
}

void zero(void* p, size_t bytes, const Exec& exec) {
  if (p && bytes) HONE_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, static_cast<cudaStream_t>(exec.stream)));
}

}  // namespace

void conv2d_forward(const Conv2dForwardArgs& a, const Exec& exec) {
  constexpr const char* op = "conv2d forward (cudnn)";
  refuse_unsupported(a.g, op);
  if (a.g.n == 0) return;
  ConvDescs d(a.g, a.dtype, op);
  cudnnHandle_t h = cudnn_handle(exec);
  set_math(d.conv, a.dtype, exec.allow_tf32);
  const auto algo = choose<cudnnConvolutionFwdAlgoPerf_t>(
      algo_key(0, a.g, a.dtype, exec.allow_tf32), d.conv, a.dtype, exec.allow_tf32, op, exec,
      [&](cudnnConvolutionFwdAlgoPerf_t* perfs, int* count, void* ws, size_t bytes) {
        HONE_CUDNN_CHECK(cudnnFindConvolutionForwardAlgorithmEx(h, d.x.d, a.input, d.w, a.weight, d.conv, d.y.d, a.output,
                                                                CUDNN_CONVOLUTION_FWD_ALGO_COUNT, count, perfs, ws, bytes));
      });
  size_t bytes = 0;
  HONE_CUDNN_CHECK(cudnnGetConvolutionForwardWorkspaceSize(h, d.x.d, d.w, d.conv, d.y.d, algo.algo, &bytes));
  Scratch ws(bytes, exec);
  const Scale one(a.dtype, 1), zero_(a.dtype, 0);
  // beta = 0: cuDNN does not read the output, so whatever it held does not leak in.
  HONE_CUDNN_CHECK(cudnnConvolutionForward(h, one.get(), d.x.d, a.input, d.w, a.weight, d.conv, algo.algo, ws.get(),
                                           ws.size(), zero_.get(), d.y.d, a.output));
  if (a.bias) HONE_CUDNN_CHECK(cudnnAddTensor(h, one.get(), d.bias.d, a.bias, one.get(), d.y.d, a.output));
}

void conv2d_backward(const Conv2dBackwardArgs& a, const Exec& exec) {
  constexpr const char* op = "conv2d backward (cudnn)";
  refuse_unsupported(a.g, op);
  const size_t elem = dtype_size(a.dtype);
  if (a.g.n == 0) {  // no batch: the parameter gradients are sums over nothing
    zero(a.grad_weight, size_t(a.g.c_out * (a.g.c_in / a.g.groups) * a.g.kh * a.g.kw) * elem, exec);
    zero(a.grad_bias, size_t(a.g.c_out) * elem, exec);
    return;
  }
  ConvDescs d(a.g, a.dtype, op);
  cudnnHandle_t h = cudnn_handle(exec);
  const Scale one(a.dtype, 1), zero_(a.dtype, 0);
  if (a.grad_input) {
    set_math(d.conv, a.dtype, exec.allow_tf32);
    const auto algo = choose<cudnnConvolutionBwdDataAlgoPerf_t>(
        algo_key(1, a.g, a.dtype, exec.allow_tf32), d.conv, a.dtype, exec.allow_tf32, op, exec,
        [&](cudnnConvolutionBwdDataAlgoPerf_t* perfs, int* count, void* ws, size_t bytes) {
          HONE_CUDNN_CHECK(cudnnFindConvolutionBackwardDataAlgorithmEx(h, d.w, a.weight, d.y.d, a.grad_output, d.conv,
                                                                       d.x.d, a.grad_input,
                                                                       CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT, count,
                                                                       perfs, ws, bytes));
        });
    size_t bytes = 0;
    HONE_CUDNN_CHECK(cudnnGetConvolutionBackwardDataWorkspaceSize(h, d.w, d.y.d, d.conv, d.x.d, algo.algo, &bytes));
    Scratch ws(bytes, exec);
    HONE_CUDNN_CHECK(cudnnConvolutionBackwardData(h, one.get(), d.w, a.weight, d.y.d, a.grad_output, d.conv,
                                                  algo.algo, ws.get(), ws.size(), zero_.get(), d.x.d, a.grad_input));
  }
  if (a.grad_weight) {
    set_math(d.conv, a.dtype, exec.allow_tf32);
    const auto algo = choose<cudnnConvolutionBwdFilterAlgoPerf_t>(
        algo_key(2, a.g, a.dtype, exec.allow_tf32), d.conv, a.dtype, exec.allow_tf32, op, exec,
        [&](cudnnConvolutionBwdFilterAlgoPerf_t* perfs, int* count, void* ws, size_t bytes) {
          HONE_CUDNN_CHECK(cudnnFindConvolutionBackwardFilterAlgorithmEx(h, d.x.d, a.input, d.y.d, a.grad_output, d.conv,
                                                                         d.w, a.grad_weight,
                                                                         CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT, count,
                                                                         perfs, ws, bytes));
        });
    size_t bytes = 0;
    HONE_CUDNN_CHECK(cudnnGetConvolutionBackwardFilterWorkspaceSize(h, d.x.d, d.y.d, d.conv, d.w, algo.algo, &bytes));
    Scratch ws(bytes, exec);
    HONE_CUDNN_CHECK(cudnnConvolutionBackwardFilter(h, one.get(), d.x.d, a.input, d.y.d, a.grad_output, d.conv,
                                                    algo.algo, ws.get(), ws.size(), zero_.get(), d.w, a.grad_weight));
  }
  if (a.grad_bias)
    HONE_CUDNN_CHECK(cudnnConvolutionBackwardBias(h, one.get(), d.y.d, a.grad_output, zero_.get(), d.bias.d, a.grad_bias));
}

}  // namespace hone::kernels::vendor
