#!/usr/bin/env bash
# ResNet-18 (batch 8) and VGG-16 (batch 2) at 224x224 on the CPU: forward, training step,
# head-only training step; hone beside PyTorch 1.13 (Debian python3-torch), each
# configuration in its own process (so peak memory is per configuration), same threads.
# "% of peak": each side's GFLOP/s over the FMA peak measured at the top, both from the FLOPs
# per image train_step_bench counts (bench/flops.h; the same work for PyTorch).
# Usage: bench/compare_train.sh [threads] [build dir]
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/peak.sh"
printf "%-26s %10s %10s %8s %10s %10s %9s %9s\n" config "hone img/s" "torch img/s" ratio "hone MB" "torch MB" \
  "hone %pk" "torch %pk"
for cfg in "resnet18 8" "vgg16 2"; do
  set -- $cfg
  model=$1 batch=$2
  for mode in 0 1 2; do
    name=$([ $mode = 0 ] && echo forward || ([ $mode = 1 ] && echo train-step || echo head-only-step))
    ours=$(HONE_NUM_THREADS=$threads "$build/bench/train_step_bench" --benchmark_filter="BM_${model}_b${batch}/mode:${mode}/" \
             --benchmark_format=csv 2>/dev/null | csv_columns img/s peak_MB GFLOP/s)
    theirs=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_train_step.py" "$model" "$batch" "$mode" "$threads" 2>/dev/null)
    read -r _ hips hmb hflops <<<"$ours"
    read -r _ tips tmb <<<"$theirs"
    per_image=$(awk -v f="$hflops" -v i="$hips" 'BEGIN { print f / i }')  # the same work for PyTorch
    printf "%-26s %10.2f %10.2f %7.2fx %10.0f %10.0f %8.1f%% %8.1f%%\n" "$model/$name" "$hips" "$tips" \
      "$(echo "$hips / $tips" | bc -l)" "$hmb" "$tmb" \
      "$(img_percent "$hips" "$per_image")" "$(img_percent "$tips" "$per_image")"
  done
done
