#!/usr/bin/python3
"""PyTorch's RNN, LSTM and GRU on the benchmark configurations, as the peer of recurrent_bench.

Usage: /usr/bin/python3 benchmarks/pytorch_rnn.py --mode lstm|gru|rnn
           --task train|inference|optimizer --cell fused|generic --threads N --repeats R
           [--lengths full|uniform] [--build-info] CONFIG...
       /usr/bin/python3 benchmarks/pytorch_rnn.py --check FILE [--cell fused|generic]

Prints one JSON object per configuration with recurrent_bench's keys plus "torch_version":
{"mode", "task", "cell", "config", "threads", "lengths", "median_ms", "times_ms", "peak_mib",
"torch_version"}. Runs on Debian's python3-torch 1.13 and on newer releases.

- train (docs/benchmarks/README.md): forward over the whole sequence, MSE of all outputs against a
  fixed random target, backward to every parameter and to the input. No optimizer step.
- inference: the forward alone, under torch.inference_mode().
- optimizer: one torch.optim.Adam step (defaults) after one training step made the gradients.
- --cell fused: nn.LSTM / nn.GRU / nn.RNN (tanh). --cell generic: the same cell written from
  torch ops in a Python loop over the time steps, the input projected for all steps first (as
  nn.LSTM does).
- --lengths uniform: per-sequence lengths uniform in [T/2, T] drawn exactly as recurrent_bench
  draws them (tapeloop's Generator(1), below); the fused cell gets them as a packed sequence,
  the generic one as masks. Outputs past a sequence's length are zero.

--check FILE: loads what `recurrent_bench --dump FILE` wrote (weights, x, target, lengths, and
tapeloop's output and gradients after one training step), runs the same step here, and exits
with 1 unless the output, the loss and every gradient agree to max|a - b| / max|b| < 1e-3
(b: tapeloop's). The mode and configuration come from the file.
"""
import argparse
import json
import re
import statistics
import sys
import time

import torch

CONFIGS = {  # name: (batch, steps, input, hidden), as in recurrent_common.hpp
    "S": (1, 100, 16, 32),
    "M": (32, 50, 128, 256),
    "L": (64, 100, 512, 512),
}
SHAPE = re.compile(r"^B([1-9][0-9]{0,6})T([1-9][0-9]{0,6})I([1-9][0-9]{0,6})H([1-9][0-9]{0,6})$")
CHECK_LIMIT = 1e-3


def config_shape(name):
    """(batch, steps, input, hidden) of S, M, L or a shape B<n>T<n>I<n>H<n>; None otherwise."""
    if name in CONFIGS:
        return CONFIGS[name]
    match = SHAPE.match(name)
    return tuple(int(g) for g in match.groups()) if match else None
MASK64 = (1 << 64) - 1


class Generator:
    """tapeloop's Generator (lib/src/random.cpp): xoshiro256** seeded through splitmix64, and
    below(n), so that --lengths uniform gives the sequences the lengths tapeloop gives them."""

    def __init__(self, seed):
        self.s = []
        for _ in range(4):
            seed = (seed + 0x9E3779B97F4A7C15) & MASK64
            z = seed
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
            self.s.append(z ^ (z >> 31))

    @staticmethod
    def _rotl(x, k):
        return ((x << k) | (x >> (64 - k))) & MASK64

    def next_u64(self):
        s = self.s
        result = (self._rotl((s[1] * 5) & MASK64, 7) * 9) & MASK64
        t = (s[1] << 17) & MASK64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = self._rotl(s[3], 45)
        return result

    def below(self, n):
        limit = ((1 << 64) - n) % n  # Lemire's rejection, as in C++: (0 - n) % n
        while True:
            r = self.next_u64()
            if r >= limit:
                return r % n


def sequence_lengths(batch, steps):
    """recurrent_common.hpp's sequence_lengths: uniform in [T/2, T] from Generator(1)."""
    rng = Generator(1)
    low = steps // 2
    return [low + rng.below(steps - low + 1) for _ in range(batch)]


def make_module(mode, inputs, hidden):
    if mode == "lstm":
        return torch.nn.LSTM(inputs, hidden)
    if mode == "gru":
        return torch.nn.GRU(inputs, hidden)
    return torch.nn.RNN(inputs, hidden, nonlinearity="tanh")


def generic_forward(module, mode, x, lengths):
    """The cell from torch ops, one Python iteration per step, with module's parameters.

    xw.unbind(0) rather than xw[t]: backward then stacks the per-step gradients once, where
    indexing would build a full-size zero gradient per step (O(T^2) memory traffic).
    """
    linear = torch.nn.functional.linear
    w_hh, b_hh = module.weight_hh_l0, module.bias_hh_l0
    steps, batch, _ = x.shape
    xw = linear(x, module.weight_ih_l0, module.bias_ih_l0)  # all steps in one GEMM
    h = x.new_zeros(batch, module.hidden_size)
    c = x.new_zeros(batch, module.hidden_size) if mode == "lstm" else None
    masks = None
    if lengths is not None:
        live = torch.arange(steps).unsqueeze(1) < lengths.unsqueeze(0)  # [T, B]
        masks = [(m.unsqueeze(1), m.unsqueeze(1).to(x.dtype)) for m in live.unbind(0)]
    outputs = []
    for t, xt in enumerate(xw.unbind(0)):
        hw = linear(h, w_hh, b_hh)
        c_new = None
        if mode == "lstm":
            i, f, g, o = (xt + hw).chunk(4, 1)
            c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_new = torch.sigmoid(o) * torch.tanh(c_new)
        elif mode == "gru":
            xr, xz, xn = xt.chunk(3, 1)
            hr, hz, hn = hw.chunk(3, 1)
            r = torch.sigmoid(xr + hr)
            z = torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            h_new = n + z * (h - n)  # (1 - z) n + z h
        else:
            h_new = torch.tanh(xt + hw)
        if masks is None:
            h, c = h_new, c_new
            outputs.append(h)
        else:
            # A finished sequence keeps its state and outputs zeros, as a packed sequence does.
            live_b, live_f = masks[t]
            h = torch.where(live_b, h_new, h)
            if c is not None:
                c = torch.where(live_b, c_new, c)
            outputs.append(h_new * live_f)
    return torch.stack(outputs)


def forward(module, mode, cell, x, lengths):
    if cell == "generic":
        return generic_forward(module, mode, x, lengths)
    if lengths is None:
        return module(x)[0]
    rnn_utils = torch.nn.utils.rnn
    packed = rnn_utils.pack_padded_sequence(x, lengths, enforce_sorted=False)
    return rnn_utils.pad_packed_sequence(module(packed)[0], total_length=x.shape[0])[0]


def train_step(module, mode, cell, x, target, lengths):
    # set_to_none: PyTorch's recommended (and, from 2.0, default) way; the same on every version.
    module.zero_grad(set_to_none=True)
    x.grad = None
    out = forward(module, mode, cell, x, lengths)
    loss = torch.nn.functional.mse_loss(out, target)
    loss.backward()
    return out, loss


def resident_mib(field):
    """VmRSS (now) or VmHWM (the peak) of this process in MiB, or None."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def reset_peak_resident():
    """Makes VmHWM the current VmRSS (Linux's clear_refs "5"); False where not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def time_steps(repeats, step):
    """The timed steps' times in ms, after 3 warm-up steps as recurrent_bench, and the peak
    resident memory the steps added to what the process held before them (MiB, or None)."""
    baseline = resident_mib("VmRSS")
    reset = reset_peak_resident()
    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    peak = resident_mib("VmHWM")
    added = peak - baseline if reset and peak is not None and baseline is not None else None
    return times, added


def measure(args, config):
    torch.set_num_threads(args.threads)
    batch, steps, inputs, hidden = config_shape(config)
    torch.manual_seed(0)
    module = make_module(args.mode, inputs, hidden)
    x = torch.randn(steps, batch, inputs, requires_grad=args.task != "inference")
    target = torch.randn(steps, batch, hidden)
    lengths = None
    if args.lengths == "uniform":
        lengths = torch.tensor(sequence_lengths(batch, steps), dtype=torch.int64)

    if args.task == "train":
        times, peak = time_steps(args.repeats,
                           lambda: train_step(module, args.mode, args.cell, x, target, lengths))
    elif args.task == "inference":
        def infer():
            with torch.inference_mode():
                forward(module, args.mode, args.cell, x, lengths)
        times, peak = time_steps(args.repeats, infer)
    else:
        train_step(module, args.mode, args.cell, x, target, lengths)
        adam = torch.optim.Adam(module.parameters())
        times, peak = time_steps(args.repeats, adam.step)
    return {"mode": args.mode, "task": args.task, "cell": args.cell, "config": config,
            "threads": args.threads, "lengths": args.lengths,
            "median_ms": statistics.median(times), "times_ms": times, "peak_mib": peak,
            "torch_version": torch.__version__}


def relative_error(ours, reference):
    """max|a - b| / (max|b| + tiny), in double; infinite when a holds a NaN or an infinity."""
    a, b = ours.detach().double(), reference.double()
    diff = (a - b).abs().max().item()
    if diff != diff or diff == float("inf"):
        return float("inf")
    return diff / (b.abs().max().item() + 1e-30)


def check(path, cell, mode_arg):
    """Runs the training step of a recurrent_bench dump and compares; returns the exit code."""
    with open(path) as f:
        dump = json.load(f)
    if dump.get("format") != "tapeloop-recurrent-dump/1":
        sys.exit("pytorch_rnn.py: %s: not a recurrent_bench --dump file" % path)
    mode = dump["mode"]
    if mode_arg is not None and mode_arg != mode:
        sys.exit("pytorch_rnn.py: --mode %s, but %s holds a %s" % (mode_arg, path, mode))
    tensors = {name: torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])
               for name, t in dump["tensors"].items()}
    batch, steps = dump["batch"], dump["steps"]
    lengths = None
    if dump["lengths"]:
        # The file's lengths are tapeloop's draw: ours must be the same, or the timed runs of
        # --lengths uniform would not measure the same sequences.
        if dump["lengths"] != sequence_lengths(batch, steps):
            sys.exit("pytorch_rnn.py: the lengths drawn here differ from %s's" % path)
        lengths = torch.tensor(dump["lengths"], dtype=torch.int64)
    module = make_module(mode, dump["input"], dump["hidden"])
    names = [name for name, _ in module.named_parameters()]
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(tensors[name])
    x = tensors["x"].clone().requires_grad_(True)
    out, loss = train_step(module, mode, cell, x, tensors["target"], lengths)

    pairs = [("output", out, tensors["output"]),
             ("loss", loss.reshape(1), torch.tensor([dump["loss"]], dtype=torch.float32)),
             ("grad.x", x.grad, tensors["grad.x"])]
    params = dict(module.named_parameters())
    pairs += [("grad." + name, params[name].grad, tensors["grad." + name]) for name in names]
    errors, failed = [], None
    for name, ours, theirs in pairs:
        if ours is None or tuple(ours.shape) != tuple(theirs.shape):
            failed = failed or "%s: shape %s, tapeloop's %s" % (
                name, None if ours is None else list(ours.shape), list(theirs.shape))
            continue
        e = relative_error(ours, theirs)
        errors.append("%s %.2e" % (name, e))
        if not e < CHECK_LIMIT and failed is None:
            failed = "%s differs from tapeloop's: error %.3e (limit %.0e)" % (name, e, CHECK_LIMIT)
    print("pytorch_rnn.py: check %s %s (%s cell, torch %s) vs tapeloop: %s: %s" % (
        mode, dump["config"], cell, torch.__version__, ", ".join(errors),
        "FAILED" if failed else "ok"), file=sys.stderr)
    if failed:
        print("pytorch_rnn.py: check %s %s: %s" % (mode, dump["config"], failed), file=sys.stderr)
        return 1
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["lstm", "gru", "rnn"], default=None,
                        help="default lstm (with --check: the file's)")
    parser.add_argument("--task", choices=["train", "inference", "optimizer"], default="train")
    parser.add_argument("--cell", choices=["fused", "generic"], default="fused")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--lengths", choices=["full", "uniform"], default="full")
    parser.add_argument("--build-info", action="store_true")
    parser.add_argument("--check", metavar="FILE")
    # No `choices` here: argparse before Python 3.12 refuses an empty list against them.
    parser.add_argument("configs", nargs="*", metavar="CONFIG",
                        help="S, M, L or a shape B<batch>T<steps>I<input>H<hidden>")
    args = parser.parse_args()
    for config in args.configs:
        if config_shape(config) is None:
            parser.error("unknown configuration %r (S, M, L or B<n>T<n>I<n>H<n>)" % config)
    if args.check:
        if args.configs:
            parser.error("--check takes its configuration from the file")
        return check(args.check, args.cell, args.mode)
    if not args.configs and not args.build_info:
        parser.error("no configuration (S, M or L) given")
    if args.threads < 1 or args.repeats < 1:
        parser.error("--threads and --repeats must be at least 1")
    args.mode = args.mode or "lstm"
    if args.build_info:
        print(json.dumps({"torch_version": torch.__version__,
                          "num_threads_default": torch.get_num_threads()}), flush=True)
    for config in args.configs:
        print(json.dumps(measure(args, config)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
