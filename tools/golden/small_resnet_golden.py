#!/usr/bin/python3
"""Golden values for tests/training_golden_test.cpp: hone's small_resnet(10, 1, {8, 16},
{1, 1}) rebuilt in PyTorch with the same parameter names, trained 3 SGD steps (momentum
0.9, weight decay 1e-4, lr 0.05, train mode) on a fixed batch. Writes the initial
state_dict, the batch, the 3 losses and the final state_dict to
tests/golden/small_resnet_sgd.safetensors (a minimal safetensors writer, no extra
packages). Run with Debian's /usr/bin/python3 (torch 1.13)."""
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.downsample = None
        if stride != 1 or cin != width:
            self.downsample = nn.Sequential(nn.Conv2d(cin, width, 1, stride, bias=False), nn.BatchNorm2d(width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + (self.downsample(x) if self.downsample is not None else x))


class SmallResNet(nn.Module):
    def __init__(self, widths=(8, 16), classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        cin = widths[0]
        for i, w in enumerate(widths):
            setattr(self, f"layer{i + 1}", nn.Sequential(Block(cin, w, 1 if i == 0 else 2)))
            cin = w
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def write_safetensors(path, tensors):
    dtypes = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    net = SmallResNet()
    x = torch.randn(4, 1, 12, 12)
    y = torch.tensor([0, 3, 5, 9])
    out = {f"init.{k}": v.clone() for k, v in net.state_dict().items()}
    out["input"], out["target"] = x, y
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
    net.train()
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    out["losses"] = torch.tensor(losses, dtype=torch.float64)
    out.update({f"final.{k}": v.clone() for k, v in net.state_dict().items()})
    path = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "golden", "small_resnet_sgd.safetensors")
    write_safetensors(path, out)
    print("wrote", os.path.normpath(path), "losses", losses)


if __name__ == "__main__":
    main()
