#!/usr/bin/python3
"""PyTorch's side of bench/compare_finetune.sh: the loop `hone finetune` runs
(tools/finetune.cpp), in torchvision's ImageFolder + DataLoader with the same settings.
torchvision resnet18 (random weights: speed does not depend on them), a new fc for the
data's classes; the strategy freezes as hone's does: partial:STAGE every parameter before
the first one named STAGE (partial:layer4: conv1, bn1, layer1-3), feature-extract all but
the head, full nothing; batch norm whose weights are frozen keeps running statistics
(eval mode) while training. SGD with momentum, weight decay, the head at lr * head_lr_mult,
cosine schedule per step. Training transform RandomResizedCrop(224) + flip + normalize
(feature-extract: the evaluation transform, as hone's cached features use); validation
Resize(256) + CenterCrop(224), every epoch, not timed.
Each epoch's training is timed from the loader's start to the last optimizer step, as
hone's metrics.csv train_img_per_s. Prints per epoch "epoch E train_img_per_s R seconds S
val_acc A" and last "overall train_img_per_s R" (all epochs).
usage: torch_finetune.py DATA [--strategy S] [--epochs N] [--batch-size B] [--workers W]
       [--threads T] [--lr LR] [--head-lr-mult M] [--momentum MO] [--weight-decay WD]
DATA holds train/ and val/ (torchvision's layout, as hone reads it)."""
import argparse
import math
import os
import time

import torch
import torchvision
from torchvision import datasets, transforms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--strategy", default="full")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--head-lr-mult", type=float, default=10)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    norm = transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    eval_tf = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224), transforms.ToTensor(), norm])
    train_tf = transforms.Compose([transforms.RandomResizedCrop(224), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), norm])
    extract = a.strategy == "feature-extract"
    train = datasets.ImageFolder(os.path.join(a.data, "train"), eval_tf if extract else train_tf)
    val = datasets.ImageFolder(os.path.join(a.data, "val"), eval_tf)
    # Persistent workers: PyTorch's fastest setting (no process start per epoch).
    opts = dict(batch_size=a.batch_size, num_workers=a.workers, persistent_workers=a.workers > 0)
    train_loader = torch.utils.data.DataLoader(train, shuffle=True, **opts)
    val_loader = torch.utils.data.DataLoader(val, shuffle=False, **opts)

    net = torchvision.models.resnet18()
    net.fc = torch.nn.Linear(net.fc.in_features, len(train.classes))
    if extract:
        for name, p in net.named_parameters():
            p.requires_grad = name.startswith("fc.")
    elif a.strategy.startswith("partial:"):
        stage = a.strategy[len("partial:"):]
        for name, p in net.named_parameters():
            if name.startswith(stage):
                break
            p.requires_grad = False
    elif a.strategy != "full":
        raise SystemExit(f"strategy: full, partial:STAGE or feature-extract; got '{a.strategy}'")
    frozen_bn = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d) and not m.weight.requires_grad]
    body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("fc.")]
    head = list(net.fc.parameters())
    groups = ([{"params": body}] if body else []) + [{"params": head, "lr": a.lr * a.head_lr_mult}]
    opt = torch.optim.SGD(groups, lr=a.lr, momentum=a.momentum, weight_decay=a.weight_decay)
    total = len(train_loader) * a.epochs
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))

    all_images, all_seconds = 0, 0.0
    for epoch in range(1, a.epochs + 1):
        net.train()
        for m in frozen_bn:
            m.eval()
        loss_sum, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        for x, y in train_loader:
            opt.zero_grad()
            logits = net(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += loss.item() * y.shape[0]
            correct += int((logits.detach().argmax(1) == y).sum())
            seen += y.shape[0]
        seconds = time.perf_counter() - start
        all_images, all_seconds = all_images + seen, all_seconds + seconds
        net.eval()
        hits = 0
        with torch.no_grad():
            for x, y in val_loader:
                hits += int((net(x).argmax(1) == y).sum())
        print(f"epoch {epoch} train_img_per_s {seen / seconds:.2f} seconds {seconds:.2f} "
              f"train_loss {loss_sum / seen:.4f} val_acc {hits / len(val):.3f}", flush=True)
    print(f"overall train_img_per_s {all_images / all_seconds:.2f}")


if __name__ == "__main__":
    main()
