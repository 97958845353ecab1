#!/usr/bin/python3
# Reference learning-rate sequences of torch.optim.lr_scheduler, for tests/test_lr_scheduler.cpp.
#
# Regenerate (needs Debian's python3-torch; the tests themselves do not):
#     /usr/bin/python3 tests/golden/make_lr_scheduler_golden.py > tests/golden/lr_scheduler_golden.json
#
# Each case drives a one-parameter torch.optim.SGD with a scheduler and records the learning
# rate after construction ("lrs"[0], torch's initial step) and after each scheduler.step()
# ("lrs"[k], k = last_epoch), read back from the optimizer's param_group.
#
# - StepLR and ExponentialLR are torch's own classes.
# - WarmupCosineLR is SequentialLR(LinearLR, CosineAnnealingLR, milestones=[warmup_steps]), or a
#   plain CosineAnnealingLR without warm-up. torch computes it recursively, each lr from the
#   previous one; tapeloop uses the closed forms (LinearLR's _get_closed_form_lr, and
#   eta_min + (base - eta_min) (1 + cos(pi t / T)) / 2 for the cosine). This script checks that
#   the two agree to 1e-13 at every step, including the milestone, where SequentialLR restarts
#   the cosine with step(0) — that is, with its closed form at t = 0, the base lr. Past
#   total_steps CosineAnnealingLR would climb back up (it is periodic); tapeloop holds min_lr
#   there instead, so the sequences stop at total_steps.
# - ReduceLROnPlateau is fed a fixed metric sequence with improvements, plateaus, improvements
#   too small to count, cooldowns, a +inf metric, and enough bad epochs to reach min_lr (and, in
#   one case, a reduction smaller than eps, which torch skips).
import json
import math
import re
import sys
import warnings

import torch

STEP_CASES = [
    # name, base lr, step_size, gamma (None: the default 0.1), steps
    ("step_lr", 0.1, 7, 0.5, 40),
    ("step_lr_default_gamma", 0.05, 3, None, 30),
    ("step_lr_every_step", 1.0, 1, 0.8, 35),
]

EXPONENTIAL_CASES = [
    # name, base lr, gamma, steps
    ("exponential_lr", 0.1, 0.9, 50),
    ("exponential_lr_slow", 1e-3, 0.97, 60),
]

WARMUP_COSINE_CASES = [
    # name, base lr, warmup_steps, total_steps, min_lr (None: the default 0),
    # warmup_start_factor (None: the default 1/3, LinearLR's)
    ("warmup_cosine", 0.1, 5, 40, None, None),
    ("warmup_cosine_min_lr", 0.02, 10, 50, 1e-4, 0.1),
    ("warmup_cosine_no_warmup", 0.5, 0, 30, 1e-3, None),
    ("warmup_cosine_long_warmup", 3e-4, 24, 31, 0.0, 0.25),
]

# Metric sequences for ReduceLROnPlateau.
LOSS = [
    1.0, 0.8, 0.7, 0.7, 0.71, 0.69995, 0.72,  # improve, then a plateau (0.69995 is too small a gain)
    0.6, 0.6, 0.6, 0.6, 0.6, 0.59,  # a reduction, cooldown, improvement
    0.59, 0.59, 0.59, 0.59, 0.59, 0.59, 0.59, 0.59, 0.59, 0.59,  # repeated reductions
    float("inf"), 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5,  # down to min_lr
    0.4, 0.4, 0.4, 0.4, 0.4,
]
ACCURACY = [
    0.1, 0.3, 0.5, 0.5, 0.505, 0.52, 0.52, 0.52, 0.52, 0.6, 0.6, 0.6, 0.6, 0.65, 0.649,
    0.66, 0.66, 0.66, 0.66, 0.66, 0.66, 0.66, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
    0.7, 0.7, 0.71, 0.71, 0.71, 0.71, 0.71, 0.71, 0.71, 0.71,
]
NEGATIVE_LOSS = [
    -1.0, -1.1, -1.1, -1.2, -1.2, -1.2, -1.25, -1.25, -1.25, -1.3,  # equal values still "improve"
    -1.2, -1.2, -1.1, -1.3, -1.3, -1.0, -1.0, -1.0, -1.0, -1.0, -1.0, -1.5, -1.4, -1.4, -1.4,
    -1.4, -1.4, -1.4, -1.4, -1.4,
]

PLATEAU_CASES = [
    # name, base lr, options (torch's names), metrics
    ("plateau_min_rel", 0.1,
     dict(mode="min", factor=0.5, patience=2, threshold=1e-3, threshold_mode="rel", cooldown=1,
          min_lr=0.003), LOSS),
    ("plateau_defaults", 0.1, dict(), LOSS),
    ("plateau_max_abs", 0.05,
     dict(mode="max", factor=0.2, patience=1, threshold=0.01, threshold_mode="abs", cooldown=2,
          min_lr=1e-4), ACCURACY),
    # 1e-3 -> 9e-4, then max(8.1e-4, min_lr) is less than eps below 9e-4: torch stops there.
    ("plateau_min_abs_eps", 1e-3,
     dict(mode="min", factor=0.9, patience=0, threshold=0.0, threshold_mode="abs",
          min_lr=8.5e-4, eps=6e-5), LOSS),
    # rel mode with negative values: best * (1 - threshold) is then above best, so in torch a
    # repeated value counts as an improvement and only a worse one as a bad epoch.
    ("plateau_min_rel_negative", 0.2,
     dict(mode="min", factor=0.3, patience=1, threshold=0.02, threshold_mode="rel", cooldown=0,
          min_lr=0.0), NEGATIVE_LOSS),
    ("plateau_max_rel", 0.01,
     dict(mode="max", factor=0.7, patience=3, threshold=0.05, threshold_mode="rel", cooldown=3,
          min_lr=1e-3), ACCURACY),
]


def optimizer(lr):
    return torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=lr)


def lr_of(opt):
    return float(opt.param_groups[0]["lr"])


def run(opt, scheduler, steps, metrics=None):
    lrs = [lr_of(opt)]
    for k in range(steps):
        opt.step()  # torch warns if a scheduler steps before its optimizer ever did
        if metrics is None:
            scheduler.step()
        else:
            scheduler.step(metrics[k])
        lrs.append(lr_of(opt))
    return lrs


def warmup_cosine_closed_form(base, warmup, total, min_lr, start, t):
    if t < warmup:
        return base * (start + (1.0 - start) * t / warmup)
    if t >= total:
        return min_lr
    return min_lr + (base - min_lr) * (1 + math.cos(math.pi * (t - warmup) / (total - warmup))) / 2


def main():
    torch.set_num_threads(1)
    # SequentialLR calls step(0) on the cosine at the milestone, which warns that passing an
    # epoch is deprecated; the value it computes is the one wanted.
    warnings.simplefilter("ignore")
    golden = {
        "generator": "tests/golden/make_lr_scheduler_golden.py",
        "torch_version": torch.__version__,
        "cases": [],
    }
    for name, base, step_size, gamma, steps in STEP_CASES:
        opt = optimizer(base)
        kwargs = {} if gamma is None else {"gamma": gamma}
        scheduler = torch.optim.lr_scheduler.StepLR(opt, step_size, **kwargs)
        golden["cases"].append({
            "name": name, "scheduler": "StepLR", "base_lr": base,
            "options": {"step_size": step_size, **kwargs},
            "lrs": run(opt, scheduler, steps),
        })
    for name, base, gamma, steps in EXPONENTIAL_CASES:
        opt = optimizer(base)
        scheduler = torch.optim.lr_scheduler.ExponentialLR(opt, gamma)
        golden["cases"].append({
            "name": name, "scheduler": "ExponentialLR", "base_lr": base,
            "options": {"gamma": gamma}, "lrs": run(opt, scheduler, steps),
        })
    for name, base, warmup, total, min_lr, start in WARMUP_COSINE_CASES:
        opt = optimizer(base)
        eta_min = 0.0 if min_lr is None else min_lr
        start_factor = 1.0 / 3 if start is None else start
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total - warmup,
                                                            eta_min=eta_min)
        if warmup == 0:
            scheduler = cosine
        else:
            linear = torch.optim.lr_scheduler.LinearLR(opt, start_factor=start_factor,
                                                       total_iters=warmup)
            # LinearLR first: SequentialLR restarts the schedulers in the order given.
            scheduler = torch.optim.lr_scheduler.SequentialLR(opt, [linear, cosine], [warmup])
        lrs = run(opt, scheduler, total)
        for t, lr in enumerate(lrs):
            want = warmup_cosine_closed_form(base, warmup, total, eta_min, start_factor, t)
            assert abs(lr - want) <= 1e-13 * abs(want), (name, t, lr, want)
        options = {"warmup_steps": warmup, "total_steps": total}
        if min_lr is not None:
            options["min_lr"] = min_lr
        if start is not None:
            options["warmup_start_factor"] = start
        golden["cases"].append({
            "name": name, "scheduler": "WarmupCosineLR", "base_lr": base, "options": options,
            "lrs": lrs,
        })
    for name, base, options, metrics in PLATEAU_CASES:
        opt = optimizer(base)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, **options)
        golden["cases"].append({
            "name": name, "scheduler": "ReduceLROnPlateau", "base_lr": base,
            "options": dict(options),
            # JSON has no infinity: a metric of +inf is written as the string "inf".
            "metrics": ["inf" if math.isinf(m) else m for m in metrics],
            "lrs": run(opt, scheduler, len(metrics), metrics),
        })
    text = json.dumps(golden, indent=1)
    # One line per list of numbers rather than one per number: shorter diffs when regenerated.
    text = re.sub(r"\[\s+([^\[\]{}]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
