# Sourced by the comparison scripts: give the peers (PyTorch, NumPy through Debian's
# OpenBLAS 0.3.21) their best kernels.
#
# First, that they have OpenBLAS at all: Debian's torch and numpy call whatever
# libblas.so.3 the alternatives name, and without libopenblas0-pthread that is the
# reference BLAS (torch.mm at 6 GFLOP/s instead of 350 on a 2-core AMD EPYC, so every
# linear layer of the peer crawls). Install it when we can (root), else say so loudly.
peer_blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$peer_blas" in
  *openblas*) ;;
  *)
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "The peers' BLAS is ${peer_blas:-missing}: installing libopenblas0-pthread"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libopenblas0-pthread >/dev/null 2>&1 ||
        echo "WARNING: apt-get install libopenblas0-pthread failed"
      peer_blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
    fi
    case "$peer_blas" in *openblas*) ;; *) echo "WARNING: the peers run on ${peer_blas:-no BLAS}, not OpenBLAS: their linear layers are far from their best" ;; esac
    ;;
esac
echo "BLAS for the peers: ${peer_blas:-none}"
# That OpenBLAS takes newer Xeons for "Prescott" and
# runs several times slower; naming the core type fixes it. Set OPENBLAS_CORETYPE yourself
# to override.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo; then export OPENBLAS_CORETYPE=SKYLAKEX; else export OPENBLAS_CORETYPE=HASWELL; fi
fi
echo "OpenBLAS core type for the peers: $OPENBLAS_CORETYPE ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'))"
