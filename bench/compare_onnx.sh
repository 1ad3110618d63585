#!/usr/bin/env bash
# ONNX import and forward: ResNet-18 (45 MB, batch 8) and VGG-16 (528 MB, batch 2) files
# in the torch 1.13 export layout with generated weights (tools/golden/onnx_fixtures.py),
# inline (one protobuf) and with external data. For each: import time and peak memory of
# `hone inspect FILE` (it imports and validates everything, as training would), then the
# forward in img/s of hone (import_onnx), ONNX Runtime on the same file, and PyTorch 1.13
# on the same architecture, same thread count, one script run. "% of peak": each side's
# GFLOP/s over the FMA peak measured at the top, from the FLOPs per image onnx_bench counts
# for the architecture (bench/flops.h; the same work for the peers).
# Usage: bench/compare_onnx.sh [threads] [build dir]   (needs onnxruntime: pip install onnxruntime)
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$here/peak.sh"
printf "%-28s %9s %9s %9s %10s %10s %10s %9s %8s %8s\n" file "MB" "import s" "peak MB" "hone img/s" "ORT img/s" \
  "torch img/s" "hone %pk" "ORT %pk" "torch %pk"
for cfg in "tv_resnet18_op17_bn_kept resnet18 8" "tv_vgg16_op17 vgg16 2"; do
  set -- $cfg
  name=$1 arch=$2 batch=$3
  for layout in inline external; do
    dir="$work/$name.$layout"
    mkdir -p "$dir"
    flag=$([ $layout = inline ] && echo --inline || true)
    file=$(/usr/bin/python3 "$root/tools/golden/onnx_fixtures.py" materialize "$root/tests/golden/onnx/$name.onnx" "$dir" $flag)
    mb=$(du -sm "$dir" | cut -f1)
    read -r secs peak_kb < <( { /usr/bin/time -f "%e %M" "$build/tools/hone" inspect "$file" >/dev/null; } 2>&1 | tail -1)
    read -r _ ours hflops < <(HONE_NUM_THREADS=$threads "$build/bench/onnx_bench" --file="$file" --batch="$batch" \
      --arch="$arch" --benchmark_format=csv 2>/dev/null | csv_columns img/s GFLOP/s)
    per_image=$(awk -v f="$hflops" -v i="$ours" 'BEGIN { print f / i }')  # the same work for the peers
    ort=$(/usr/bin/python3 "$here/ort_forward.py" "$file" "$batch" "$threads" | cut -d' ' -f2)
    torch=$(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_train_step.py" "$arch" "$batch" 0 "$threads" 2>/dev/null | cut -d' ' -f2)
    printf "%-28s %9s %9s %9.0f %10.2f %10.2f %10.2f %8.1f%% %7.1f%% %7.1f%%\n" "$name ($layout)" "$mb" "$secs" \
      "$(echo "$peak_kb / 1024" | bc -l)" "$ours" "$ort" "$torch" \
      "$(img_percent "$ours" "$per_image")" "$(img_percent "$ort" "$per_image")" "$(img_percent "$torch" "$per_image")"
    rm -rf "$dir"
  done
done
