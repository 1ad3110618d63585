#!/usr/bin/env bash
# hone demo beside the same protocol in PyTorch (tools/demo_torch.py), over seeds and
# label counts, written as a Markdown table to docs/demo_comparison.md.
# Usage: tools/demo_compare.sh [labels per class, e.g. "5 10"] [seeds, e.g. "0 1 2"]
# Needs a release build (build/release/tools/hone) and Debian's python3-torch.
set -euo pipefail
. "$(dirname "$0")/../bench/openblas_core.sh"
cd "$(dirname "$0")/.."
labels=${1:-"5 10"}
seeds=${2:-"0 1 2"}
runs=runs/demo-compare
mkdir -p "$runs"
for s in $seeds; do
  source_model=""
  for l in $labels; do
    out=$runs/hone-s$s-l$l
    if [ -z "$source_model" ]; then
      build/release/tools/hone demo --seed "$s" --labels-per-class "$l" --out "$out"
      source_model=$out/source/model.onnx  # one pretraining per seed, reused for the other label counts
    else
      build/release/tools/hone demo --seed "$s" --labels-per-class "$l" --out "$out" --source-model "$source_model"
    fi
  done
done
for l in $labels; do
  /usr/bin/python3 tools/demo_torch.py --labels-per-class "$l" --seeds "$(echo $seeds | tr ' ' ,)" --json "$runs/torch-l$l.json"
done
/usr/bin/python3 - "$runs" "$labels" "$seeds" <<'PY'
import json, statistics, sys, subprocess
runs, labels, seeds = sys.argv[1], sys.argv[2].split(), [int(s) for s in sys.argv[3].split()]
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
def ms(v): return f"{statistics.mean(v):.3f} ± {statistics.stdev(v) if len(v) > 1 else 0:.3f}"
out = ["# hone demo beside PyTorch", "",
       "Written by `tools/demo_compare.sh` on " + cpu + " (2 threads each). Target test accuracy on all",
       "5000 Fashion-MNIST test images of classes 5-9, last epoch's weights, mean ± std over seeds " +
       ", ".join(map(str, seeds)) + ". Same protocol both sides (see tools/demo.cpp, tools/demo_torch.py);",
       "the random streams differ, so compare means, not single runs.", ""]
for l in labels:
    t = json.load(open(f"{runs}/torch-l{l}.json"))
    h = [json.load(open(f"{runs}/hone-s{s}-l{l}/results.json")) for s in seeds]
    out += [f"## {l} labelled images per class", "",
            "| strategy | hone | PyTorch 1.13 | hone vs scratch (points, paired) | PyTorch vs scratch |", "|---|---|---|---|---|"]
    for s in ["scratch", "feature-extract", "partial:layer2", "full"]:
        ha = [r["strategies"][s]["test_accuracy"] for r in h]
        hs = [100 * (a - r["strategies"]["scratch"]["test_accuracy"]) for a, r in zip(ha, h)]
        ta = t["accuracy"][s]
        ts = [100 * (a - b) for a, b in zip(ta, t["accuracy"]["scratch"])]
        g = lambda v: "" if s == "scratch" else f"{statistics.mean(v):+.1f} ± {statistics.stdev(v) if len(v) > 1 else 0:.1f}"
        out.append(f"| {s} | {ms(ha)} | {ms(ta)} | {g(hs)} | {g(ts)} |")
    out.append("")
open("docs/demo_comparison.md", "w").write("\n".join(out) + "\n")
print("\n".join(out))
PY
