#!/usr/bin/env bash
# Compile checks for the CUDA kernels that need no GPU (issue 13): every kernels/cuda/*.cu,
# tensor/*.cu and kernels/vendor/*.cu builds for sm_90 with ptxas's report, and no kernel
# spills registers to local memory (a spill in a hot loop costs more than anything the kernel
# computes). Prints each kernel's registers, shared memory and spills; exits non-zero on a
# compile error or any spill. Where the build has hone_vendor, the whole library must build
# too, and libhone must not reference cuDNN or cuBLAS (only hone_vendor may).
# (CUDNN_ROOT: cuDNN's folder when cudnn.h is not beside CUDA's headers.)
# Usage: tools/check_cuda_kernels.sh [build dir with generated/hone_config.h]
# (NVCC_EXTRA adds flags: NVCC_EXTRA=-maxrregcount=16 forces spills, to see the check fail.)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
[ -x "$nvcc" ] || { echo "check_cuda_kernels: no nvcc: nothing to check"; exit 0; }
[ -f "$build/generated/hone_config.h" ] || { echo "check_cuda_kernels: configure $build first"; exit 1; }
status=0
for cu in kernels/cuda/*.cu tensor/*.cu kernels/vendor/*.cu; do
  report=$("$nvcc" -std=c++20 -arch=sm_90 -O3 ${NVCC_EXTRA:-} -Xptxas -v -I. -I"$build/generated" \
    ${CUDNN_ROOT:+-I"$CUDNN_ROOT/include"} -c "$cu" -o /dev/null 2>&1) ||
    { echo "$report"; echo "check_cuda_kernels: $cu does not compile"; status=1; continue; }
  # ptxas prints, per function: "Compiling entry function '<mangled>'", then "N bytes stack frame,
  # S bytes spill stores, L bytes spill loads", then "Used R registers, ...".
  echo "$report" | c++filt | awk -v file="$cu" '
    /Compiling entry function/ { fn = $0; sub(/.*function .?/, "", fn); sub(/.? for .*/, "", fn) }
    /spill stores/ { split($0, a, ","); stores = a[2] + 0; loads = a[3] + 0; if (stores || loads) bad = bad "\n  " fn ": " $0 }
    /Used [0-9]+ registers/ { n++; r = $0; sub(/.*Used /, "", r); printf "%-28s %-64s %s\n", file, substr(fn, 1, 64), r }
    END { if (bad != "") { print "register spills in " file ":" bad; exit 1 } if (n == 0) { print file ": no kernel reported"; } }
  ' || status=1
done
if cmake --build "$build" --target help 2>/dev/null | grep -q "hone_vendor"; then
  cmake --build "$build" --target hone_vendor >/dev/null || { echo "check_cuda_kernels: hone_vendor does not build"; status=1; }
  lib=$(find "$build" -maxdepth 1 -name 'libhone.*' | head -1)
  if [ -n "$lib" ] && nm -u "$lib" 2>/dev/null | grep -qiE 'cudnn|cublas'; then
    echo "check_cuda_kernels: $lib references cuDNN/cuBLAS (only hone_vendor may)"; status=1
  fi
  [ $status = 0 ] && echo "check_cuda_kernels: hone_vendor builds; libhone references no cuDNN/cuBLAS"
fi
[ $status = 0 ] && echo "check_cuda_kernels: every kernel compiles for sm_90 without spills"
exit $status
