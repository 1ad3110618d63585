#!/bin/sh
# Regenerates tests/golden/onnx/ (ONNX importer fixtures); see tools/golden/onnx_fixtures.py.
#   step 1, Debian's python (torch 1.13, torchvision, onnx): skeletons, torch goldens, manifest
#   step 2, a python with onnxruntime (pip install onnxruntime onnx numpy): ORT goldens, checks
# Usage: tools/golden/onnx_fixtures.sh [ORT_PYTHON]     (default: python3 on PATH)
set -eu
here=$(dirname "$0")
ort_python=${1:-python3}
/usr/bin/python3 "$here/onnx_fixtures.py" export
"$ort_python" "$here/onnx_fixtures.py" ort
