#pragma once
// hone's vendor backend: cuDNN and cuBLAS behind the same kernel contracts as hone's own
// kernels, in its own library (hone_vendor), so libhone itself never needs cuDNN or cuBLAS.
// A program that wants them links hone_vendor and calls register_kernels() once at start-up;
// then, per op family, the context picks whose kernel runs:
//   hone::vendor::register_kernels();
//   hone::Context::current().set_backend("conv2d", hone::Backend::Vendor);  // cuDNN's conv
//   hone::Context::current().set_allow_tf32(true);  // optional: TF32 tensor cores
//
// COMPILED, NOT YET RUN ON A GPU: no GPU has executed these kernels; tests/gpu_check (via
// bench/gpu.sh) holds them to the float64 reference where one is lent.
//
// What is registered (DeviceType::CUDA, float32 and float64) and how it maps:
//   conv2d forward/backward  cudnnConvolutionForward / BackwardData / BackwardFilter,
//                            algorithms by cudnnFind*AlgorithmEx once per geometry (timed,
//                            as cudnn.benchmark; the fastest deterministic one whose math
//                            the context allows), workspace from hone's
//                            caching allocator; bias by cudnnAddTensor, its gradient by
//                            cudnnConvolutionBackwardBias; groups and dilation by cuDNN.
//                            Asymmetric padding (pad_top != pad_bottom or left != right):
//                            a hone::Error, cuDNN pads symmetrically. The CPU lowering fields
//                            (algorithm, isa) do not apply on CUDA.
//   batch_norm fwd/backward  cudnnBatchNormalizationForwardTraining/Inference/Backward in
//                            spatial mode. PyTorch convention: cuDNN's running update as is
//                            (factor = momentum, unbiased variance). ONNX convention: cuDNN
//                            writes the batch statistics (factor 1) to scratch and a small
//                            kernel folds them in (momentum * running + (1 - momentum) * batch,
//                            biased variance). Missing gamma/beta are ones/zeros in scratch.
//                            Running statistics (inference) also write save_mean/save_invstd
//                            (a small kernel); their backward is dx = dy * gamma * invstd and
//                            the parameter sums by cudnnConvolutionBackwardBias. A hone::Error
//                            for a running update over one value per channel (cuDNN's
//                            unbiased variance divides by zero).
//   avg_pool2d fwd/backward  cudnnPoolingForward/Backward, AVERAGE_COUNT_INCLUDE/EXCLUDE_PADDING
//                            by count_include_pad. A hone::Error for ceil_mode or asymmetric
//                            padding (cuDNN has neither).
//   adaptive_avg_pool2d      the same cuDNN average pooling with kernel = stride = in/out,
//                            when out divides in (global pooling included); else a hone::Error.
//   matmul                   cublasSgemmStridedBatched / cublasDgemmStridedBatched, row-major
//                            by computing C^T = B^T A^T (or C = A B when C is column-major);
//                            an operand no BLAS layout describes (two non-unit strides,
//                            broadcast rows) is first copied to a packed buffer, likewise C.
//   max_pool2d               not registered: hone's contract passes the argmax indices to the
//                            backward, cuDNN's max-pool backward needs the input and output
//                            instead. Selecting Vendor for it is the registry's error.
// Every hone::Error above names the op and the setting, and says to use Backend::Native for
// that op: a vendor kernel never silently computes something else.
//
// TF32: with Context::allow_tf32() (kernels::Exec::allow_tf32), float32 convolutions may use
// tensor-op algorithms and cuBLAS runs CUBLAS_TF32_TENSOR_OP_MATH; without it, convolutions
// are restricted to CUDNN_FMA_MATH algorithms and cuBLAS to its default (exact) math.

namespace hone::vendor {

// Registers the vendor kernels under Backend::Vendor in hone's kernel registry. Idempotent;
// call before threads run ops (registry lookups take no lock).
void register_kernels();

}  // namespace hone::vendor
