#!/usr/bin/env python3
"""ONNX Runtime's side of bench/compare_onnx.sh: forward of FILE at BATCH on THREADS
threads (intra-op), after one warm-up run, timed over >= 2 s. Prints: ms_per_batch img_per_s.
Needs `pip install onnxruntime numpy`."""
import sys
import time

import numpy as np
import onnxruntime as ort


def main():
    path, batch, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    inp = sess.get_inputs()[0]
    shape = [batch] + [d if isinstance(d, int) else 224 for d in inp.shape[1:]]
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype(np.float32)
    sess.run(None, {inp.name: x})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2.0 or n < 3:
        sess.run(None, {inp.name: x})
        n += 1
    ms = (time.perf_counter() - start) / n * 1e3
    print(f"{ms:.2f} {batch / ms * 1e3:.2f}")


if __name__ == "__main__":
    main()
