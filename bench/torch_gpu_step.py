#!/usr/bin/env python3
"""PyTorch eager's side of `gpu_check --train-step` (bench/gpu.sh train): the same ResNet-18
SGD-momentum step on the same GPU, batch B at 224x224, TF32 on and cudnn.benchmark on, in
NCHW and in channels-last. Prints one line per layout: median ms, images/s, peak GiB.
usage: torch_gpu_step.py [BATCH] [STEPS]   (the GPU machine's python3 with PyTorch)
torchvision is used when present; otherwise the same ResNet-18 is built here (torchvision's
layer for layer), so the script needs nothing but torch."""
import sys
import time

import torch
import torch.nn as nn


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(y)) + idt)


def resnet18():
    try:
        import torchvision
        return torchvision.models.resnet18()
    except ImportError:
        layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
        cin = 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
            cin = cout
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000)]
        return nn.Sequential(*layers)


def run(batch, steps, channels_last):
    torch.manual_seed(7)
    dev = torch.device("cuda")
    net = resnet18().to(dev)
    x = torch.randn(batch, 3, 224, 224, device=dev)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    y = (torch.arange(batch, device=dev) * 37) % 1000
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()  # the same one host round trip as hone's step

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    ms = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    ms.sort()
    med = ms[len(ms) // 2]
    layout = "channels-last" if channels_last else "NCHW"
    print(f"pytorch {torch.__version__} eager resnet18 {layout}, batch {batch}, 224x224, SGD momentum, TF32 on, "
          f"cudnn.benchmark on: median {med:.1f} ms (min {ms[0]:.1f}) = {batch * 1e3 / med:.1f} images/s; "
          f"peak allocated {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 256
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    if not torch.cuda.is_available():
        print("torch_gpu_step.py: torch sees no CUDA device: nothing measured")
        return
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    print(f"torch_gpu_step.py: {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}")
    for cl in (False, True):
        run(batch, steps, cl)


if __name__ == "__main__":
    main()
