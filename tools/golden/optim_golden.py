#!/usr/bin/python3
"""Writes tests/golden/optim_golden.h: PyTorch 1.13's optimizer trajectories and
learning-rate sequences, which tests/optim_test.cpp compares hone::optim against.

Run from anywhere with Debian's python (torch 1.13 is installed there):
    /usr/bin/python3 tools/golden/optim_golden.py

Every input is written here as an exact binary fraction or a short decimal (no random
numbers, so the output does not depend on torch's RNG), and the gradients are written into
the header too, so the C++ side replays exactly what torch saw. Parameters are float64.
"""
import math
import os
import warnings

import torch

warnings.filterwarnings("ignore")  # scheduler-order warnings from the replay loops
torch.set_default_dtype(torch.float64)

STEPS = 6
P0_INIT = [0.5, -1.25, 2.0, 0.75, -0.375, 1.5]  # shape [2, 3]
P1_INIT = [-0.8, 0.3, 1.1, -2.2]                # shape [4]
# Gradient of element j at step t: eighths in [-0.75, 0.75], exact in binary.
GRAD0 = [[((7 * t + 5 * j + 3) % 13 - 6) / 8.0 for j in range(6)] for t in range(STEPS)]
GRAD1 = [[((5 * t + 3 * j + 1) % 11 - 5) / 8.0 + 0.0625 for j in range(4)] for t in range(STEPS)]
# For the "skip" cases: steps at which p1 has no gradient (grad is None).
SKIP_P1 = [0, 1, 0, 1, 0, 0]


def run(make_optimizer, skip_p1=False):
    p0 = torch.tensor(P0_INIT).reshape(2, 3).requires_grad_()
    p1 = torch.tensor(P1_INIT).requires_grad_()
    opt = make_optimizer(p0, p1)
    rows = []
    for t in range(STEPS):
        p0.grad = torch.tensor(GRAD0[t]).reshape(2, 3)
        p1.grad = None if (skip_p1 and SKIP_P1[t]) else torch.tensor(GRAD1[t])
        opt.step()
        rows.append(p0.detach().flatten().tolist() + p1.detach().tolist())
    return rows


O = torch.optim
OPTIMIZER_CASES = {
    "kSgdPlain": lambda a, b: O.SGD([a, b], lr=0.1),
    "kSgdMomentumDampening": lambda a, b: O.SGD([a, b], lr=0.05, momentum=0.9, dampening=0.25),
    "kSgdNesterov": lambda a, b: O.SGD([a, b], lr=0.05, momentum=0.9, nesterov=True),
    "kSgdWeightDecay": lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.5, weight_decay=0.05),
    "kAdam": lambda a, b: O.Adam([a, b], lr=0.01),
    "kAdamL2": lambda a, b: O.Adam([a, b], lr=0.02, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1),
    "kAdamW": lambda a, b: O.AdamW([a, b], lr=0.01),
    "kAdamWDecay": lambda a, b: O.AdamW([a, b], lr=0.05, betas=(0.85, 0.99), weight_decay=0.2),
    # Two groups: the second with its own lr and weight decay.
    "kSgdTwoGroups": lambda a, b: O.SGD([{"params": [a]}, {"params": [b], "lr": 0.2, "weight_decay": 0.05}],
                                        lr=0.05, momentum=0.9, weight_decay=0.01),
    "kAdamTwoGroups": lambda a, b: O.Adam([{"params": [a]}, {"params": [b], "lr": 0.003}], lr=0.01,
                                          weight_decay=0.01),
}
SKIP_CASES = {
    "kAdamWSkip": lambda a, b: O.AdamW([a, b], lr=0.02, weight_decay=0.1),
    "kSgdMomentumSkip": lambda a, b: O.SGD([a, b], lr=0.1, momentum=0.9, weight_decay=0.01),
}


def dummy_optimizer(lr):
    return O.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def lr_sequence(opt, scheduler, steps):
    """lrs[k]: the lr after k scheduler steps (k = 0 is the lr set at construction)."""
    lrs = [opt.param_groups[0]["lr"]]
    for _ in range(steps):
        opt.step()
        scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


def schedule_cases():
    S = O.lr_scheduler
    out = {}
    o = dummy_optimizer(0.1)
    out["kStepLR"] = lr_sequence(o, S.StepLR(o, step_size=3, gamma=0.5), 12)
    o = dummy_optimizer(0.1)
    out["kMultiStepLR"] = lr_sequence(o, S.MultiStepLR(o, milestones=[2, 5, 9], gamma=0.3), 12)
    o = dummy_optimizer(0.1)
    out["kExponentialLR"] = lr_sequence(o, S.ExponentialLR(o, gamma=0.8), 12)
    # CosineWithWarmup(0.1, warmup 3, total 12, min_lr 0.001, start factor 0.1)
    o = dummy_optimizer(0.1)
    warm = S.LinearLR(o, start_factor=0.1, end_factor=1.0, total_iters=3)
    cos = S.CosineAnnealingLR(o, T_max=12 - 3, eta_min=0.001)
    out["kCosineWithWarmup"] = lr_sequence(o, S.SequentialLR(o, [warm, cos], milestones=[3]), 12)
    # CosineWithWarmup(0.05, warmup 0, total 10)
    o = dummy_optimizer(0.05)
    out["kCosineNoWarmup"] = lr_sequence(o, S.CosineAnnealingLR(o, T_max=10, eta_min=0.0), 10)
    o = dummy_optimizer(1.0)
    out["kOneCycle"] = lr_sequence(o, S.OneCycleLR(o, max_lr=0.1, total_steps=20, pct_start=0.3, div_factor=25.0,
                                                   final_div_factor=1e4, cycle_momentum=False), 20)
    o = dummy_optimizer(1.0)
    out["kOneCycleOdd"] = lr_sequence(o, S.OneCycleLR(o, max_lr=0.5, total_steps=7, pct_start=0.25, div_factor=10.0,
                                                      final_div_factor=100.0, cycle_momentum=False), 7)
    return out


PLATEAU_MIN_METRICS = [1.0, 0.9, 0.895, 0.894, 0.893, 0.8, 0.81, 0.82, 0.83, 0.84, 0.79, 0.8, 0.8, 0.8, 0.8, 0.8,
                       0.8, 0.8, 0.8, 0.8]
PLATEAU_MAX_METRICS = [0.5, 0.6, 0.62, 0.7, 0.7, 0.74, 0.76, 0.8, 0.81, 0.82, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]


def plateau_cases():
    S = O.lr_scheduler
    out = {}
    o = dummy_optimizer(0.1)
    s = S.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, threshold=0.01, threshold_mode="rel", cooldown=1,
                            min_lr=0.01)
    lrs = []
    for m in PLATEAU_MIN_METRICS:
        s.step(m)
        lrs.append(o.param_groups[0]["lr"])
    out["kPlateauMinRel"] = lrs
    o = dummy_optimizer(0.1)
    s = S.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=1, threshold=0.05, threshold_mode="abs", cooldown=0,
                            min_lr=0.001)
    lrs = []
    for m in PLATEAU_MAX_METRICS:
        s.step(m)
        lrs.append(o.param_groups[0]["lr"])
    out["kPlateauMaxAbs"] = lrs
    return out


def fmt(x):
    if math.isinf(x) or math.isnan(x):
        raise ValueError("non-finite golden value")
    return repr(float(x))


def array_1d(name, values, ctype="double"):
    return "inline constexpr %s %s[%d] = {%s};\n" % (ctype, name, len(values), ", ".join(fmt(v) if ctype == "double"
                                                                                         else str(v) for v in values))


def array_2d(name, rows):
    body = ",\n".join("    {" + ", ".join(fmt(v) for v in row) + "}" for row in rows)
    return "inline constexpr double %s[%d][%d] = {\n%s};\n" % (name, len(rows), len(rows[0]), body)


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.path.join(root, "tests", "golden", "optim_golden.h")
    parts = [
        "#pragma once\n",
        "// GENERATED by tools/golden/optim_golden.py with torch %s; do not edit.\n" % torch.__version__,
        "// Regenerate: /usr/bin/python3 tools/golden/optim_golden.py\n",
        "// Optimizer cases: float64 params p0 [2,3] and p1 [4] (flattened into one row of 10),\n",
        "// stepped kSteps times with the gradients below; row t is the params after step t+1.\n",
        "// Schedule cases: element k is the lr after k scheduler steps. Plateau cases: element k\n",
        "// is the lr after feeding metric k.\n",
        "namespace hone::golden::optim {\n\n",
        "inline constexpr int kSteps = %d;\n" % STEPS,
        array_1d("kP0Init", P0_INIT),
        array_1d("kP1Init", P1_INIT),
        array_2d("kGrad0", GRAD0),
        array_2d("kGrad1", GRAD1),
        array_1d("kSkipP1", SKIP_P1, ctype="int"),
        "\n// ---- optimizers (see the case list in the script for their options) ----\n",
    ]
    for name, make in OPTIMIZER_CASES.items():
        parts.append(array_2d(name, run(make)))
    for name, make in SKIP_CASES.items():
        parts.append(array_2d(name, run(make, skip_p1=True)))
    parts.append("\n// ---- learning-rate schedules ----\n")
    for name, lrs in schedule_cases().items():
        parts.append(array_1d(name, lrs))
    parts.append("\n// ---- ReduceLROnPlateau ----\n")
    parts.append(array_1d("kPlateauMinMetrics", PLATEAU_MIN_METRICS))
    parts.append(array_1d("kPlateauMaxMetrics", PLATEAU_MAX_METRICS))
    for name, lrs in plateau_cases().items():
        parts.append(array_1d(name, lrs))
    parts.append("\n}  // namespace hone::golden::optim\n")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("".join(parts))
    print("wrote %s (%d bytes)" % (path, os.path.getsize(path)))


if __name__ == "__main__":
    main()
