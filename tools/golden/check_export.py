#!/usr/bin/env python3
"""Runs the files export_onnx wrote (kept by tests/onnx_export_test.cpp when HONE_EXPORT_DIR
is set) through the ONNX checker and ONNX Runtime, and compares ORT's output with hone's.
Usage:
  HONE_EXPORT_DIR=/tmp/hone_export build/release/tests/hone_tests --gtest_filter='OnnxExport*'
  python3 tools/golden/check_export.py /tmp/hone_export      (pip install onnxruntime onnx numpy)
Exit status 1 if any file fails the checker, fails to run, or differs by more than 1e-5
(norm-wise relative error)."""
import ast
import glob
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main(folder):
    bad = 0
    for path in sorted(glob.glob(os.path.join(folder, "*.onnx"))):
        stem = path[:-5]
        shape = ast.literal_eval(open(stem + ".input.bin.shape").read().replace("{", "[").replace("}", "]"))
        x = np.fromfile(stem + ".input.bin", dtype=np.float32).reshape(shape)
        ours = np.fromfile(stem + ".hone.bin", dtype=np.float32)
        model = onnx.load(path)
        onnx.checker.check_model(model)
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (theirs,) = sess.run(None, {sess.get_inputs()[0].name: x})
        err = np.linalg.norm(theirs.ravel() - ours) / np.linalg.norm(theirs.ravel())
        meta = {p.key: p.value.replace("\n", "|") for p in model.metadata_props}
        ok = err < 1e-5
        bad += not ok
        print(f"{os.path.basename(path)}: opset {model.opset_import[0].version}, ORT output {list(theirs.shape)}, "
              f"relative error vs hone {err:.2e} {'ok' if ok else 'FAIL'}; metadata {meta}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
