#!/usr/bin/env python3
"""Writes tests/golden/onnx/: weight-less "skeleton" ONNX files of real model layouts and
the outputs ONNX Runtime and PyTorch give on them, for hone's ONNX importer tests.

What
  A skeleton is a real model file (graph, names, attributes, opsets, metadata unchanged)
  whose FLOAT initializers carry no data: each is an EXTERNAL reference into
  "<name>.weights" (keys location/offset/length, contiguous in initializer order). That
  .weights file is never written to the repo: both this script and the C++ tests
  regenerate every float weight from the deterministic rule below, so a few tens of KB
  describe a 500 MB VGG. Non-float initializers (int64 shapes, axes) stay inline.
  Goldens are the model's output on the rule's input, raw little-endian float32, C order:
  "<name>.ort.bin" (ONNX Runtime, every model) and "<name>.torch.bin" (the torchvision
  module loaded with the same weights: by state_dict name for torch's BN-kept and no-BN
  exports, by position for the zoo layouts, whose initializer order is torchvision's).
  manifest.txt lists the models; see MODELS below and the manifest's header.

How to run (from anywhere; tools/golden/onnx_fixtures.sh runs both steps):
  /usr/bin/python3 tools/golden/onnx_fixtures.py export
      Debian's python (torch 1.13, torchvision, onnx): builds the model-zoo layout files
      with onnx.helper, exports the torchvision models, writes the skeletons, the torch
      goldens and manifest.txt.
  python3 tools/golden/onnx_fixtures.py ort        (any python with onnxruntime, onnx,
      numpy: `pip install onnxruntime onnx numpy`)
      materializes every model in a temp dir, runs ONNX Runtime, writes the .ort.bin
      goldens and prints the checks (ORT vs torch error, logit stats, top-5).
  python3 tools/golden/onnx_fixtures.py rule
      prints splitmix64(0) and u(1, 0..3), the numbers a port of the rule must reproduce.
  python3 tools/golden/onnx_fixtures.py materialize SKELETON DIR [--inline]
      writes the full model (the rule's weights) into DIR, for bench/compare_onnx.sh.

The rule (the C++ tests implement exactly this):
  splitmix64(x): x += 0x9E3779B97F4A7C15; z = x;
                 z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9;
                 z = (z ^ (z >> 27)) * 0x94D049BB133111EB;
                 return z ^ (z >> 31)                          (all mod 2^64)
  u(seed, i) = double(splitmix64(seed * 2^32 + i) >> 40) / 2^24 * 2 - 1      in [-1, 1)
  The k-th initializer of the graph (k from 0 over ALL initializers, file order) of
  data_type FLOAT, element i (row-major), computed in double, then cast to float:
    rank >= 2:                          u(k+1, i) * sqrt(3.0 / double(numel / dims[0]))
    rank <= 1, input 1 of a BatchNormalization (scale): 1.0 + 0.1 * u(k+1, i)
               input 2 (B): 0.1 * u;  input 3 (mean): 0.1 * u;  input 4 (var): 1.0 + 0.25 * u
    any other rank <= 1 float initializer (biases):    0.1 * u(k+1, i)
  This applies to every FLOAT initializer, also those the file stores inline (the shared
  dynamo ResNet-18 keeps five conv biases inline: they are replaced too).
  Input (the single image input): element i of [N, 3, 224, 224] = float(2 * u(1000003, i));
  N = 2 for every model here (a batch-1 input would be the first image of it).
"""
import math
import os
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "golden", "onnx")
SHARED = os.path.normpath(os.path.join(ROOT, "..", "shared"))

INPUT_SEED = 1000003
BATCH = 2
IMAGE = [3, 224, 224]

# ---------------------------------------------------------------------------------------
# The deterministic rule
# ---------------------------------------------------------------------------------------
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S40 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(40)
_MASK64 = (1 << 64) - 1


def splitmix64_py(x):
    """Scalar reference with Python ints (used to check the vectorised version)."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def splitmix64(x):
    """Vectorised splitmix64 on a uint64 array (numpy's uint64 arithmetic wraps mod 2^64)."""
    with np.errstate(over="ignore"):
        z = x + _GOLDEN
        z = (z ^ (z >> _S30)) * _M1
        z = (z ^ (z >> _S27)) * _M2
        return z ^ (z >> _S31)


def rule_u(seed, n, chunk=1 << 24):
    """u(seed, i) for i in [0, n) as float64, computed in chunks to bound memory."""
    out = np.empty(n, dtype=np.float64)
    base = np.uint64(seed << 32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        z = splitmix64(base + np.arange(s, e, dtype=np.uint64)) >> _S40
        out[s:e] = z.astype(np.float64) / 16777216.0 * 2.0 - 1.0
    return out


def rule_input(batch=BATCH):
    n = batch * int(np.prod(IMAGE))
    return (2.0 * rule_u(INPUT_SEED, n)).astype(np.float32).reshape([batch] + IMAGE)


def bn_roles(graph):
    """name -> input index (1..4) for the initializers BatchNormalization nodes read."""
    roles = {}
    for node in graph.node:
        if node.op_type == "BatchNormalization" and node.domain in ("", "ai.onnx"):
            for idx in range(1, min(5, len(node.input))):
                name = node.input[idx]
                assert roles.get(name, idx) == idx, f"{name} used by BN in two roles"
                roles[name] = idx
    return roles


def rule_values(k, dims, bn_role=None):
    """The float32 values of the k-th initializer (shape dims) under the rule."""
    dims = [int(d) for d in dims]
    n = int(np.prod(dims)) if dims else 1
    u = rule_u(k + 1, n)
    if len(dims) >= 2:
        v = u * math.sqrt(3.0 / float(n // dims[0]))
    elif bn_role in (1, 4):
        v = 1.0 + (0.1 if bn_role == 1 else 0.25) * u
    else:  # BN bias / mean, conv and gemm biases, anything else of rank <= 1
        v = 0.1 * u
    return v.astype("<f4").reshape(dims)


def float_initializers(graph):
    """(k, tensor, values) for every FLOAT initializer, k counted over all of them."""
    roles = bn_roles(graph)
    for k, t in enumerate(graph.initializer):
        if t.data_type == TensorProto.FLOAT:
            yield k, t, rule_values(k, t.dims, roles.get(t.name))


def print_rule():
    z0 = splitmix64_py(0)
    assert z0 == int(splitmix64(np.array([0], dtype=np.uint64))[0])
    print(f"splitmix64(0) = 0x{z0:016X}")
    for i in range(4):
        x = (1 << 32) + i
        assert splitmix64_py(x) == int(splitmix64(np.array([x], dtype=np.uint64))[0])
    u = rule_u(1, 4)
    print("u(1, 0..3) =", " ".join(repr(float(x)) for x in u))
    print("input[0..3] =", " ".join(repr(float(x)) for x in rule_input(1).ravel()[:4]))
    return z0, u


# ---------------------------------------------------------------------------------------
# Skeletons and materialization
# ---------------------------------------------------------------------------------------
def skeletonize(model, weights_file):
    """Strips every FLOAT initializer's data, pointing it into weights_file instead
    (contiguous, initializer order). Everything else is left as it is."""
    offset = 0
    for t in model.graph.initializer:
        if t.data_type != TensorProto.FLOAT:
            continue
        n = int(np.prod(t.dims)) if len(t.dims) else 1
        for field in ("raw_data", "float_data"):
            t.ClearField(field)
        del t.external_data[:]
        t.data_location = TensorProto.EXTERNAL
        for key, value in (("location", weights_file), ("offset", offset), ("length", 4 * n)):
            e = t.external_data.add()
            e.key, e.value = key, str(value)
        offset += 4 * n
    return model


def save_raw(model, path):
    """Serializes the proto as it is (onnx.save may try to move external data)."""
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def load_skeleton(path):
    return onnx.load(path, load_external_data=False)


def materialize(src, tmp, batch_symbolic=False):
    """Copies model file src into tmp and writes the data file(s) its own external_data
    names there, with the rule's values at its own offsets; float initializers stored
    inline are set to the rule as well. Returns the path of the copy, for ORT to load
    (so ORT reads the weights through the external-data references, as hone will)."""
    model = load_skeleton(src)
    if batch_symbolic:
        symbolic_batch(model)
    files = {}
    for _, t, v in float_initializers(model.graph):
        if t.data_location == TensorProto.EXTERNAL:
            kv = {e.key: e.value for e in t.external_data}
            off, length = int(kv.get("offset", 0)), int(kv["length"])
            assert length == v.nbytes, (t.name, length, v.nbytes)
            files.setdefault(kv["location"], []).append((off, v.tobytes()))
        else:
            t.ClearField("float_data")
            t.raw_data = v.tobytes()
    for location, pieces in files.items():
        size = max(off + len(b) for off, b in pieces)
        buf = bytearray(size)
        for off, b in pieces:
            buf[off:off + len(b)] = b
        with open(os.path.join(tmp, location), "wb") as f:
            f.write(buf)
    path = os.path.join(tmp, os.path.basename(src))
    save_raw(model, path)
    del model
    return path


def symbolic_batch(model, dim_param="N"):
    """The ORT copy of a zoo file: the image input's and the outputs' fixed batch of 1
    becomes symbolic (ORT rejects batch 2 for a fixed dim)."""
    inits = {t.name for t in model.graph.initializer}
    for vi in list(model.graph.input) + list(model.graph.output):
        if vi.name in inits:
            continue
        d0 = vi.type.tensor_type.shape.dim[0]
        d0.ClearField("dim_value")
        d0.dim_param = dim_param
    return model


# ---------------------------------------------------------------------------------------
# The models
# ---------------------------------------------------------------------------------------
# name, source, opset, bn, refs, note
#   source: "shared:<path under ../shared>", "zoo:<builder>", "tv:<arch>:<keep|fold>"
MODELS = [
    ("resnet18_dynamo", "shared:fixtures/resnet18_torch2.10_dynamo_opset18.onnx", 18, "folded", "ort",
     "PyTorch 2.10 dynamo export (not copied here); every FLOAT initializer follows the rule, "
     "including the five conv biases the file stores inline"),
    ("zoo_resnet18", "zoo:resnet18", 7, "kept", "ort,torch",
     "model-zoo resnet18-v1-7 layout (MXNet names, IR 3, params also graph inputs, BN spatial=1). "
     "The file says data is [1,3,224,224]; goldens are batch 2, ORT's run on a copy with a "
     "symbolic batch. Torch golden: torchvision resnet18 with the rule's weights loaded by "
     "position (the file's initializer order is torchvision's state_dict order)"),
    ("zoo_vgg16", "zoo:vgg16", 7, "none", "ort,torch",
     "model-zoo vgg16-7 layout (Flatten before every Gemm, Dropout ratio 0.5); file batch 1, "
     "goldens batch 2 as zoo_resnet18; torch golden: torchvision vgg16, weights by position"),
    ("zoo_vgg16_bn", "zoo:vgg16_bn", 7, "kept", "ort,torch",
     "model-zoo vgg16-bn-7 layout; file batch 1, goldens batch 2 as zoo_resnet18; torch "
     "golden: torchvision vgg16_bn, weights by position"),
]
for _arch in ("resnet18", "vgg16_bn"):
    for _op in (13, 17):
        for _bn in ("kept", "folded"):
            MODELS.append((f"tv_{_arch}_op{_op}_bn_{_bn}", f"tv:{_arch}:{_bn}", _op, _bn,
                           "ort,torch" if _bn == "kept" else "ort",
                           "torch 1.13 export, " + ("training=PRESERVE (BN kept)" if _bn == "kept"
                                                    else "training=EVAL (BN folded into Conv)")))
MODELS.append(("tv_vgg16_op17", "tv:vgg16:none", 17, "none", "ort,torch",
               "torch 1.13 export, training=EVAL (no BN to fold)"))


def skeleton_ref(name, source):
    return source if source.startswith("shared:") else f"{name}.onnx"


def write_manifest():
    z0, u = print_rule()
    lines = [
        "# ONNX importer fixtures, written by tools/golden/onnx_fixtures.py (its docstring",
        "# gives the weight rule). Columns:",
        "#   name skeleton opset bn(kept|folded|none) batch refs output_shape",
        "# skeleton: a file in this folder whose FLOAT initializers are external references into",
        "#   <name>.weights (not stored: regenerate by the rule), or shared:<path under ../shared>.",
        "# goldens: <name>.ort.bin and <name>.torch.bin, float32 little-endian, C order.",
        "# input: [batch,3,224,224], element i = float(2*u(1000003, i)).",
        f"# rule check: splitmix64(0) = 0x{z0:016X}; u(1, 0..3) = "
        + " ".join(repr(float(x)) for x in u),
    ]
    for name, source, opset, bn, refs, note in MODELS:
        lines.append(f"# {name}: {note}")
    for name, source, opset, bn, refs, note in MODELS:
        lines.append(f"{name} {skeleton_ref(name, source)} {opset} {bn} {BATCH} {refs} {BATCH}x1000")
    with open(os.path.join(OUT_DIR, "manifest.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# --- model-zoo layouts (MXNet gluon exports, opset 7, IR version 3) ----------------------
class ZooBuilder:
    """Builds a graph in the style of the ONNX Model Zoo's MXNet-exported classics: node and
    output share a name "<layer>_fwd", params are initializers AND graph inputs (IR 3)."""

    def __init__(self, prefix):
        self.prefix, self.nodes, self.inits = prefix, [], []

    def param(self, name, shape):
        # Placeholder data: the skeleton strips it anyway.
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, shape,
                                             np.zeros(shape, np.float32).tobytes(), raw=True))
        return name

    def node(self, op, name, inputs, **attrs):
        out = name + "_fwd" if not name.startswith("flatten_") else name
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    def conv(self, x, name, cin, cout, k, stride, pad, bias):
        w = self.param(f"{self.prefix}{name}_weight", [cout, cin, k, k])
        ins = [x, w] + ([self.param(f"{self.prefix}{name}_bias", [cout])] if bias else [])
        return self.node("Conv", self.prefix + name, ins, kernel_shape=[k, k], pads=[pad] * 4,
                         strides=[stride, stride], dilations=[1, 1], group=1)

    def bn(self, x, name, c):
        p = f"{self.prefix}{name}"
        ins = [x] + [self.param(f"{p}_{s}", [c]) for s in ("gamma", "beta", "running_mean", "running_var")]
        return self.node("BatchNormalization", p, ins, epsilon=1e-5, momentum=0.9, spatial=1)

    def relu(self, x, name):
        return self.node("Relu", self.prefix + name, [x])

    def dense(self, x, name, cin, cout, flat_id):
        x = self.node("Flatten", f"flatten_{flat_id}", [x])
        w = self.param(f"{self.prefix}{name}_weight", [cout, cin])
        b = self.param(f"{self.prefix}{name}_bias", [cout])
        return self.node("Gemm", self.prefix + name, [x, w, b], alpha=1.0, beta=1.0, transA=0, transB=1)

    def model(self, out, graph_name):
        data = helper.make_tensor_value_info("data", TensorProto.FLOAT, [1] + IMAGE)
        params = [helper.make_tensor_value_info(t.name, TensorProto.FLOAT, list(t.dims)) for t in self.inits]
        output = helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 1000])
        graph = helper.make_graph(self.nodes, graph_name, [data] + params, [output], self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 7)],
                              producer_name="hone tools/golden/onnx_fixtures.py",
                              doc_string="Synthetic file in the layout of the ONNX Model Zoo's "
                                         "MXNet-exported classics (opset 7, IR version 3).")
        m.ir_version = 3
        return m


def zoo_resnet18():
    b = ZooBuilder("resnetv15_")
    x = b.conv("data", "conv0", 3, 64, 7, 2, 3, False)
    x = b.relu(b.bn(x, "batchnorm0", 64), "relu0")
    x = b.node("MaxPool", "resnetv15_pool0", [x], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2])
    cin = 64
    for s, cout in enumerate((64, 128, 256, 512), start=1):
        st = f"stage{s}_"
        conv_i = bn_i = 0
        for blk in range(2):
            stride = 2 if (s > 1 and blk == 0) else 1
            res = x
            y = b.conv(x, f"{st}conv{conv_i}", cin, cout, 3, stride, 1, False)
            y = b.relu(b.bn(y, f"{st}batchnorm{bn_i}", cout), f"{st}relu{blk}")
            y = b.conv(y, f"{st}conv{conv_i + 1}", cout, cout, 3, 1, 1, False)
            y = b.bn(y, f"{st}batchnorm{bn_i + 1}", cout)
            conv_i, bn_i = conv_i + 2, bn_i + 2
            if stride != 1 or cin != cout:  # 1x1/2 downsample conv + BN
                res = b.conv(x, f"{st}conv{conv_i}", cin, cout, 1, stride, 0, False)
                res = b.bn(res, f"{st}batchnorm{bn_i}", cout)
                conv_i, bn_i = conv_i + 1, bn_i + 1
            y = b.node("Add", f"resnetv15_{st}_plus{blk}", [y, res])
            x = b.relu(y, f"{st}activation{blk}")
            cin = cout
    x = b.node("GlobalAveragePool", "resnetv15_pool1", [x])
    out = b.dense(x, "dense0", 512, 1000, 170)
    return b.model(out, "resnet18_v1")


def zoo_vgg16(batch_norm):
    b = ZooBuilder("vgg0_")
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    x, cin, i, p = "data", 3, 0, 0
    for c in cfg:
        if c == "M":
            x = b.node("MaxPool", f"vgg0_pool{p}", [x], kernel_shape=[2, 2], pads=[0, 0, 0, 0], strides=[2, 2])
            p += 1
            continue
        x = b.conv(x, f"conv{i}", cin, c, 3, 1, 1, True)
        if batch_norm:
            x = b.bn(x, f"batchnorm{i}", c)
        x = b.relu(x, f"relu{i}")
        cin, i = c, i + 1
    flat = 60
    for d, (n_in, n_out) in enumerate(((512 * 7 * 7, 4096), (4096, 4096))):
        x = b.dense(x, f"dense{d}", n_in, n_out, flat + 5 * d)
        x = b.relu(x, f"dense{d}_relu")
        x = b.node("Dropout", f"vgg0_dropout{d}", [x], ratio=0.5)
    out = b.dense(x, "dense2", 4096, 1000, flat + 10)
    return b.model(out, "vgg16_bn" if batch_norm else "vgg16")


# --- torchvision exports (torch 1.13) --------------------------------------------------
def tv_export(arch, bn, opset, path):
    """Exports torchvision `arch` in eval mode. BN kept: training=PRESERVE (the eval
    peephole pass that folds Conv+BN only runs for training=EVAL); folded: EVAL."""
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)().eval()
    # Distinct, trained-looking values: torch's exporter dedupes equal initializers (fresh
    # BN params are all 1 / 0) into Identity nodes, which a real trained model never shows.
    with torch.no_grad():
        for k, v in model.state_dict().items():
            if v.dtype == torch.float32:
                v.copy_(torch.rand_like(v) + 0.5 if k.endswith("running_var") else 0.1 * torch.randn_like(v))
    mode = torch.onnx.TrainingMode.PRESERVE if bn == "kept" else torch.onnx.TrainingMode.EVAL
    torch.onnx.export(model, torch.zeros([1] + IMAGE), path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
                      do_constant_folding=True, training=mode)
    return model


def torch_golden(model, onnx_model, by_position=False):
    """Loads the rule's weights into the torchvision module, by state_dict name (or, for
    the zoo layouts, by position among the float state_dict entries), and runs it in eval
    mode on the rule's input."""
    import torch

    sd = model.state_dict()
    float_keys = [k for k, v in sd.items() if v.dtype == torch.float32]
    values = list(float_initializers(onnx_model.graph))
    if by_position:
        assert len(values) == len(float_keys), (len(values), len(float_keys))
    loaded = set()
    for j, (_, t, v) in enumerate(values):
        key = float_keys[j] if by_position else t.name
        assert key in sd, f"{key} is not a state_dict name"
        assert list(sd[key].shape) == list(v.shape), (t.name, key)
        sd[key] = torch.from_numpy(v.copy())
        loaded.add(key)
    missing = [k for k, v in sd.items() if v.dtype == torch.float32 and k not in loaded]
    assert not missing, f"state_dict entries not in the ONNX file: {missing}"
    model.load_state_dict(sd)
    model.eval()
    with torch.no_grad():
        return model(torch.from_numpy(rule_input())).numpy().astype("<f4")


def count_ops(model):
    ops = {}
    for n in model.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    return ops


def step_export():
    import warnings

    import torch

    # training=PRESERVE with constant folding warns that folding could mutate parameters of a
    # model in training mode; ours is in eval mode (and the torch goldens confirm the export).
    warnings.filterwarnings("ignore", message="It is recommended that constant folding be turned off")
    torch.set_num_threads(2)
    os.makedirs(OUT_DIR, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name, source, opset, bn, refs, _ in MODELS:
            kind = source.split(":")
            if kind[0] == "shared":
                continue
            if kind[0] == "zoo":
                import torchvision

                model = zoo_resnet18() if kind[1] == "resnet18" else zoo_vgg16(kind[1] == "vgg16_bn")
                onnx.checker.check_model(model)
                tv = getattr(torchvision.models, kind[1])()
            else:
                path = os.path.join(tmp, name + ".onnx")
                tv = tv_export(kind[1], kind[2], opset, path)
                model = onnx.load(path)
            n_bn = count_ops(model).get("BatchNormalization", 0)
            want_bn = {"kept": n_bn > 0, "folded": n_bn == 0, "none": n_bn == 0}[bn]
            assert want_bn, f"{name}: {n_bn} BatchNormalization nodes but bn={bn}"
            assert model.opset_import[0].version == opset
            skel = skeletonize(model, name + ".weights")
            save_raw(skel, os.path.join(OUT_DIR, name + ".onnx"))
            print(f"{name}: opset {opset}, {len(skel.graph.initializer)} initializers, ops {count_ops(skel)}")
            if "torch" in refs:
                out = torch_golden(tv, skel, by_position=kind[0] == "zoo")
                out.tofile(os.path.join(OUT_DIR, name + ".torch.bin"))
                print(f"  torch golden {out.shape}, mean {out.mean():.6g}, std {out.std():.6g}")
    write_manifest()


# ---------------------------------------------------------------------------------------
# ONNX Runtime goldens and the checks
# ---------------------------------------------------------------------------------------
def run_ort(path):
    """ONNX Runtime (CPU, default graph optimizations) on the rule's input."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    # IR-3 files list their params as graph inputs too; the image is the one without data.
    inits = {t.name for t in load_skeleton(path).graph.initializer}
    feeds = [i for i in sess.get_inputs() if i.name not in inits]
    assert len(feeds) == 1, [i.name for i in feeds]
    return sess.run(None, {feeds[0].name: rule_input()})[0].astype("<f4")


def top5(logits):
    return [int(c) for c in np.argsort(-logits, kind="stable")[:5]]


def report(name, out, ref=None):
    assert out.shape == (BATCH, 1000), out.shape
    assert np.isfinite(out).all(), f"{name}: non-finite output"
    assert out.std() > 0, f"{name}: constant output"
    img = np.linalg.norm(out[0] - out[1]) / np.linalg.norm(out)
    print(f"{name}: mean {out.mean():.5g} std {out.std():.5g}; "
          f"||img0 - img1|| / ||out|| = {img:.3g}")
    for b in range(BATCH):
        print(f"  image {b} top-5 ort: {top5(out[b])}", end="")
        if ref is not None:
            print(f"  torch: {top5(ref[b])}", end="")
        print()
    if ref is not None:
        err = np.linalg.norm(out.astype(np.float64) - ref) / np.linalg.norm(ref.astype(np.float64))
        print(f"  ||ort - torch|| / ||torch|| = {err:.3g}, max abs diff {np.abs(out - ref).max():.3g}")
        assert err < 1e-4, f"{name}: ORT and torch disagree"


def step_ort():
    print_rule()
    with tempfile.TemporaryDirectory() as tmp:
        for name, source, opset, bn, refs, _ in MODELS:
            if source.startswith("shared:"):
                src = os.path.join(SHARED, source.split(":", 1)[1])
            else:
                src = os.path.join(OUT_DIR, name + ".onnx")
            path = materialize(src, tmp, batch_symbolic=source.startswith("zoo:"))
            onnx.checker.check_model(path)
            out = run_ort(path)
            for f in os.listdir(tmp):
                os.remove(os.path.join(tmp, f))
            out.tofile(os.path.join(OUT_DIR, name + ".ort.bin"))
            ref = None
            if "torch" in refs:
                ref = np.fromfile(os.path.join(OUT_DIR, name + ".torch.bin"), "<f4").reshape(out.shape)
            report(name, out, ref)
    write_manifest()
    total = 0
    for f in sorted(os.listdir(OUT_DIR)):
        size = os.path.getsize(os.path.join(OUT_DIR, f))
        total += size
        print(f"{size:10d}  tests/golden/onnx/{f}")
    print(f"{total:10d}  total")


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "export":
        step_export()
    elif cmd == "ort":
        step_ort()
    elif cmd == "rule":
        print_rule()
    elif cmd == "materialize":  # materialize SKELETON DIR [--inline]: a full model for benchmarks
        src, out = sys.argv[2], sys.argv[3]
        path = materialize(src, out)
        if "--inline" in sys.argv[4:]:
            model = onnx.load(path)  # pulls the external data in
            for t in model.graph.initializer:
                del t.external_data[:]
                t.data_location = TensorProto.DEFAULT
            for f in os.listdir(out):
                if f.endswith(".weights") or f.endswith(".data"):
                    os.remove(os.path.join(out, f))
            save_raw(model, path)
        print(path)
    else:
        sys.exit(__doc__)
