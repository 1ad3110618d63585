#!/usr/bin/python3
"""`hone demo` in PyTorch: the same protocol, so hone's numbers can be read next to
PyTorch's. Run with Debian's /usr/bin/python3 (torch 1.13); no torchvision, no download.

  1. source task: Fashion-MNIST classes 0-4; a small ResNet is pretrained on them;
  2. target task: classes 5-9 with a few labelled images per class; the pretrained
     network gets a fresh 5-way head and is fine-tuned with each strategy:
       scratch          every layer re-initialised (PyTorch's layer defaults), lr 0.1
       feature-extract  backbone frozen, its features computed once, only the head trains
       partial:layer2   conv1, bn1, layer1 frozen (their BN on running statistics)
       full             everything trains
     (pretrained starts: body lr 0.01, head 10x);
  3. target test accuracy (all 5000 test images of classes 5-9, last epoch's weights),
     mean and std over seeds.

Differences from hone demo: the pretrained weights are copied in memory instead of going
through an ONNX file, and the random streams (data choice, init, shuffling) are PyTorch's
and NumPy's, so single runs differ; compare means over seeds.
Example: /usr/bin/python3 tools/demo_torch.py --seeds 0,1,2 --json runs/demo_torch.json
"""
import argparse
import copy
import gzip
import json
import math
import os
import sys
import time

# OpenMP threads that spin while waiting slow PyTorch several-fold when the cores are
# shared with other work (a build, a hone run); passive waiting avoids that.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = "/usr/share/datasets/fashion-mnist"
MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST statistics (hone's small_resnet transform)
STRATEGIES = ["scratch", "feature-extract", "partial:layer2", "full"]


# ---- data: IDX files -> normalised float tensors [N, 1, 28, 28] ----
def load_split(prefix):
    with gzip.open(f"{DATA}/{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(f"{DATA}/{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    x = (torch.from_numpy(images.astype(np.float32)) / 255 - MEAN) / STD
    return x, torch.from_numpy(labels)


def pick(x, y, classes, per_class, seed):
    """`per_class` random images of each class in `classes` (all of them if None),
    relabelled 0..len(classes)-1 in the order given."""
    rng = np.random.default_rng(seed)
    idx, new = [], []
    for k, c in enumerate(classes):
        where = np.flatnonzero(y.numpy() == c)
        if per_class is not None:
            where = np.sort(rng.choice(where, per_class, replace=False))
        idx.append(where), new.append(np.full(len(where), k))
    idx = torch.from_numpy(np.concatenate(idx))
    return x[idx], torch.from_numpy(np.concatenate(new))


# ---- the network: hone's small_resnet(5, 1, {16, 32, 64}, {1, 1, 1}), same names ----
# The block is the training golden's (tools/golden/small_resnet_golden.py): hone's
# BasicBlock rebuilt in PyTorch, checked step for step against hone there.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden"))
from small_resnet_golden import Block  # noqa: E402


class SmallResNet(nn.Module):
    """3x3 stem (no max pool), one BasicBlock per stage, global average pool, fc."""

    def __init__(self, widths=(16, 32, 64), classes=5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        cin = widths[0]
        for i, w in enumerate(widths):
            setattr(self, f"layer{i + 1}", nn.Sequential(Block(cin, w, 1 if i == 0 else 2)))
            cin = w
        self.fc = nn.Linear(cin, classes)
        # torchvision's ResNet init, as hone's models/resnet.cpp: convs kaiming-normal
        # (fan_out, relu); BN weight 1, bias 0 and fc keep PyTorch's defaults.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x):  # the 64-d penultimate activations (the head's input)
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return F.adaptive_avg_pool2d(x, 1).flatten(1)

    def forward(self, x):
        return self.fc(self.features(x))


# ---- training and testing ----
def train(model, groups, x, y, epochs, batch, seed, frozen=()):
    """SGD (momentum 0.9, weight decay 5e-4) with OneCycle stepped after every batch.
    `groups` are (parameters, max lr) pairs; modules in `frozen` stay in eval mode, so
    their batch norm uses (and keeps) its running statistics."""
    opt = torch.optim.SGD([{"params": p, "lr": lr} for p, lr in groups], lr=groups[0][1], momentum=0.9,
                          weight_decay=5e-4)
    steps = math.ceil(len(x) / batch)  # the last, smaller batch is kept (no drop_last)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr for _, lr in groups], total_steps=epochs * steps,
                                                pct_start=0.3, anneal_strategy="cos", cycle_momentum=False,
                                                div_factor=25, final_div_factor=1e4)
    shuffle = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        model.train()
        for m in frozen:
            m.eval()
        order = torch.randperm(len(x), generator=shuffle)
        for i in range(0, len(x), batch):
            b = order[i:i + batch]
            loss = F.cross_entropy(model(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


@torch.no_grad()
def accuracy(model, x, y):
    model.eval()
    pred = torch.cat([model(x[i:i + 256]).argmax(1) for i in range(0, len(x), 256)])
    return (pred == y).float().mean().item()


def finetune(pretrained, strategy, x, y, epochs, batch, seed):
    """One strategy from the pretrained network; returns the network with its trained head."""
    torch.manual_seed(seed)  # the new head (and scratch's re-init) depend on the seed only
    net = copy.deepcopy(pretrained)
    if strategy == "scratch":  # every layer as PyTorch initialises it (BN: 1, 0, stats reset)
        for m in net.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm2d)):
                m.reset_parameters()
    net.fc = nn.Linear(64, 5)  # a fresh head for the 5 target classes (PyTorch's default init)
    head = list(net.fc.parameters())
    if strategy == "scratch":
        train(net, [(list(net.parameters()), 0.1)], x, y, epochs, batch, seed)
    elif strategy == "feature-extract":
        # The frozen backbone runs once per image (eval mode); only the head trains, on
        # those features, at 0.01 x 10.
        with torch.no_grad():
            net.eval()
            feats = net.features(x)
        train(net.fc, [(head, 0.1)], feats, y, epochs, batch, seed)
    else:
        frozen = [net.conv1, net.bn1, net.layer1] if strategy == "partial:layer2" else []
        for m in frozen:
            m.requires_grad_(False)
        body = [p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("fc.")]
        train(net, [(body, 0.01), (head, 0.1)], x, y, epochs, batch, seed, frozen)
    return net


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--labels-per-class", type=int, default=10)
    ap.add_argument("--source-per-class", type=int, default=2000)
    ap.add_argument("--source-epochs", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    seeds = [int(s) for s in a.seeds.split(",") if s]
    train_x, train_y = load_split("train")
    test_x, test_y = load_split("t10k")
    src_test = pick(test_x, test_y, range(5), None, 0)
    tgt_test = pick(test_x, test_y, range(5, 10), None, 0)
    acc = {s: [] for s in STRATEGIES}
    secs = {s: [] for s in STRATEGIES}
    source_acc, t_all = [], time.time()
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads; {a.labels_per_class} labels per class, "
          f"{a.epochs} target epochs, seeds {seeds}")
    for seed in seeds:
        # 1. pretrain on the source task (seed: data choice, init, shuffling)
        t0 = time.time()
        sx, sy = pick(train_x, train_y, range(5), a.source_per_class, seed)
        torch.manual_seed(seed)
        net = SmallResNet()
        train(net, [(list(net.parameters()), 0.1)], sx, sy, a.source_epochs, 64, seed)
        source_acc.append(accuracy(net, *src_test))
        print(f"seed {seed}: source test accuracy {source_acc[-1]:.3f} ({time.time() - t0:.1f} s)")
        # 2. each strategy from the same pretrained weights, on the same target labels
        tx, ty = pick(train_x, train_y, range(5, 10), a.labels_per_class, seed + 1)
        for s in STRATEGIES:
            t0 = time.time()
            tuned = finetune(net, s, tx, ty, a.epochs, 16, seed)
            secs[s].append(time.time() - t0)
            acc[s].append(accuracy(tuned, *tgt_test))
            print(f"  {s:16s} target test accuracy {acc[s][-1]:.3f} ({secs[s][-1]:.1f} s)")

    # 3. the table: mean and sample std over seeds, and each seed's value
    sd = lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0
    print(f"\nresults ({len(tgt_test[1])} target test images, last epoch's weights; std over seeds, ddof=1)\n")
    print("| strategy | target test accuracy | per seed | seconds (mean) |\n|---|---|---|---|")
    for s in STRATEGIES:
        print(f"| {s} | {np.mean(acc[s]):.3f} ± {sd(acc[s]):.3f} | {', '.join(f'{v:.3f}' for v in acc[s])} | "
              f"{np.mean(secs[s]):.1f} |")
    print(f"\nsource test accuracy (5000 images) {np.mean(source_acc):.3f} ± {sd(source_acc):.3f}")
    gain = {}
    for s in STRATEGIES[1:]:
        d = [100 * (p - q) for p, q in zip(acc[s], acc["scratch"])]  # paired by seed
        gain[s] = d
        wins = sum(v > 0 for v in d)
        print(f"{s} vs scratch: {np.mean(d):+.1f} ± {sd(d):.1f} points (beats it on {wins} of {len(d)} seeds)")
    total = time.time() - t_all
    print(f"total {total:.0f} s")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"torch": torch.__version__, "threads": torch.get_num_threads(), "config": vars(a),
                       "seeds": seeds, "source_acc": source_acc, "accuracy": acc, "seconds": secs,
                       "gain_vs_scratch_points": gain, "total_seconds": total}, f, indent=2)


if __name__ == "__main__":
    main()
