#!/usr/bin/env bash
# Proves the CUDA backend on a GPU machine, in phases (each well under 10 minutes), with only
# nvcc, CMake, ninja and a C++ compiler there: no protobuf, ONNX, GoogleTest or Google
# Benchmark (hone is built with -DHONE_WITH_IO=OFF, and gpu_check needs no GoogleTest).
#   bench/gpu.sh [build] [check] [sanitize] [perf] [train]   (no argument: all five, in order)
#   build     configure and build gpu_check in build/gpu (CUDA for sm_90)
#   check     every registered CUDA kernel on every op-harness case against the float64
#             reference (tests/op_cases.h), the caching allocator and the tensor layer's CUDA
#             paths on the device, then every distinct layer of ResNet-18 and VGG-16 (conv2d,
#             batch norm, pooling, linear; traced from the models) at batch 2 against the CPU
#             and two whole ResNet-18 SGD steps on CUDA against the same steps on the CPU, each
#             for ours and the vendor's, exact float32 and TF32
#   sanitize  compute-sanitizer memcheck and racecheck over a subset (the tiled GEMM of
#             conv2d/matmul, batch norm's shared-memory sums, pooling's gathers)
#   perf      each CUDA kernel's median time over 20 runs, with GFLOP/s or GB/s, and the
#             device-to-device copy bandwidth they are measured against; where hone_vendor
#             was built, ours beside cuDNN/cuBLAS ("VS" lines: vendor/ours); then each distinct
#             ResNet-18 / VGG-16 layer at batch 64 and 256, ours beside the vendor's
#   train     the ResNet-18 training step at batch $HONE_GPU_BATCH (default 256), 224x224,
#             in images/s: ours and the vendor's, exact and TF32, then PyTorch eager on the same GPU in the same run
#             (bench/torch_gpu_step.py, NCHW and channels-last) when python3 has torch
# cuDNN: from the system or CUDA paths, else from PyTorch's pip wheel (nvidia.cudnn), passed
# to CMake as CUDNN_ROOT and put on LD_LIBRARY_PATH; without it, gpu_check checks ours only.
# Prints the GPU, the time of each phase, and exits non-zero on the first failing phase.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/cuda/bin:$PATH
phases=("$@")
[ ${#phases[@]} -gt 0 ] || phases=(build check sanitize perf train)
batch=${HONE_GPU_BATCH:-256}
build=build/gpu
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo "nvidia-smi: no GPU visible"
cudnn_args=()
if ! ls /usr/include/cudnn.h /usr/local/cuda/include/cudnn.h >/dev/null 2>&1; then
  cudnn_root=$(python3 -c 'import nvidia.cudnn as m, os; print(os.path.dirname(m.__file__) if m.__file__ else list(m.__path__)[0])' 2>/dev/null || true)
  if [ -n "$cudnn_root" ] && [ -f "$cudnn_root/include/cudnn.h" ]; then
    echo "gpu.sh: cuDNN from $cudnn_root"
    cudnn_args=(-DCUDNN_ROOT="$cudnn_root")
    export LD_LIBRARY_PATH="$cudnn_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  else
    echo "gpu.sh: no cuDNN found (system, CUDA or the nvidia.cudnn wheel): the vendor kernels are not built"
  fi
fi
start=$SECONDS
for phase in "${phases[@]}"; do
  t0=$SECONDS
  echo "== gpu.sh: $phase"
  case $phase in
    build)
      mkdir -p $build
      cmake -S . -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHONE_CUDA=ON -DHONE_WITH_IO=OFF ${cudnn_args[@]+"${cudnn_args[@]}"} \
        >$build/configure.log 2>&1 || { cat $build/configure.log; exit 1; }
      grep "hone:" $build/configure.log
      cmake --build $build --target gpu_check -j "$(nproc)"
      ;;
    check)
      status=0
      $build/gpu_check || status=$?
      if [ $status = 77 ]; then echo "gpu.sh: no GPU here: nothing proven"; exit 0; fi
      [ $status = 0 ] || exit $status
      ;;
    sanitize)
      command -v compute-sanitizer >/dev/null || { echo "gpu.sh: compute-sanitizer not found"; exit 1; }
      for filter in "conv2d forward 3x3 s2" "conv2d backward 3x3 s2" "matmul" "batch_norm" "max_pool2d" "avg_pool2d"; do
        compute-sanitizer --tool memcheck --error-exitcode 1 $build/gpu_check --filter "$filter" | tail -1
      done
      for filter in "conv2d forward 3x3 s2" "batch_norm forward"; do
        compute-sanitizer --tool racecheck --error-exitcode 1 $build/gpu_check --filter "$filter" | tail -1
      done
      ;;
    perf)
      $build/gpu_check --perf --reps 20
      $build/gpu_check --layers --reps 5
      ;;
    train)
      $build/gpu_check --train-step --batch "$batch" --reps 10
      if python3 -c 'import torch' 2>/dev/null; then python3 bench/torch_gpu_step.py "$batch" 10
      else echo "gpu.sh: python3 has no torch: PyTorch's step not measured"; fi
      ;;
    *) echo "gpu.sh: unknown phase '$phase' (build, check, sanitize, perf, train)"; exit 2 ;;
  esac
  echo "== gpu.sh: $phase took $((SECONDS - t0)) s"
done
echo "== gpu.sh: all phases took $((SECONDS - start)) s"
