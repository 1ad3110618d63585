#!/usr/bin/python3
"""PyTorch's side of bench/train_step_bench.cpp: one configuration per call.
usage: torch_train_step.py MODEL BATCH MODE THREADS  (MODE 0 forward, 1 step, 2 head-only step,
  3 layer4 + head step and 4 head-only step with the frozen stages in eval mode (batch norm on
  its running statistics), as a fine-tuning script freezes them and as hone finetune does)
Prints: ms_per_iteration img_per_s peak_MB. Run with Debian's /usr/bin/python3."""
import resource
import sys
import time

import torch
import torchvision


def main():
    model, batch, mode, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    net = getattr(torchvision.models, model)()
    head = "classifier.6." if model.startswith("vgg") else "fc."
    trained = {2: (head,), 3: ("layer4.", head), 4: (head,)}.get(mode)
    if trained:
        for name, p in net.named_parameters():
            p.requires_grad = name.startswith(trained)
    x = torch.randn(batch, 3, 224, 224)
    y = torch.randint(0, 1000, (batch,))
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=1e-3)
    if mode == 0:
        net.eval()
    if mode in (3, 4):  # frozen stages in eval mode, the trained ones in train mode
        net.eval()
        for name, m in net.named_modules():
            if name and name.startswith(tuple(t.rstrip(".") for t in trained)):
                m.train()

    def step():
        if mode == 0:
            with torch.no_grad():
                net(x)
        else:
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

    step()
    n, start = 0, time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= 2.0 and n >= 3:
            break
    ms = elapsed / n * 1e3
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{ms:.1f} {batch * 1e3 / ms:.2f} {peak:.0f}")


if __name__ == "__main__":
    main()
