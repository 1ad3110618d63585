#!/usr/bin/env bash
# Before/after figures for a change that must not move speed: the same Google Benchmark
# programs built at two revisions, run alternately (old, new, old, new, ...) in one session
# so drift on a shared VM hits both alike. Prints, per benchmark, the median of each side's
# runs and new/old (time ratio: below 1 is faster).
# Usage: bench/before_after.sh OLD_BUILD_DIR NEW_BUILD_DIR [rounds] [threads]
#   e.g. git worktree add /tmp/base REV && (cd /tmp/base && cmake --preset release &&
#        cmake --build --preset release --target train_step_bench conv2d_bench norm_pool_bench gemm_bench)
#        bench/before_after.sh /tmp/base/build/release build/release 3 2
set -euo pipefail
old=$1 new=$2 rounds=${3:-3} threads=${4:-2}
out=$(mktemp -d)
grep -m1 'model name' /proc/cpuinfo | sed 's/^.*: /CPU: /'
echo "ISA flags: $(grep -o -w 'avx512f\|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')threads: $threads, rounds: $rounds"
# program | filter (small enough to run in a few minutes; the layers that dominate a step)
benches=(
  "train_step_bench|."
  "conv2d_bench|^conv2d_(forward|backward)/(conv1|layer1|layer3|layer4|vgg16.conv1_2|vgg16.conv5)/real_time"
  "norm_pool_bench|."
  "gemm_bench|BM_hone_sgemm/m:(1024|2048|8/n:1000|2/n:4096/k:25088)/"
)
for ((r = 0; r < rounds; ++r)); do
  for side in old new; do
    dir=$([ $side = old ] && echo "$old" || echo "$new")
    for b in "${benches[@]}"; do
      prog=${b%%|*} filter=${b#*|}
      HONE_NUM_THREADS=$threads "$dir/bench/$prog" --benchmark_filter="$filter" --benchmark_format=csv 2>/dev/null |
        awk -F, -v side=$side '/^"/ && $1 != "\"name\"" {gsub(/"/, "", $1); print side, $1, $3}' >> "$out/times"
    done
  done
done
awk '
  { t[$2 " " $1] = t[$2 " " $1] " " $3; names[$2] = 1 }
  function median(s,   a, n, i, j, x) {
    n = split(s, a, " ")
    for (i = 1; i <= n; ++i) for (j = i + 1; j <= n; ++j) if (a[j] + 0 < a[i] + 0) { x = a[i]; a[i] = a[j]; a[j] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    for (n in names) { o = median(t[n " old"]); w = median(t[n " new"]); printf "%-62s %12.3f %12.3f %8.3f\n", n, o, w, w / o }
  }' "$out/times" | sort | { printf "%-62s %12s %12s %8s\n" "benchmark (real time, ms or us as the program reports)" old new new/old; cat; }
rm -rf "$out"
