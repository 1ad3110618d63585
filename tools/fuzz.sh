#!/usr/bin/env bash
# CI's fuzzing stage: builds the libFuzzer targets (the fuzz preset: clang, ASan + UBSan),
# replays every target's seeds (tests/fuzz/targets.txt), then fuzzes each target for a
# bounded time. Exits 1 if any input crashed, hung (-timeout), ran out of memory
# (-rss_limit_mb), leaked or tripped a sanitizer; the inputs that did are kept in
# build/fuzz/findings/ (and printed), to be added to tests/fuzz/corpus/<folder>/ with the fix.
#
#   tools/fuzz.sh [seconds per target, default 30] [target ...]   (default: every target)
#
# Environment: HONE_BUILD_LOCK=<file> builds under flock (shared build machines);
# FUZZ_ARGS adds libFuzzer flags (e.g. "-jobs=2"). A longer campaign, one target at a time:
#   build/fuzz/tests/<name>_fuzz -dict=tests/fuzz/dict/<dict> -timeout=10 -rss_limit_mb=2048 \
#       -max_total_time=3600 -print_final_stats=1 /tmp/corpus-<name> tests/fuzz/corpus/<folder>...
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-30}
shift || true
mapfile -t lines < <(grep -E '^[a-z]' tests/fuzz/targets.txt)
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for line in "${lines[@]}"; do targets+=("${line%% *}"); done
fi

[ -f build/fuzz/build.ninja ] || [ -f build/fuzz/Makefile ] || cmake --preset fuzz
build=(cmake --build build/fuzz -j "${JOBS:-2}" --target)
for t in "${targets[@]}"; do build+=("${t}_fuzz"); done
if [ -n "${HONE_BUILD_LOCK:-}" ]; then flock "$HONE_BUILD_LOCK" "${build[@]}"; else "${build[@]}"; fi

# The targets write each input to a scratch folder (and save_safetensors fsyncs): on tmpfs
# that costs no disk time.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
findings=build/fuzz/findings
work=build/fuzz/corpus-work
mkdir -p "$findings"
failed=()
for t in "${targets[@]}"; do
  line=$(printf '%s\n' "${lines[@]}" | awk -v t="$t" '$1 == t')
  [ -n "$line" ] || { echo "fuzz.sh: no target '$t' in tests/fuzz/targets.txt"; exit 2; }
  read -r _ dict folders <<<"$line"
  seeds=()
  for f in $folders; do seeds+=("tests/fuzz/corpus/$f"); done
  bin=build/fuzz/tests/${t}_fuzz
  flags=(-timeout=10 -rss_limit_mb=2048 -artifact_prefix="$findings/$t-")
  echo "== $t: replaying ${seeds[*]}"
  if ! "$bin" "${flags[@]}" -runs=0 "${seeds[@]}"; then failed+=("$t (seed replay)"); continue; fi
  echo "== $t: fuzzing for ${seconds} s"
  rm -rf "${work:?}/$t" && mkdir -p "$work/$t"
  # shellcheck disable=SC2086  # FUZZ_ARGS is a list of flags
  if ! "$bin" "${flags[@]}" -dict="tests/fuzz/dict/$dict" -max_total_time="$seconds" -print_final_stats=1 \
       ${FUZZ_ARGS:-} "$work/$t" "${seeds[@]}"; then
    failed+=("$t")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz.sh: findings in: ${failed[*]}; reproducers:"
  ls -l "$findings"
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets, seeds replayed and fuzzed ${seconds} s each, no findings"
