#!/usr/bin/env bash
# conv2d on the ResNet-18 layer shapes (batch 8, 224x224): hone's kernels beside PyTorch's
# CPU conv (Debian python3-torch, oneDNN inside), same thread count, one script run.
# "% of peak": each side's GFLOP/s over the FMA peak measured at the top (the same FLOPs
# per layer for both, conv2d_bench's count).
# Usage: bench/compare_conv.sh [threads] [build dir]   (needs a release build)
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
. "$here/peak.sh"
HONE_NUM_THREADS=$threads "$build/bench/conv2d_bench" --benchmark_min_time=0.5 --benchmark_format=csv 2>/dev/null \
  | csv_columns real_time GFLOP/s | awk '/^conv2d/ {printf "%s %.3f %.6g\n", $1, $2, $3 * $2 / 1e3}' >"$ours"
OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_conv.py" "$threads" >"$theirs"
echo "threads=$threads  $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
printf "%-32s %10s %10s %8s %9s %9s\n" benchmark "hone ms" "torch ms" "speed" "hone %pk" "torch %pk"
# ours: name, ms, FLOPs per call (GFLOP/s x s); one call is the same work for PyTorch.
join <(sort "$ours") <(sort "$theirs") | while read -r name a f b; do
  printf "%-32s %10.2f %10.2f %7.2fx %8.1f%% %8.1f%%\n" "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)" \
    "$(img_percent "$(echo "1000 / $a" | bc -l)" "$f")" "$(img_percent "$(echo "1000 / $b" | bc -l)" "$f")"
done
awk -v p="$peak" 'NR==FNR {h[$1]=$2; f[$1]=$3; next} ($1 in h) {sh+=h[$1]; st+=$2; sf+=f[$1]}
     END {printf "%-32s %10.2f %10.2f %7.2fx %8.1f%% %8.1f%%  (time-for-time, all layers)\n", "total", sh, st, st/sh,
          sf / (sh / 1e3) / (p * 1e9) * 100, sf / (st / 1e3) / (p * 1e9) * 100}' "$ours" "$theirs"
