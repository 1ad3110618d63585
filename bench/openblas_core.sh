# Sourced by the comparison scripts: give the peers (PyTorch, NumPy through Debian's
# OpenBLAS 0.3.21) their best kernels. That OpenBLAS takes newer Xeons for "Prescott" and
# runs several times slower; naming the core type fixes it. Set OPENBLAS_CORETYPE yourself
# to override.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SKYLAKEX; else export OPENBLAS_CORETYPE=HASWELL; fi
fi
echo "OpenBLAS core type for the peers: $OPENBLAS_CORETYPE ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
