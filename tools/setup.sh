#!/usr/bin/env bash
# One list of what hone needs on Debian 12, installed when missing. The README's two
# commands and .ci/run all start here. As root it runs apt-get; otherwise it prints the
# exact command to run and stops, so nothing happens behind the user's back.
set -euo pipefail

packages=(
  cmake ninja-build g++ make                       # the build
  libprotobuf-dev protobuf-compiler libonnx-dev    # ONNX files (the official onnx.proto)
  libjpeg62-turbo-dev libpng-dev zlib1g-dev libexif-dev  # images in
  libcli11-dev nlohmann-json3-dev                  # command line, JSON (header-only)
  dataset-fashion-mnist                            # the demo's data (hone demo)
  libgtest-dev libgmock-dev libbenchmark-dev       # tests and benchmarks
  libonnx-testdata                                 # ONNX backend conformance tests
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi
cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
  echo "setup: missing packages: ${missing[*]}" >&2
  echo "setup: run as root:  apt-get update && $cmd" >&2
  exit 1
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
