#!/usr/bin/python3
"""Seed corpora for the fuzz targets (tests/fuzz/targets.txt), each file a few KB at most:
  corpus/onnx         models that reach every part of the ONNX reader and importer
                      (raw_data, typed fields of each type, external data in the fuzz
                      scratch folder's weights.bin, attributes of each kind, every supported
                      op, old and new opsets) and fit load_onnx_weights' two networks
  corpus/image        JPEG (baseline, progressive, grey, CMYK, 4:2:0 and 4:4:4, EXIF
                      orientations) and PNG (every colour type and depth, palette with tRNS,
                      Adam7 interlace, eXIf) of 1 to 16 pixels a side
  corpus/safetensors  a hand-written header (whitespace, escapes, padding, metadata)
The files hone writes itself (checkpoints, safetensors of every dtype, exported networks)
come from the unit test FuzzSeeds.HoneWrittenFilesAreAcceptedByTheTargets:
  HONE_FUZZ_SEEDS_OUT=tests/fuzz/corpus build/release/tests/hone_tests --gtest_filter='FuzzSeeds.*'
Run with Debian's /usr/bin/python3 (python3-onnx, python3-pil)."""
import io
import json
import os
import struct
import zlib

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

CORPUS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
OUT = os.path.join(CORPUS, "onnx")


def f32(name, shape, seed):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def save(name, nodes, inits, inputs, outputs, opset, ir=8, out=OUT):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hone-fuzz-seed")
    model.ir_version = ir
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, name + ".onnx"), "wb") as f:
        f.write(model.SerializeToString())


def vi(name, shape, t=TensorProto.FLOAT):
    return helper.make_tensor_value_info(name, t, shape)


def main():
    os.makedirs(OUT, exist_ok=True)
    x4 = vi("x", ["N", 3, 8, 8])
    # 1. linear head, raw_data
    save("linear_raw", [helper.make_node("Gemm", ["x", "w", "b"], ["z"], transB=1), helper.make_node("Relu", ["z"], ["y"])],
         [f32("w", (3, 4), 1), f32("b", (3,), 2)], [vi("x", [2, 4])], [vi("y", [2, 3])], 13)
    # 2. the same with float_data (typed field)
    w = helper.make_tensor("w", TensorProto.FLOAT, [3, 4], np.arange(12, dtype=np.float32).tolist())
    b = helper.make_tensor("b", TensorProto.FLOAT, [3], [0.5, -1.0, 0.25])
    save("linear_typed", [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1, alpha=0.5, beta=2.0)], [w, b],
         [vi("x", [2, 4])], [vi("y", [2, 3])], 11)
    # 3. external data in the fuzz scratch folder (fuzz_util.h): weights.bin at an offset
    # with a length, and sub/weights.bin up to its end (no length)
    save("external", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
         [external("w", [3, 4], "weights.bin", 64, 48)], [vi("x", [2, 4])], [vi("y", [2, 3])], 13)
    save("external_sub", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
         [external("w", [3, 4], "sub/weights.bin", 4096 - 48)], [vi("x", [2, 4])], [vi("y", [2, 3])], 13)
    # 4. a tiny ResNet stem in the model zoo's style: opset 7, BN spatial=1, Flatten + Gemm
    save("zoo_stem", [
        helper.make_node("Conv", ["x", "cw"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n"], epsilon=1e-5, momentum=0.9, spatial=1),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g2"]),
        helper.make_node("Flatten", ["g2"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
        [f32("cw", (4, 3, 3, 3), 3), f32("g", (4,), 4), f32("be", (4,), 5), f32("m", (4,), 6),
         numpy_helper.from_array(np.ones(4, np.float32), "v"), f32("fw", (5, 4), 7), f32("fb", (5,), 8)],
        [vi("x", [1, 3, 8, 8])], [vi("y", [1, 5])], 7, ir=3)
    # 5. opset 18: ReduceMean with axes as input, the dynamo-style flatten
    save("dynamo_tail", [
        helper.make_node("ReduceMean", ["x", "axes"], ["m"], keepdims=1),
        helper.make_node("Shape", ["m"], ["s"], start=0, end=1),
        helper.make_node("Concat", ["s", "minus1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["m", "shape"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
        [i64("axes", [-1, -2]), i64("minus1", [-1]), f32("fw", (2, 3), 9), f32("fb", (2,), 10)], [x4], [vi("y", ["N", 2])], 18)
    # 6. Constant, Clip (attributes), Softmax (pre-13), Dropout (ratio attribute), Identity
    save("clip_softmax", [
        helper.make_node("Constant", [], ["k"], value=helper.make_tensor("k", TensorProto.FLOAT, [1], [0.5])),
        helper.make_node("Mul", ["x", "k"], ["a"]),
        helper.make_node("Clip", ["a"], ["c"], min=-1.0, max=1.0),
        helper.make_node("Dropout", ["c"], ["d"], ratio=0.3),
        helper.make_node("Identity", ["d"], ["i"]),
        helper.make_node("Softmax", ["i"], ["y"], axis=1)], [], [vi("x", [2, 5])], [vi("y", [2, 5])], 6)
    # 7. typed fields of every supported type
    ts = [helper.make_tensor("i32", TensorProto.INT32, [3], [1, -2, 3]),
          helper.make_tensor("u8", TensorProto.UINT8, [2], [7, 255]),
          helper.make_tensor("bl", TensorProto.BOOL, [2], [1, 0]),
          helper.make_tensor("h", TensorProto.FLOAT16, [2], np.array([1.5, -2], np.float16).view(np.uint16).tolist()),
          helper.make_tensor("d", TensorProto.DOUBLE, [2], [1.0, 2.0]),
          i64("i64", [4, 5])]
    save("typed_fields", [helper.make_node("Identity", ["x"], ["y"])], ts, [vi("x", [2])], [vi("y", [2])], 13)
    # 8. pooling with padding / ceil, Sum, Add, Unsqueeze (axes input), Gather
    save("pool_sum", [
        helper.make_node("AveragePool", ["x"], ["a"], kernel_shape=[3, 3], pads=[2, 2, 2, 2], ceil_mode=1, count_include_pad=1),
        helper.make_node("MaxPool", ["x"], ["b"], kernel_shape=[2, 2], strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("GlobalAveragePool", ["a"], ["ga"]),
        helper.make_node("GlobalAveragePool", ["b"], ["gb"]),
        helper.make_node("Sum", ["ga", "gb", "ga"], ["s"]),
        helper.make_node("Add", ["s", "s"], ["t"]),
        helper.make_node("Shape", ["t"], ["sh"]),
        helper.make_node("Gather", ["sh", "idx"], ["g"], axis=0),
        helper.make_node("Unsqueeze", ["g", "ax"], ["u"]),
        helper.make_node("Reshape", ["t", "u"], ["y"])],
        [i64("idx", [0, 1]), i64("ax", [0])], [x4], [vi("y", ["N", 3])], 13)
    # 9. a cycle and a missing input (bad graphs the reader must refuse)
    save("cycle", [helper.make_node("Relu", ["b"], ["a"]), helper.make_node("Relu", ["a"], ["b"])], [],
         [vi("x", [1])], [vi("b", [1])], 13)
    save("unsupported_op", [helper.make_node("Frobnicate", ["x"], ["y"])], [], [vi("x", [1])], [vi("y", [1])], 13)
    # 10. a tiny conv net with its weights in external data, BN folded into the conv (a
    # bias, no BatchNormalization), and a MatMul + Add head: load_onnx_weights' stem network
    # takes it through the folded-BN and MatMul paths
    save("conv_external_folded", [
        helper.make_node("Conv", ["x", "cw", "cb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["p"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "fw"], ["m"]),
        helper.make_node("Add", ["m", "fb"], ["y"])],
        [external("cw", [4, 3, 3, 3], "weights.bin", 0, 432), external("cb", [4], "link_in.bin", 432, 16),
         f32("fw", (4, 5), 11), f32("fb", (5,), 12)],
        [vi("x", ["N", 3, 8, 8])], [vi("y", ["N", 5])], 17)
    # 12. opset 13: the forms that take inputs instead of attributes (Clip bounds from a
    # Constant and a scalar initializer, Dropout ratio, Unsqueeze axes, Reshape with a 0),
    # Gemm with alpha/beta and no transB (the matmul path), ReduceMean axes attribute
    def scalar(name, value):
        return numpy_helper.from_array(np.array(value, dtype=np.float32), name)
    save("ops13", [
        helper.make_node("Constant", [], ["lo"], value_floats=[-1.0]),
        helper.make_node("Clip", ["x", "lo", "hi"], ["c"]),
        helper.make_node("Dropout", ["c", "ratio"], ["d"]),
        helper.make_node("Softmax", ["d"], ["s"], axis=-1),
        helper.make_node("Sub", ["s", "k"], ["t"]),
        helper.make_node("Div", ["t", "two"], ["u"]),
        helper.make_node("Gemm", ["u", "w", "b"], ["g"], alpha=0.5, beta=2.0),
        helper.make_node("ReduceMean", ["g"], ["m"], axes=[1], keepdims=0),
        helper.make_node("Unsqueeze", ["m", "ax"], ["un"]),
        helper.make_node("Reshape", ["un", "shape"], ["r"]),
        helper.make_node("Add", ["r", "g"], ["y"])],
        [scalar("hi", 1.0), scalar("ratio", 0.25), f32("k", (4,), 13), scalar("two", 2.0), f32("w", (4, 3), 14),
         f32("b", (3,), 15), i64("ax", [1]), i64("shape", [0, -1])],
        [vi("x", ["N", 4])], [vi("y", ["N", 3])], 13)
    # 13. opset 21, IR 10: grouped dilated Conv, BN, dilated ceil-mode MaxPool
    save("conv_opset21", [
        helper.make_node("Conv", ["x", "cw"], ["c"], group=2, dilations=[2, 2], pads=[2, 2, 2, 2], kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n"]),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2], dilations=[2, 2], ceil_mode=1),
        helper.make_node("GlobalAveragePool", ["p"], ["ga"]),
        helper.make_node("Flatten", ["ga"], ["f"]),
        helper.make_node("Gemm", ["f", "fw", "fb"], ["y"], transB=1)],
        [f32("cw", (4, 2, 3, 3), 16), f32("g", (4,), 17), f32("be", (4,), 18), f32("m", (4,), 19),
         numpy_helper.from_array(np.ones(4, np.float32), "v"), f32("fw", (5, 4), 20), f32("fb", (5,), 21)],
        [vi("x", ["N", 4, 8, 8])], [vi("y", ["N", 5])], 21, ir=10)
    # 11. external data the scratch folder makes hostile: a symlink that stays inside, one
    # that leads out, an empty file, a folder, a path through "..", and a named pipe. The
    # pipe's seed hangs the reader until it refuses non-regular files before opening them,
    # so it waits in crashes/onnx_reader/ until then.
    for kind, location in (("link_in", "link_in.bin"), ("link_out", "link_out.bin"), ("empty", "empty.bin"),
                           ("dir", "dir.bin"), ("dotdot", "sub/../weights.bin"), ("fifo", "fifo.bin")):
        save("external_" + kind, [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)],
             [external("w", [3, 4], location, 0, 48)], [vi("x", [2, 4])], [vi("y", [2, 3])], 13,
             out=os.path.join(CORPUS, "..", "crashes", "onnx_reader") if kind == "fifo" else OUT)
    images()
    handmade_safetensors()


def external(name, dims, location, offset, length=None):
    t = TensorProto()
    t.name, t.data_type = name, TensorProto.FLOAT
    t.dims.extend(dims)
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", location), ("offset", str(offset)), ("length", None if length is None else str(length))):
        if v is not None:
            e = t.external_data.add()
            e.key, e.value = k, v
    return t


def png(width, height, colour, depth, rows, interlace=False, palette=None, trns=None, exif=None):
    """A PNG from `rows(x0, dx, y)`: the packed bytes of one scanline of the pixels x0,
    x0+dx, ... on row y (each pass of Adam7 asks for its own)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    for x0, y0, dx, dy in passes if interlace else [(0, 0, 1, 1)]:
        if x0 >= width:
            continue
        for y in range(y0, height, dy):
            raw += b"\0" + rows(x0, dx, y)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, int(interlace)))
    if palette:
        out += chunk(b"PLTE", palette)
    if trns:
        out += chunk(b"tRNS", trns)
    if exif:
        out += chunk(b"eXIf", exif)
    return out + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def packed(values, depth):
    """Samples of `depth` bits (1, 2, 4, 8, 16) packed big-endian as PNG rows are."""
    if depth == 16:
        return b"".join(struct.pack(">H", v) for v in values)
    if depth == 8:
        return bytes(values)
    per = 8 // depth
    out = bytearray()
    for i in range(0, len(values), per):
        group = values[i:i + per] + [0] * (per - len(values[i:i + per]))
        b = 0
        for v in group:
            b = (b << depth) | v
        out.append(b)
    return bytes(out)


def exif_orientation(value, big_endian=False):
    """A TIFF header and IFD0 holding one Orientation (0x0112) entry."""
    e = ">" if big_endian else "<"
    return (b"MM" if big_endian else b"II") + struct.pack(e + "HIH", 42, 8, 1) + struct.pack(e + "HHIHH", 0x0112, 3, 1, value, 0) + struct.pack(e + "I", 0)


def images():
    out = os.path.join(CORPUS, "image")
    os.makedirs(out, exist_ok=True)

    def pixel(x, y, c):
        return (x * 37 + y * 91 + c * 53) % 256

    def rgb(w, h):
        im = Image.new("RGB", (w, h))
        im.putdata([tuple(pixel(x, y, c) for c in range(3)) for y in range(h) for x in range(w)])
        return im

    def save_jpeg(name, im, **kw):
        buf = io.BytesIO()
        im.save(buf, "JPEG", **kw)
        with open(os.path.join(out, name), "wb") as f:
            f.write(buf.getvalue())

    save_jpeg("baseline_8x8.jpg", rgb(8, 8), quality=90)
    save_jpeg("baseline_1x1.jpg", rgb(1, 1), quality=75)
    save_jpeg("progressive_16x12.jpg", rgb(16, 12), quality=85, progressive=True)
    save_jpeg("subsampling444_5x3.jpg", rgb(5, 3), quality=95, subsampling=0)
    save_jpeg("grey_7x5.jpg", rgb(7, 5).convert("L"), quality=80)
    save_jpeg("cmyk_4x4.jpg", rgb(4, 4).convert("CMYK"), quality=90)
    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save_jpeg("exif%d_6x3.jpg" % orientation, rgb(6, 3), quality=80, exif=exif.tobytes())

    def save_png(name, data):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)

    w, h = 5, 4
    save_png("rgb8_5x4.png", png(w, h, 2, 8, lambda x0, dx, y: bytes(pixel(x, y, c) for x in range(x0, w, dx) for c in range(3))))
    save_png("rgb16_adam7_9x9.png", png(9, 9, 2, 16, lambda x0, dx, y: packed(
        [pixel(x, y, c) * 257 for x in range(x0, 9, dx) for c in range(3)], 16), interlace=True))
    save_png("rgba8_3x3.png", png(3, 3, 6, 8, lambda x0, dx, y: bytes(pixel(x, y, c) for x in range(x0, 3, dx) for c in range(4))))
    save_png("grey1_10x2.png", png(10, 2, 0, 1, lambda x0, dx, y: packed([(x + y) % 2 for x in range(x0, 10, dx)], 1)))
    save_png("grey2_adam7_6x6.png", png(6, 6, 0, 2, lambda x0, dx, y: packed([(x * y) % 4 for x in range(x0, 6, dx)], 2),
                                        interlace=True))
    save_png("grey16_3x2.png", png(3, 2, 0, 16, lambda x0, dx, y: packed([x * 200 + y * 7 for x in range(x0, 3, dx)], 16)))
    save_png("greyalpha8_2x2.png", png(2, 2, 4, 8, lambda x0, dx, y: bytes(v for x in range(x0, 2, dx) for v in (x * 99, 128))))
    save_png("palette4_trns_4x4.png", png(4, 4, 3, 4, lambda x0, dx, y: packed([(x + 2 * y) % 5 for x in range(x0, 4, dx)], 4),
                                          palette=bytes(pixel(i, i, c) for i in range(5) for c in range(3)), trns=b"\x00\x80\xff"))
    save_png("palette8_exif_1x1.png", png(1, 1, 3, 8, lambda x0, dx, y: b"\0", palette=b"\x10\x20\x30",
                                          exif=exif_orientation(6, big_endian=True)))


def handmade_safetensors():
    """Whitespace, escaped names, metadata first, padding: the parts of the format hone's
    writer never produces."""
    out = os.path.join(CORPUS, "safetensors")
    os.makedirs(out, exist_ok=True)
    data = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0) + struct.pack("<2q", 7, -1) + bytes([1, 0, 1])
    header = ('{ "__metadata__" : {"note": "hand \\"made\\"", "format": "pt"},\n'
              '  "a\\u00e9.w" : {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},\n'
              '  "steps": {"shape": [2], "dtype": "I64", "data_offsets": [16, 32], "extra": [1, {"x": null}]},\n'
              '  "mask": {"dtype": "BOOL", "shape": [3], "data_offsets": [32, 35]} }').encode()
    header += b" " * (-len(header) % 8)
    json.loads(header)  # stays valid JSON
    with open(os.path.join(out, "handmade.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + data)


if __name__ == "__main__":
    main()
