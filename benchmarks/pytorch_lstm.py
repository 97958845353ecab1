#!/usr/bin/python3
"""PyTorch's LSTM training step on the benchmark configurations, as the peer of tapeloop's.

Usage: /usr/bin/python3 benchmarks/pytorch_lstm.py --threads N --repeats R CONFIG...
Prints one JSON object per configuration: {"config", "threads", "median_ms", "times_ms"}.

A training step (shared/BENCHMARKS.md): forward over the whole sequence, MSE loss of all
outputs against a fixed random target, backward to every parameter and to the input. No
optimizer step.
"""
import argparse
import json
import statistics
import time

import torch

CONFIGS = {  # name: (batch, steps, input, hidden)
    "S": (1, 100, 16, 32),
    "M": (32, 50, 128, 256),
    "L": (64, 100, 512, 512),
}


def measure(config, threads, repeats):
    torch.set_num_threads(threads)
    batch, steps, inputs, hidden = CONFIGS[config]
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(inputs, hidden)
    x = torch.randn(steps, batch, inputs, requires_grad=True)
    target = torch.randn(steps, batch, hidden)

    def step():
        lstm.zero_grad()
        x.grad = None
        out, _ = lstm(x)
        loss = torch.nn.functional.mse_loss(out, target)
        loss.backward()

    for _ in range(3):
        step()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append((time.perf_counter() - start) * 1e3)
    return {"config": config, "threads": threads, "median_ms": statistics.median(times),
            "times_ms": times}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("configs", nargs="+", choices=sorted(CONFIGS))
    args = parser.parse_args()
    for config in args.configs:
        print(json.dumps(measure(config, args.threads, args.repeats)), flush=True)


if __name__ == "__main__":
    main()
