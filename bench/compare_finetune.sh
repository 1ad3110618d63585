#!/usr/bin/env bash
# End to end: `hone finetune` (decode, augment, forward, backward, SGD step) beside the same
# loop in PyTorch 1.13 (bench/torch_finetune.py: torchvision ImageFolder + DataLoader, same
# transforms, batch, workers, threads, optimizer and freezing), on the hymenoptera photos
# (244 train / 153 val). hone trains a ResNet-18 ONNX file with generated weights
# (tools/golden/onnx_fixtures.py), PyTorch torchvision's resnet18 (random weights).
# Training images/s per epoch, the training loop alone (no validation, no start-up): hone's
# from metrics.csv (train_img_per_s), PyTorch's from its per-epoch lines.
#   partial:layer4, full: the steady-state epochs (2..N; epoch 1 warms caches and packs
#   weights on both sides).
#   feature-extract: not the same work. hone runs the frozen backbone once over train+val
#   and trains the head on cached features; PyTorch (as torchvision's tutorial) reruns the
#   backbone every epoch. Both sides: N epochs of training images over all the time they
#   took, hone's including its backbone pass over train AND val; no augmentation on either
#   side (hone's cached features use the evaluation transform).
# Usage: bench/compare_finetune.sh [threads] [build dir] [epochs]   (needs a release build)
set -euo pipefail
. "$(dirname "$0")/openblas_core.sh"
threads=${1:-2}
build=${2:-build/release}
epochs=${3:-3}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
data=${HONE_FINETUNE_DATA:-$root/../shared/data/hymenoptera}
batch=32 workers=2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/model"
model=$(/usr/bin/python3 "$root/tools/golden/onnx_fixtures.py" materialize \
  "$root/tests/golden/onnx/tv_resnet18_op17_bn_kept.onnx" "$work/model" --inline)
common=(--epochs "$epochs" --batch-size "$batch" --workers "$workers" --threads "$threads" --lr 0.01
  --head-lr-mult 10 --momentum 0.9 --weight-decay 1e-4)

# Images/s over epochs FIRST..N of a list of per-epoch rates (each epoch the same images),
# plus EXTRA seconds: n / sum(n / rate) with n cancelling.
combine() {  # combine FIRST EXTRA_SECONDS IMAGES rate...
  local first=$1 extra=$2 images=$3
  shift 3
  printf '%s\n' "$@" | awk -v f="$first" -v x="$extra" -v n="$images" \
    'NR >= f { k++; s += n / $1 } END { printf "%.2f", k * n / (s + x) }'
}

per_epoch() { printf '%.1f\n' "$@" | paste -sd/; }

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) cores; $data;" \
  "$epochs epochs, batch $batch, $workers workers, $threads threads"
rows=()
for strategy in partial:layer4 full feature-extract; do
  run="$work/run-${strategy%%:*}"
  out=$("$build/tools/hone" finetune --model "$model" --data "$data" --strategy "$strategy" "${common[@]}" \
    --out "$run" --cache-dir "$work/cache" 2>&1) || { echo "$out" >&2; exit 1; }
  mapfile -t ours < <(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_img_per_s") c = i; next }
    { print $c }' "$run/metrics.csv")
  mapfile -t theirs < <(OMP_NUM_THREADS=$threads /usr/bin/python3 "$here/torch_finetune.py" "$data" \
    --strategy "$strategy" "${common[@]}" | awk '$1 == "epoch" { print $4 }')
  [ "${#ours[@]}" -eq "$epochs" ] && [ "${#theirs[@]}" -eq "$epochs" ] ||
    { echo "$strategy: expected $epochs epochs, got hone ${#ours[@]}, torch ${#theirs[@]}" >&2; exit 1; }
  images=$(grep -o '"train_samples": [0-9]*' "$run/config.json" | grep -o '[0-9]*$')
  if [ "$strategy" = feature-extract ]; then
    backbone=$(echo "$out" | sed -n 's/^features: backbone ran once over .* images in \([0-9.]*\) s.*/\1/p')
    a=$(combine 1 "$backbone" "$images" "${ours[@]}") b=$(combine 1 0 "$images" "${theirs[@]}")
    label="feature-extract*"
  else
    a=$(combine 2 0 "$images" "${ours[@]}") b=$(combine 2 0 "$images" "${theirs[@]}")
    label=$strategy
  fi
  rows+=("$(printf "%-17s %10.2f %11.2f %6.2fx   %-22s %s" "$label" "$a" "$b" "$(echo "$a / $b" | bc -l)" \
    "$(per_epoch "${ours[@]}")" "$(per_epoch "${theirs[@]}")")")
done
printf "%-17s %10s %11s %7s   %-22s %s\n" strategy "hone img/s" "torch img/s" ratio "hone per epoch" "torch per epoch"
printf '%s\n' "${rows[@]}"
echo "partial/full: epochs 2..$epochs. *feature-extract: all $epochs epochs; hone's time includes its one backbone pass" \
  "over train+val (then the head on cached features), PyTorch reruns the backbone every epoch"
