#!/usr/bin/python3
# Reference CTC losses and gradients from torch.nn.functional.ctc_loss, for tests/test_ctc.cpp.
#
# Regenerate (needs Debian's python3-torch; the tests themselves do not):
#     /usr/bin/python3 tests/golden/make_ctc_golden.py > tests/golden/ctc_golden.json
#
# Each case gives logits [T, B, C] (float64), concatenated targets and the two length lists; the
# reference is log_softmax then ctc_loss with reduction none, sum and mean, and the gradient of
# the mean loss with respect to the logits (through log_softmax, where PyTorch's gradient, which
# adds exp(log_probs), and the exact one agree).
import json

import torch

torch.manual_seed(20261201)

CASES = [
    # name, T, C, blank, input lengths, target lengths
    ("single", 6, 4, 0, [6], [3]),
    ("batch_lengths", 8, 5, 0, [8, 5, 7], [3, 2, 0]),
    ("repeats", 7, 3, 0, [7, 6], [4, 3]),
    ("blank_last", 9, 6, 5, [9, 4, 8, 2], [4, 1, 5, 1]),
]


def case(name, T, C, blank, input_lengths, target_lengths):
    B = len(input_lengths)
    logits = torch.randn(T, B, C, dtype=torch.float64) * 2.0
    labels = [c for c in range(C) if c != blank]
    targets = []
    for b, n in enumerate(target_lengths):
        if name == "repeats":
            # Runs of one label: the extended labelling may not skip between them.
            seq = [labels[0]] * n
        else:
            seq = [labels[int(torch.randint(len(labels), (1,)))] for _ in range(n)]
        targets += seq
    out = {"name": name, "T": T, "B": B, "C": C, "blank": blank,
           "input_lengths": input_lengths, "target_lengths": target_lengths,
           "targets": targets, "logits": logits.flatten().tolist()}
    t = torch.tensor(targets, dtype=torch.long)
    il = torch.tensor(input_lengths, dtype=torch.long)
    tl = torch.tensor(target_lengths, dtype=torch.long)
    for reduction in ("none", "sum", "mean"):
        x = logits.clone().requires_grad_(True)
        loss = torch.nn.functional.ctc_loss(x.log_softmax(2), t, il, tl, blank=blank,
                                            reduction=reduction)
        out["loss_" + reduction] = loss.flatten().tolist()
        if reduction == "mean":
            loss.backward()
            out["grad_mean"] = x.grad.flatten().tolist()
    return out


print(json.dumps({"torch": torch.__version__, "cases": [case(*c) for c in CASES]}))
