#!/usr/bin/env python3
"""Writes tests/golden/predict/manifest.txt: PyTorch's top-5 for real photos, the reference
for `hone predict` (tests/cli_predict_test.cpp).

For each model below, torchvision's network gets the weights of the ONNX fixture
tests/golden/onnx/<fixture>.onnx (the deterministic rule of onnx_fixtures.py, loaded by
state_dict name, as that script's torch goldens do); each image goes through torchvision's
evaluation transform (PIL loader, Resize(256), CenterCrop(224), ToTensor, Normalize with
ImageNet's mean/std) and the softmax's top 5 are written with their probabilities. The
script keeps the first four images (of a fixed list) whose top 6 probabilities are each
more than 1e-3 (relative) apart, so float rounding cannot reorder the golden.

Images: a fixed list from ../shared/data/hymenoptera/val (the real photo set).
Run: /usr/bin/python3 tools/golden/predict_golden.py
"""
import os
import sys

import numpy as np
import onnx
import torch
import torchvision
from PIL import Image
from torchvision import transforms

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import onnx_fixtures as fx  # noqa: E402

ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
OUT = os.path.join(ROOT, "tests", "golden", "predict", "manifest.txt")
IMAGES = [
    "val/ants/10308379_1b6c72e180.jpg",
    "val/ants/1053149811_f62a3410d3.jpg",
    "val/bees/1032546534_06907fe3b3.jpg",
    "val/bees/10870992_eebeeb3a12.jpg",
    "val/ants/1119630822_cd325ea21a.jpg",
    "val/bees/1181173278_23c36fac71.jpg",
    "val/ants/1124525276_816a07c17f.jpg",
    "val/bees/1297972485_33266a18d9.jpg",
    "val/ants/11381045_b352a47d8c.jpg",
    "val/bees/1328423762_f7a88a8451.jpg",
    "val/ants/119785936_dd428e40c3.jpg",
    "val/bees/1355974687_1341c1face.jpg",
    "val/ants/1247887232_edcb61246c.jpg",
    "val/bees/144098310_a4176fd54d.jpg",
    "val/ants/1262751255_c56c042b7b.jpg",
    "val/bees/1486120850_490388f84b.jpg",
]
MODELS = [("tv_resnet18_op17_bn_kept", "resnet18"), ("tv_vgg16_bn_op17_bn_kept", "vgg16_bn"),
          ("tv_resnet18_op17_bn_folded", "resnet18"), ("tv_vgg16_bn_op17_bn_folded", "vgg16_bn")]


def without_batchnorm(module):
    """BatchNorm2d layers replaced by Identity, recursively (the folded file has none)."""
    for name, child in module.named_children():
        if isinstance(child, torch.nn.BatchNorm2d):
            setattr(module, name, torch.nn.Identity())
        else:
            without_batchnorm(child)


def network(fixture, arch):
    model = getattr(torchvision.models, arch)().eval()
    graph = fx.load_skeleton(os.path.join(fx.OUT_DIR, fixture + ".onnx")).graph
    if fixture.endswith("_bn_folded"):
        # BN folded by the exporter: the same function is torchvision's network with its
        # batch norms removed and each conv given the file's (folded) weight and bias, the
        # convs taken in graph order (the exporter writes them in execution order).
        values = {t.name: v for _, t, v in fx.float_initializers(graph)}
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        nodes = [n for n in graph.node if n.op_type == "Conv"]
        assert len(convs) == len(nodes), (len(convs), len(nodes))
        with torch.no_grad():
            for conv, node in zip(convs, nodes):
                conv.weight.copy_(torch.from_numpy(values.pop(node.input[1]).copy()))
                conv.bias = torch.nn.Parameter(torch.from_numpy(values.pop(node.input[2]).copy()))
            without_batchnorm(model)
            sd = model.state_dict()
            for name, v in values.items():  # the linear layers keep their names
                assert name in sd and list(sd[name].shape) == list(v.shape), name
                sd[name].copy_(torch.from_numpy(v.copy()))
        return model.eval()
    sd = model.state_dict()
    for _, t, v in fx.float_initializers(graph):
        assert t.name in sd and list(sd[t.name].shape) == list(v.shape), t.name
        sd[t.name] = torch.from_numpy(v.copy())
    model.load_state_dict(sd)
    return model.eval()


def main():
    tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(),
                             transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    lines = ["# hone predict goldens (tools/golden/predict_golden.py): fixture image top5-classes top5-probabilities",
             f"# torch {torch.__version__}, torchvision {torchvision.__version__}"]
    for fixture, arch in MODELS:
        net = network(fixture, arch)
        kept = 0
        for rel in IMAGES:
            if kept == 4:
                break
            path = os.path.join(fx.SHARED, "data", "hymenoptera", rel)
            with open(path, "rb") as f:
                x = tf(Image.open(f).convert("RGB")).unsqueeze(0)
            with torch.no_grad():
                p = torch.softmax(net(x), 1)[0].double().numpy()
            order = np.argsort(-p, kind="stable")
            if not all(p[order[k]] - p[order[k + 1]] > 1e-3 * p[order[k]] for k in range(5)):
                print(f"{fixture} {rel}: skipped, two of the top 6 are too close to order reliably")
                continue
            kept += 1
            top = order[:5]
            lines.append(f"{fixture} {rel} " + ",".join(str(int(c)) for c in top) + " " +
                         ",".join(f"{p[c]:.8g}" for c in top))
            print(lines[-1])
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
