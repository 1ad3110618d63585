# Sourced by the comparison scripts once $threads and $build are set: prints this CPU's FP32
# FMA peak at that thread count (build/.../bench/fma_peak, measured now: the machine's load
# and clock are this run's) and keeps it in $peak, in GFLOP/s, for the "% of peak" columns.
peak_line=$(HONE_NUM_THREADS=$threads "$build/bench/fma_peak" | head -1)
echo "$peak_line"
peak=$(sed -n 's|.* \([0-9.]*\) GFLOP/s$|\1|p' <<<"$peak_line")

# img_percent IMG_PER_S FLOP_PER_IMAGE: that throughput as a percentage of $peak. Every side of
# a table is measured against this one figure (the benchmarks' own %peak counters use the
# peak their process measured, a little different on a loaded machine).
img_percent() { awk -v r="$1" -v f="$2" -v p="$peak" 'BEGIN { printf "%.1f", r * f / (p * 1e9) * 100 }'; }

# Google Benchmark CSV on stdin -> one line per benchmark: its name, then the named columns
# ("-" where a benchmark lacks one). Columns are found by header name, not position.
csv_columns() {
  awk -F, -v want="$*" '
    BEGIN { n = split(want, w, " ") }
    /^name,/ { for (i = 1; i <= NF; i++) { h = $i; gsub(/"/, "", h); col[h] = i } next }
    /^"/ { name = $1; gsub(/"/, "", name); sub(/\/real_time$/, "", name); line = name
           for (j = 1; j <= n; j++) line = line " " ((w[j] in col) && $col[w[j]] != "" ? $col[w[j]] : "-")
           print line }'
}
