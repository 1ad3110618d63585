#!/usr/bin/python3
"""Seed corpus for the ONNX reader fuzzer: small models that reach every part of the
reader and importer (raw_data, typed fields of each type, external data, attributes of
each kind, every supported op, old and new opsets). Writes tests/fuzz/corpus/onnx_reader/.
Run with Debian's /usr/bin/python3 (python3-onnx)."""
import os

import numpy as np
from onnx import TensorProto, helper, numpy_helper

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fuzz", "corpus", "onnx_reader")


def f32(name, shape, seed):
    return numpy_helper.from_array(np.random.default_rng(seed).standard_normal(shape).astype(np.float32), name)


def i64(name, values):
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def save(name, nodes, inits, inputs, outputs, opset, ir=8):
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="hone-fuzz-seed")
    model.ir_version = ir
    with open(os.path.join(OUT, name + ".onnx"), "wb") as f:
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
    # 3. external data reference (the file is absent when fuzzing)
    t = TensorProto()
    t.name, t.data_type = "w", TensorProto.FLOAT
    t.dims.extend([3, 4])
    t.data_location = TensorProto.EXTERNAL
    for k, v in (("location", "w.bin"), ("offset", "64"), ("length", "48")):
        e = t.external_data.add()
        e.key, e.value = k, v
    save("external", [helper.make_node("Gemm", ["x", "w"], ["y"], transB=1)], [t],
         [vi("x", [2, 4])], [vi("y", [2, 3])], 13)
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
          helper.make_tensor("bl", TensorProto.BOOL, [2], [True, False]),
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


if __name__ == "__main__":
    main()
