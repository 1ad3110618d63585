#!/usr/bin/env bash
# ResNet-18 (batch 8) and VGG-16 (batch 2) at 224x224 on the CPU: forward, training step,
# head-only training step (and for ResNet-18 the head-only and layer4 + head steps with the
# frozen stages' batch norm frozen); hone beside PyTorch 1.13 (Debian python3-torch), each
# configuration in its own process (so peak memory is per configuration), same threads. Then
# the fine-tuning steps as `hone finetune` runs them (an imported ResNet-18 file, frozen
# stages blocked with batch norm frozen) beside PyTorch with the same stages frozen in eval mode.
# "% of peak": each side's GFLOP/s over the FMA peak measured at the top, both from the FLOPs
# per image train_step_bench counts (bench/flops.h; the same work for PyTorch).
# Usage: bench/compare_train.sh [threads] [build dir]
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/peak.sh"
printf "%-32s %10s %10s %8s %10s %10s %9s %9s\n" config "hone img/s" "torch img/s" ratio "hone MB" "torch MB" \
  "hone %pk" "torch %pk"
# hone's train_step_bench mode, PyTorch's torch_train_step.py mode, the row's name. The
# frozen-BN rows freeze the frozen stages' batch norm (as hone finetune does), so hone runs
# them as inference on the blocked path (models/blocked.h) and PyTorch runs them in eval mode.
for cfg in "resnet18 8 0 0 forward" "resnet18 8 1 1 train-step" "resnet18 8 2 2 head-only-step" \
           "resnet18 8 3 4 head-only-frozen-bn" "resnet18 8 4 3 layer4+head-frozen-bn" \
           "vgg16 2 0 0 forward" "vgg16 2 1 1 train-step" "vgg16 2 2 2 head-only-step"; do
  set -- $cfg
  model=$1 batch=$2 mode=$3 torch_mode=$4 name=$5
  ours=$(HONE_NUM_THREADS=$threads "$build/bench/train_step_bench" --benchmark_filter="BM_${model}_b${batch}/mode:${mode}/" \
           --benchmark_format=csv 2>/dev/null | csv_columns img/s peak_MB GFLOP/s)
  theirs=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_train_step.py" "$model" "$batch" "$torch_mode" "$threads" 2>/dev/null)
  read -r _ hips hmb hflops <<<"$ours"
  read -r _ tips tmb <<<"$theirs"
  per_image=$(awk -v f="$hflops" -v i="$hips" 'BEGIN { print f / i }')  # the same work for PyTorch
  printf "%-32s %10.2f %10.2f %7.2fx %10.0f %10.0f %8.1f%% %8.1f%%\n" "$model/$name" "$hips" "$tips" \
    "$(echo "$hips / $tips" | bc -l)" "$hmb" "$tmb" \
    "$(img_percent "$hips" "$per_image")" "$(img_percent "$tips" "$per_image")"
done

# Fine-tuning as hone finetune runs it: an imported ResNet-18 file (generated weights), the
# frozen stages on the blocked path with batch norm frozen; PyTorch with the same stages
# frozen and in eval mode (torch_train_step.py modes 3 and 4).
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
onnx=$(/usr/bin/python3 "$here/../tools/golden/onnx_fixtures.py" materialize "$here/../tests/golden/onnx/tv_resnet18_op17_bn_kept.onnx" "$work" --inline)
for cfg in "0 0 forward" "1 1 full-step" "2 4 head-only-step" "3 3 layer4+head-step"; do
  set -- $cfg
  ours=$(HONE_BENCH_ONNX=$onnx HONE_NUM_THREADS=$threads "$build/bench/train_step_bench" \
           --benchmark_filter="BM_finetune_resnet18_b8/mode:$1/" --benchmark_format=csv 2>/dev/null | csv_columns img/s peak_MB GFLOP/s)
  theirs=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_train_step.py" resnet18 8 "$2" "$threads" 2>/dev/null)
  read -r _ hips hmb hflops <<<"$ours"
  read -r _ tips tmb <<<"$theirs"
  per_image=$(awk -v f="$hflops" -v i="$hips" 'BEGIN { print f / i }')
  printf "%-32s %10.2f %10.2f %7.2fx %10.0f %10.0f %8.1f%% %8.1f%%\n" "onnx-resnet18/$3" "$hips" "$tips" \
    "$(echo "$hips / $tips" | bc -l)" "$hmb" "$tmb" \
    "$(img_percent "$hips" "$per_image")" "$(img_percent "$tips" "$per_image")"
done
