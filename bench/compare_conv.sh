#!/usr/bin/env bash
# conv2d on the ResNet-18 layer shapes (batch 8, 224x224): hone's kernels beside PyTorch's
# CPU conv (Debian python3-torch, oneDNN inside), same thread count, one script run.
# Usage: bench/compare_conv.sh [threads] [build dir]   (needs a release build)
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
HONE_NUM_THREADS=$threads "$build/bench/conv2d_bench" --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null \
  | awk -F, '/^"conv2d/ {gsub(/"/, "", $1); sub(/\/real_time$/, "", $1); printf "%s %.3f\n", $1, $3}' >"$ours"
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_conv.py" "$threads" >"$theirs"
echo "threads=$threads  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
printf "%-32s %10s %10s %8s\n" benchmark "hone ms" "torch ms" "speed"
join <(sort "$ours") <(sort "$theirs") | while read -r name a b; do
  printf "%-32s %10.2f %10.2f %7.2fx\n" "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
awk 'NR==FNR {h[$1]=$2; next} ($1 in h) {sh+=h[$1]; st+=$2} END {printf "%-32s %10.2f %10.2f %7.2fx  (time-for-time, all layers)\n", "total", sh, st, st/sh}' "$ours" "$theirs"
