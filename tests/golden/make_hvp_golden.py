#!/usr/bin/python3
"""Reference second-order products from PyTorch for a small tanh RNN built from generic ops.

Regenerate (Debian's python3-torch, not needed to run the tests):
    /usr/bin/python3 tests/golden/make_hvp_golden.py tests/golden

hvp_golden.json holds, all in float64 and flattened row-major with their shapes:
- "x" [T, B, I], "targets" (B class indices) and the parameters "wx" [I, H], "wh" [H, H],
  "b" [H], "wy" [H, C] of
      h_t = tanh(x_t wx + h_{t-1} wh + b),  h_0 = 0,  z = h_T wy,
      loss = cross_entropy(z, targets) (mean) + 0.1 * mean(h_T^2);
- "v": a direction, one tensor per parameter;
- "loss", "grad" (one per parameter);
- "hvp": torch.autograd.functional.hvp of the loss along v;
- "gnvp": the Gauss-Newton product J^T H_L J v of the cross-entropy part alone, with J the
  Jacobian of z in the parameters and H_L the Hessian of cross_entropy in z, from
  torch.autograd.functional.jvp, hvp and vjp.
"""
import json
import os
import sys

import torch
import torch.nn.functional as F
from torch.autograd.functional import hvp, jvp, vjp

torch.manual_seed(11)
DT = torch.float64
T, B, I, H, C = 6, 3, 2, 4, 3

x = torch.randn(T, B, I, dtype=DT)
targets = torch.randint(0, C, (B,))
names = ["wx", "wh", "b", "wy"]
params = [torch.randn(I, H, dtype=DT) * 0.7, torch.randn(H, H, dtype=DT) * 0.5,
          torch.randn(H, dtype=DT) * 0.1, torch.randn(H, C, dtype=DT) * 0.7]
v = [torch.randn_like(p) for p in params]


def hidden(wx, wh, b):
    h = torch.zeros(B, H, dtype=DT)
    for t in range(T):
        h = torch.tanh(x[t] @ wx + h @ wh + b)
    return h


def logits(wx, wh, b, wy):
    return hidden(wx, wh, b) @ wy


def loss_fn(wx, wh, b, wy):
    h = hidden(wx, wh, b)
    return F.cross_entropy(h @ wy, targets) + 0.1 * (h * h).mean()


loss, hv = hvp(loss_fn, tuple(params), tuple(v))
ps = [p.clone().requires_grad_(True) for p in params]
grads = torch.autograd.grad(loss_fn(*ps), ps)

z, jv = jvp(logits, tuple(params), tuple(v))
_, hl_jv = hvp(lambda zz: F.cross_entropy(zz, targets), z, jv)
_, gv = vjp(logits, tuple(params), hl_jv)


def flat(t):
    return t.detach().reshape(-1).tolist()


golden = {
    "dims": {"T": T, "B": B, "I": I, "H": H, "C": C},
    "x": flat(x), "targets": targets.tolist(),
    "params": {n: flat(p) for n, p in zip(names, params)},
    "v": {n: flat(d) for n, d in zip(names, v)},
    "loss": loss.item(),
    "grad": {n: flat(g) for n, g in zip(names, grads)},
    "hvp": {n: flat(h) for n, h in zip(names, hv)},
    "gnvp": {n: flat(g) for n, g in zip(names, gv)},
}
out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(out, "hvp_golden.json"), "w") as f:
    json.dump(golden, f)
print("wrote", os.path.join(out, "hvp_golden.json"), "with torch", torch.__version__)
