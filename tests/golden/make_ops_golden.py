#!/usr/bin/python3
"""Reference values and gradients from PyTorch for tapeloop's losses, layer_norm and top-k.

Regenerate (Debian's python3-torch, not needed to run the tests):
    /usr/bin/python3 tests/golden/make_ops_golden.py tests/golden

ops_golden.json maps each case to its inputs and PyTorch's outputs, all in float64, tensors
flattened row-major with their shapes next to them:
- cross_entropy / nll_loss cases: "input" (logits or log-probabilities), "target" (class
  indices, ignore_index where ignored), optional "weight", the options, the loss, and the
  gradient of the loss with respect to the input;
- layer_norm cases: x, weight, bias, a random cotangent "seed", y = layer_norm(x) and the
  gradients of sum(y * seed) with respect to x, weight and bias;
- topk cases: x, k, axis, largest, and the values and indices PyTorch returns (sorted);
- extremum cases: x, axis, and torch.min's values, the gradient of sum(min * seed), and
  torch.argmax / torch.argmin along the axis.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F

torch.manual_seed(7)
DT = torch.float64


def flat(t):
    return t.detach().reshape(-1).tolist()




def loss_case(kind, input_shape, ignore_positions=(), weight=False, label_smoothing=0.0,
              reduction="mean", ignore_index=-100):
    classes = input_shape[1] if len(input_shape) > 1 else input_shape[0]
    x = torch.randn(input_shape, dtype=DT) * 2.0
    if kind == "nll_loss":
        x = torch.log_softmax(x, dim=1 if len(input_shape) > 1 else 0)
    x.requires_grad_(True)
    target_shape = (input_shape[0],) + tuple(input_shape[2:]) if len(input_shape) > 1 else ()
    t = torch.randint(0, classes, target_shape)
    flat_t = t.reshape(-1)
    for p in ignore_positions:
        flat_t[p] = ignore_index
    w = torch.rand(classes, dtype=DT) + 0.5 if weight else None
    if kind == "cross_entropy":
        loss = F.cross_entropy(x, t, weight=w, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    else:
        loss = F.nll_loss(x, t, weight=w, ignore_index=ignore_index, reduction=reduction)
    loss.backward()
    case = {"kind": kind, "input_shape": list(input_shape), "input": flat(x),
            "target": t.reshape(-1).tolist(), "reduction": reduction,
            "ignore_index": ignore_index, "label_smoothing": label_smoothing,
            "loss": loss.item(), "grad": flat(x.grad)}
    if w is not None:
        case["weight"] = flat(w)
    return case


def layer_norm_case(shape, normalized, affine=True, eps=1e-5):
    x = (torch.randn(shape, dtype=DT) * 3.0 + 1.5).requires_grad_(True)
    w = (torch.rand(normalized, dtype=DT) + 0.5).requires_grad_(True) if affine else None
    b = torch.randn(normalized, dtype=DT).requires_grad_(True) if affine else None
    y = F.layer_norm(x, normalized, w, b, eps)
    seed = torch.randn(shape, dtype=DT)
    (y * seed).sum().backward()
    case = {"shape": list(shape), "normalized_shape": list(normalized), "eps": eps,
            "x": flat(x), "seed": flat(seed), "y": flat(y), "dx": flat(x.grad)}
    if affine:
        case.update({"weight": flat(w), "bias": flat(b), "dweight": flat(w.grad),
                     "dbias": flat(b.grad)})
    return case


def topk_case(shape, k, axis, largest):
    x = torch.randn(shape, dtype=DT)
    values, indices = torch.topk(x, k, dim=axis, largest=largest, sorted=True)
    return {"shape": list(shape), "k": k, "axis": axis, "largest": largest, "x": flat(x),
            "values_shape": list(values.shape), "values": flat(values),
            "indices": indices.reshape(-1).tolist()}


def extremum_case(shape, axis):
    x = torch.randn(shape, dtype=DT).requires_grad_(True)
    values = torch.min(x, dim=axis).values
    seed = torch.randn(values.shape, dtype=DT)
    (values * seed).sum().backward()
    return {"shape": list(shape), "axis": axis, "x": flat(x), "seed": flat(seed),
            "min": flat(values), "dmin": flat(x.grad),
            "argmax": torch.argmax(x, dim=axis).reshape(-1).tolist(),
            "argmin": torch.argmin(x, dim=axis).reshape(-1).tolist()}


def main(out_dir):
    golden = {
        "losses": {
            "ce_rows_mean": loss_case("cross_entropy", (4, 5)),
            "ce_single_sample": loss_case("cross_entropy", (6,)),
            "ce_spatial_sum": loss_case("cross_entropy", (3, 4, 5), reduction="sum"),
            "ce_ignore_mean": loss_case("cross_entropy", (5, 4), ignore_positions=(1, 3)),
            "ce_weight_ignore_mean": loss_case("cross_entropy", (3, 5, 2, 3), weight=True,
                                               ignore_positions=(0, 7, 8)),
            "ce_weight_sum": loss_case("cross_entropy", (6, 3), weight=True, reduction="sum"),
            "ce_smoothing_mean": loss_case("cross_entropy", (3, 4, 5), label_smoothing=0.1,
                                           ignore_positions=(2, 9)),
            "ce_smoothing_weight_mean": loss_case("cross_entropy", (3, 5, 4), weight=True,
                                                  label_smoothing=0.2,
                                                  ignore_positions=(4,)),
            "ce_smoothing_weight_sum": loss_case("cross_entropy", (4, 6), weight=True,
                                                 label_smoothing=0.3, reduction="sum",
                                                 ignore_positions=(1,)),
            "ce_custom_ignore_index": loss_case("cross_entropy", (5, 4), ignore_index=2,
                                                ignore_positions=(0, 4)),
            "nll_mean": loss_case("nll_loss", (5, 4)),
            "nll_weight_ignore_mean": loss_case("nll_loss", (3, 4, 6), weight=True,
                                                ignore_positions=(5, 6)),
            "nll_weight_sum": loss_case("nll_loss", (4, 3), weight=True, reduction="sum"),
        },
        "layer_norm": {
            "last_axis": layer_norm_case((3, 4, 6), (6,)),
            "last_two_axes": layer_norm_case((2, 3, 5), (3, 5)),
            "no_affine": layer_norm_case((4, 7), (7,), affine=False, eps=1e-3),
        },
        "topk": {
            "largest_last_axis": topk_case((3, 7), 3, -1, True),
            "smallest_first_axis": topk_case((6, 2, 3), 2, 0, False),
            "all_of_middle_axis": topk_case((2, 4, 3), 4, 1, True),
        },
        "extremum": {
            "last_axis": extremum_case((4, 6), -1),
            "first_axis": extremum_case((5, 2, 3), 0),
            "middle_axis": extremum_case((2, 7, 3), 1),
        },
    }
    with open(os.path.join(out_dir, "ops_golden.json"), "w") as f:
        json.dump(golden, f, indent=None, separators=(",", ":"))
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__)))
