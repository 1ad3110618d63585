#!/usr/bin/python3
"""PyTorch's CPU conv2d on the ResNet-18 (batch 8) and VGG-16 (batch 2) layer shapes of
bench/conv2d_bench.cpp (224x224 input), forward and backward (input + weight gradients), at a given thread count.
Prints one line per benchmark: name ms_per_iteration. Run with Debian's /usr/bin/python3."""
import sys
import time

import torch

LAYERS = [  # name, c_in, c_out, kernel, stride, padding, input size
    ("conv1", 3, 64, 7, 2, 3, 224), ("layer1", 64, 64, 3, 1, 1, 56),
    ("layer2.0.conv1", 64, 128, 3, 2, 1, 56), ("layer2.0.down", 64, 128, 1, 2, 0, 56),
    ("layer2", 128, 128, 3, 1, 1, 28), ("layer3.0.conv1", 128, 256, 3, 2, 1, 28),
    ("layer3.0.down", 128, 256, 1, 2, 0, 28), ("layer3", 256, 256, 3, 1, 1, 14),
    ("layer4.0.conv1", 256, 512, 3, 2, 1, 14), ("layer4.0.down", 256, 512, 1, 2, 0, 14),
    ("layer4", 512, 512, 3, 1, 1, 7),
]
VGG16 = [  # VGG-16's distinct conv shapes at batch 2 (the train-step benchmark's batch)
    ("vgg16.conv1_1", 3, 64, 3, 1, 1, 224), ("vgg16.conv1_2", 64, 64, 3, 1, 1, 224),
    ("vgg16.conv2_1", 64, 128, 3, 1, 1, 112), ("vgg16.conv2_2", 128, 128, 3, 1, 1, 112),
    ("vgg16.conv3_1", 128, 256, 3, 1, 1, 56), ("vgg16.conv3_2", 256, 256, 3, 1, 1, 56),
    ("vgg16.conv4_1", 256, 512, 3, 1, 1, 28), ("vgg16.conv4_2", 512, 512, 3, 1, 1, 28),
    ("vgg16.conv5", 512, 512, 3, 1, 1, 14),
]
BATCH = 8
VGG_BATCH = 2


def timeit(fn, min_time=0.5):
    fn()  # warm-up
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_time and n >= 3:
            return elapsed / n * 1e3


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    for name, cin, cout, k, s, p, hw in LAYERS + VGG16:
        conv = torch.nn.Conv2d(cin, cout, k, stride=s, padding=p)
        x = torch.randn(VGG_BATCH if name.startswith("vgg") else BATCH, cin, hw, hw, requires_grad=True)
        with torch.no_grad():
            fwd = timeit(lambda: conv(x))
        y = conv(x)
        dy = torch.randn_like(y)

        def backward():
            x.grad = None
            conv.weight.grad = None
            torch.autograd.grad(y, [x, conv.weight], dy, retain_graph=True)

        bwd = timeit(backward)
        print(f"conv2d_forward/{name} {fwd:.3f}")
        print(f"conv2d_backward/{name} {bwd:.3f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
