#!/usr/bin/env python3
"""Writes tests/golden/predict/manifest.txt: PyTorch's top-5 for real photos, the reference
for `hone predict` (tests/cli_predict_test.cpp).

For each model below, torchvision's network gets the weights of the ONNX fixture
tests/golden/onnx/<fixture>.onnx (the deterministic rule of onnx_fixtures.py, loaded by
state_dict name, as that script's torch goldens do); each image goes through torchvision's
evaluation transform (PIL loader, Resize(256), CenterCrop(224), ToTensor, Normalize with
ImageNet's mean/std) and the softmax's top 5 are written with their probabilities. The
script refuses an image whose 5th and 6th probabilities are closer than 1e-3 relative, so
float rounding cannot reorder the golden.

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
IMAGES = ["val/ants/10308379_1b6c72e180.jpg", "val/ants/1053149811_f62a3410d3.jpg",
          "val/bees/1032546534_06907fe3b3.jpg", "val/bees/10870992_eebeeb3a12.jpg"]
MODELS = [("tv_resnet18_op17_bn_kept", "resnet18"), ("tv_vgg16_bn_op17_bn_kept", "vgg16_bn")]


def network(fixture, arch):
    model = getattr(torchvision.models, arch)().eval()
    graph = fx.load_skeleton(os.path.join(fx.OUT_DIR, fixture + ".onnx")).graph
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
        for rel in IMAGES:
            path = os.path.join(fx.SHARED, "data", "hymenoptera", rel)
            with open(path, "rb") as f:
                x = tf(Image.open(f).convert("RGB")).unsqueeze(0)
            with torch.no_grad():
                p = torch.softmax(net(x), 1)[0].double().numpy()
            order = np.argsort(-p, kind="stable")
            assert (p[order[4]] - p[order[5]]) > 1e-3 * p[order[4]], f"{fixture} {rel}: 5th and 6th too close"
            top = order[:5]
            lines.append(f"{fixture} {rel} " + ",".join(str(int(c)) for c in top) + " " +
                         ",".join(f"{p[c]:.8g}" for c in top))
            print(lines[-1])
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
