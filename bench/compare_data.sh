#!/usr/bin/env bash
# Images in: hone's DataLoader beside torchvision's ImageFolder + DataLoader (Debian
# python3-torchvision, PIL), same folder, same transforms, same worker counts, one run.
# Usage: bench/compare_data.sh [DIR] [build dir]   (needs a release build)
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
dir=${1:-$(cd "$(dirname "$0")/.." && pwd)/../shared/data/hymenoptera/train}
build=${2:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
ours=$(mktemp) theirs=$(mktemp)
trap 'rm -f "$ours" "$theirs"' EXIT
HONE_BENCH_DATA=$dir HONE_NUM_THREADS=1 "$build/bench/loader_bench" --benchmark_format=csv 2>/dev/null |
  awk -F, '/^"BM_loader/ {gsub(/"/, "", $1); sub(/\/min_time.*$/, "", $1); sub(/\/real_time$/, "", $1); print $1, $NF}' >"$ours"
/usr/bin/python3 "$here/torch_loader.py" "$dir" >"$theirs"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; $dir"
printf "%-22s %12s %12s %8s\n" "benchmark/workers" "hone img/s" "torch img/s" "ratio"
join <(sort "$ours") <(sort "$theirs") | while read -r name a b; do
  printf "%-22s %12.1f %12.1f %7.2fx\n" "$name" "$a" "$b" "$(echo "$a / $b" | bc -l)"
done
