#!/usr/bin/python3
# Reference trajectories of torch.optim's SGD, RMSprop, Adam and AdamW and of torch.nn.utils'
# gradient clipping, for tests/test_optim.cpp and tests/test_clip.cpp.
#
# Regenerate (needs Debian's python3-torch; the tests themselves do not):
#     /usr/bin/python3 tests/golden/make_optim_golden.py > tests/golden/optim_golden.json
#
# Every case runs in float64 and in float32 from the same starting values (the float32 ones are
# the float64 ones rounded), with the same gradient sequence. The schedule exercises what the
# C++ side must get right beyond the formula: a learning-rate change mid-run, a parameter that
# is frozen throughout (no gradient: torch skips it), and one frozen for the first steps and
# then trained (its per-parameter step count, hence Adam's bias correction, starts late).
# Gradients vary in size from step to step so that AMSGrad's running maximum matters.
import json
import math
import re
import sys

import torch

STEPS = 7
LR_CHANGE_STEP = 4  # before this step (0-based) the learning rate is multiplied by LR_FACTOR
LR_FACTOR = 0.5
GRAD_SCALE = [1.0, 0.1, 2.0, 0.05, 1.5, 0.01, 0.7]

PARAMS = [
    # name, shape, first step at which it requires a gradient (None: frozen throughout)
    ("w", [3, 4], 0),
    ("b", [5], 0),
    ("late", [2, 2], 3),
    ("frozen", [3], None),
]

CASES = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("sgd_weight_decay", "SGD", dict(lr=0.1, weight_decay=0.05)),
    ("sgd_momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("sgd_momentum_dampening", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd_momentum_weight_decay", "SGD", dict(lr=0.05, momentum=0.8, weight_decay=0.1)),
    ("sgd_nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd_nesterov_weight_decay", "SGD",
     dict(lr=0.05, momentum=0.7, nesterov=True, weight_decay=0.02)),
    ("rmsprop", "RMSProp", dict(lr=0.01)),
    ("rmsprop_weight_decay", "RMSProp", dict(lr=0.01, weight_decay=0.1)),
    ("rmsprop_momentum", "RMSProp", dict(lr=0.01, momentum=0.9)),
    ("rmsprop_centered", "RMSProp", dict(lr=0.01, centered=True)),
    ("rmsprop_centered_momentum_weight_decay", "RMSProp",
     dict(lr=0.02, alpha=0.9, eps=1e-6, centered=True, momentum=0.5, weight_decay=0.05)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_weight_decay", "Adam", dict(lr=0.01, weight_decay=0.1)),
    ("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True)),
    ("adam_amsgrad_weight_decay_betas", "Adam",
     dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True)),
    ("adamw", "AdamW", dict(lr=0.01)),
    ("adamw_weight_decay", "AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("adamw_amsgrad", "AdamW", dict(lr=0.02, betas=(0.85, 0.995), weight_decay=0.2, amsgrad=True)),
    ("adamw_no_weight_decay", "AdamW", dict(lr=0.01, weight_decay=0.0)),
]

TORCH_CLASS = {
    "SGD": torch.optim.SGD,
    "RMSProp": torch.optim.RMSprop,
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
}


def values(t):
    """A tensor's elements as exact Python floats (a float32 widens to double exactly)."""
    return [float(x) for x in t.detach().double().reshape(-1).tolist()]


def starting_point():
    gen = torch.Generator().manual_seed(20240611)
    init = {name: torch.randn(shape, generator=gen, dtype=torch.float64) for name, shape, _ in PARAMS}
    grads = []
    for step in range(STEPS):
        grads.append({
            name: GRAD_SCALE[step] * torch.randn(shape, generator=gen, dtype=torch.float64)
            for name, shape, _ in PARAMS
        })
    # A zero gradient element exercises 0 / (0 + eps) and the first-step momentum copy of a zero.
    grads[0]["w"][0, 0] = 0.0
    return init, grads


def run_case(kind, options, init, grads, dtype):
    params = {name: init[name].to(dtype).clone() for name, _, _ in PARAMS}
    optimizer = TORCH_CLASS[kind](list(params.values()), foreach=False, **options)
    history = []
    for step in range(STEPS):
        if step == LR_CHANGE_STEP:
            for group in optimizer.param_groups:
                group["lr"] *= LR_FACTOR
        for name, _, start in PARAMS:
            p = params[name]
            trained = start is not None and step >= start
            p.requires_grad_(trained)
            # torch skips a parameter whose grad is None: that is what frozen means here.
            p.grad = grads[step][name].to(dtype).clone() if trained else None
        optimizer.step()
        history.append({name: values(params[name]) for name, _, _ in PARAMS})
    state = {}
    steps = {}
    for name, _, _ in PARAMS:
        s = optimizer.state.get(params[name], {})
        for key, value in s.items():
            if key == "step":
                steps[name] = int(float(value))
            elif value is not None:
                state[key + "." + name] = values(value)
    return {"history": history, "state": state, "steps": steps}


def clip_cases(dtype):
    gen = torch.Generator().manual_seed(7)
    out = []
    for norm_type in [2.0, 1.0, 3.0, math.inf]:
        for max_norm in [0.5, 1000.0]:
            grads = {name: torch.randn(shape, generator=gen, dtype=torch.float64)
                     for name, shape, _ in PARAMS}
            params = {}
            for name, _, start in PARAMS:
                p = torch.zeros(grads[name].shape, dtype=dtype, requires_grad=start is not None)
                if start is not None:
                    p.grad = grads[name].to(dtype).clone()
                params[name] = p
            trained = [p for p in params.values() if p.requires_grad]
            total = torch.nn.utils.clip_grad_norm_(trained, max_norm, norm_type)
            out.append({
                "norm_type": "inf" if math.isinf(norm_type) else norm_type,
                "max_norm": max_norm,
                "grads": {name: values(grads[name]) for name in grads},
                "total_norm": float(total),
                "clipped": {name: values(p.grad) for name, p in params.items() if p.grad is not None},
            })
    grads = {name: 3.0 * torch.randn(shape, generator=gen, dtype=torch.float64)
             for name, shape, _ in PARAMS}
    params = {}
    for name, _, start in PARAMS:
        if start is not None:
            p = torch.zeros(grads[name].shape, dtype=dtype, requires_grad=True)
            p.grad = grads[name].to(dtype).clone()
            params[name] = p
    torch.nn.utils.clip_grad_value_(list(params.values()), 1.25)
    value_case = {
        "clip": 1.25,
        "grads": {name: values(grads[name]) for name in grads},
        "clipped": {name: values(p.grad) for name, p in params.items()},
    }
    return out, value_case


def main():
    torch.set_num_threads(1)
    init, grads = starting_point()
    golden = {
        "generator": "tests/golden/make_optim_golden.py",
        "torch_version": torch.__version__,
        "steps": STEPS,
        "lr_change": {"step": LR_CHANGE_STEP, "factor": LR_FACTOR},
        "params": [{"name": n, "shape": s, "trained_from": t} for n, s, t in PARAMS],
        "init": {name: values(t) for name, t in init.items()},
        "grads": [{name: values(t) for name, t in g.items()} for g in grads],
        "cases": [],
        "clip": {},
    }
    for name, kind, options in CASES:
        case = {"name": name, "optimizer": kind, "options": dict(options)}
        if "betas" in options:
            case["options"]["beta1"], case["options"]["beta2"] = case["options"].pop("betas")
        for dtype, key in [(torch.float64, "float64"), (torch.float32, "float32")]:
            case[key] = run_case(kind, options, init, grads, dtype)
        golden["cases"].append(case)
    for dtype, key in [(torch.float64, "float64"), (torch.float32, "float32")]:
        norm_cases, value_case = clip_cases(dtype)
        golden["clip"][key] = {"norm": norm_cases, "value": value_case}
    text = json.dumps(golden, indent=1)
    # One line per list of numbers rather than one per number: shorter diffs when regenerated.
    text = re.sub(r"\[\s+([^\[\]{}\"]*?)\s+\]", lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
