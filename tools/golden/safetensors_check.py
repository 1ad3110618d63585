#!/usr/bin/env python3
"""Cross-checks hone's safetensors files against the reference implementation.

The C++ tests never need Python: tests/safetensors_test.cpp embeds a file this script
wrote with the `safetensors` package, and checks its own writer against the format by
reading bytes. This script closes the loop the other way, on demand:

  python3 tools/golden/safetensors_check.py write OUT.safetensors
      writes the golden set with `safetensors.numpy` when it is installed, else by hand
      (struct only, no numpy needed)
  python3 tools/golden/safetensors_check.py check FILE.safetensors
      reads FILE (e.g. written by the C++ test, see below) with a small reader written
      here from the spec and, when installed, with `safetensors`; checks names, dtypes,
      shapes and values against the golden set
  python3 tools/golden/safetensors_check.py cpp FILE.safetensors
      prints FILE as the C++ byte array embedded in tests/safetensors_test.cpp

To check a file hone wrote:
  HONE_SAFETENSORS_GOLDEN_OUT=/tmp/hone_golden.safetensors \\
      build/release/tests/hone_tests --gtest_filter='SafetensorsGolden.*'
  python3 tools/golden/safetensors_check.py check /tmp/hone_golden.safetensors
(`pip install safetensors numpy` adds the reference library's read.)
"""
import json
import struct
import sys

# name -> (safetensors dtype, shape, values in row-major order). Every value is exact in
# its dtype, so both sides compare bit for bit. BF16 is left out: numpy has no bfloat16.
GOLDEN = {
    "f64": ("F64", [2, 2], [1.5, -2.25, 1e300, -0.0]),
    "f32": ("F32", [2, 3], [0.5, -1.0, 2.0, 3.25, -0.125, 1024.0]),
    "f16": ("F16", [3], [1.0, -2.0, 0.5]),
    "i64": ("I64", [3], [-1, 0, 1 << 40]),
    "i32": ("I32", [2, 1], [-7, 123456]),
    "u8": ("U8", [4], [0, 1, 127, 255]),
    "bool": ("BOOL", [3], [True, False, True]),
    "scalar": ("F32", [], [42.0]),
    "empty": ("F32", [0, 3], []),
}
METADATA = {"format": "np", "source": "hone golden"}

STRUCT = {"F64": "d", "F32": "f", "F16": "e", "I64": "q", "I32": "i", "U8": "B", "BOOL": "?"}
NUMPY = {"F64": "float64", "F32": "float32", "F16": "float16", "I64": "int64", "I32": "int32",
         "U8": "uint8", "BOOL": "bool"}


def pack(dtype, values):
    return struct.pack("<%d%s" % (len(values), STRUCT[dtype]), *values)


def write_by_hand(path):
    header, data = {"__metadata__": METADATA}, b""
    for name in sorted(GOLDEN):
        dtype, shape, values = GOLDEN[name]
        raw = pack(dtype, values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def write(path):
    try:
        import numpy as np
        from safetensors.numpy import save_file
    except ImportError:
        write_by_hand(path)
        print("wrote %s by hand (safetensors/numpy not installed)" % path)
        return
    arrays = {n: np.array(v, dtype=NUMPY[d]).reshape(s) for n, (d, s, v) in GOLDEN.items()}
    save_file(arrays, path, metadata=METADATA)
    print("wrote %s with safetensors.numpy" % path)


def read_by_hand(path):
    """A reader written from the spec alone, strict about the layout."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    buffer = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    tensors, spans = {}, []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        count = 1
        for d in info["shape"]:
            count *= d
        fmt = STRUCT[info["dtype"]]
        assert end - begin == count * struct.calcsize(fmt), name
        tensors[name] = (info["dtype"], info["shape"], list(struct.unpack("<%d%s" % (count, fmt), buffer[begin:end])))
        spans.append((begin, end))
    covered = 0
    for begin, end in sorted(spans):
        assert begin == covered, "gap or overlap at byte %d" % begin
        covered = end
    assert covered == len(buffer), "buffer has %d unowned bytes at the end" % (len(buffer) - covered)
    return tensors, metadata


def same(a, b):
    # Bitwise for floats, so -0.0 and 0.0 differ.
    return len(a) == len(b) and all(struct.pack("<d", float(x)) == struct.pack("<d", float(y)) for x, y in zip(a, b))


def check(path):
    failures = []
    tensors, metadata = read_by_hand(path)
    if metadata != METADATA:
        failures.append("metadata %r != %r" % (metadata, METADATA))
    if set(tensors) != set(GOLDEN):
        failures.append("names %s != %s" % (sorted(tensors), sorted(GOLDEN)))
    for name, want in GOLDEN.items():
        got = tensors.get(name)
        if got and (got[0] != want[0] or got[1] != want[1] or not same(got[2], want[2])):
            failures.append("%s: got %r, want %r" % (name, got, want))
    readers = ["hand reader"]
    try:
        import numpy as np
        from safetensors import safe_open
    except ImportError:
        pass
    else:
        readers.append("safetensors")
        with safe_open(path, framework="np") as f:
            if f.metadata() != METADATA:
                failures.append("safetensors: metadata %r" % f.metadata())
            for name, (dtype, shape, values) in GOLDEN.items():
                a = f.get_tensor(name)
                if str(a.dtype) != NUMPY[dtype] or list(a.shape) != shape or not same(a.reshape(-1).tolist(), values):
                    failures.append("safetensors: %s is %s %s %r" % (name, a.dtype, a.shape, a.tolist()))
    for f in failures:
        print("FAIL", f)
    print("%s: %s (%s)" % (path, "FAILED" if failures else "ok", ", ".join(readers)))
    return 1 if failures else 0


def cpp(path):
    with open(path, "rb") as f:
        blob = f.read()
    print("// %d bytes" % len(blob))
    for i in range(0, len(blob), 16):
        print("    " + ", ".join("0x%02x" % b for b in blob[i:i + 16]) + ",")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("write", "check", "cpp"):
        sys.exit(__doc__)
    sys.exit({"write": write, "check": check, "cpp": cpp}[sys.argv[1]](sys.argv[2]))
