#!/usr/bin/python3
"""The cost of second-order products next to a gradient: runs curvature_bench on every mode,
cell, configuration and thread count and writes docs/benchmarks/curvature.md.

Run once built (cmake -DTAPELOOP_BUILD_BENCHMARKS=ON, target curvature_bench):

  /usr/bin/python3 benchmarks/run_curvature.py --build build --out docs/benchmarks/curvature.md

Each line of the table is the median of the rounds curvature_bench times: in every round a
training step (record, forward, backward), a forward alone, then on one recording a jvp, a
Gauss-Newton-vector product and a Hessian-vector product along a random direction of every
parameter.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_suite import machine_description  # noqa: E402

MODES = ["rnn", "lstm", "gru"]
CONFIGS = ["S", "M", "L"]
REPEATS = {"S": 40, "M": 15, "L": 5}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="docs/benchmarks/curvature.md")
    parser.add_argument("--quick", action="store_true", help="S and M only, fewer rounds")
    args = parser.parse_args()
    bench = os.path.join(args.build, "benchmarks", "curvature_bench")
    env = dict(os.environ)
    forced = env.pop("OPENBLAS_CORETYPE", None)  # measure the machine, as run_suite.py does
    configs = CONFIGS[:2] if args.quick else CONFIGS
    rows = []
    start = time.time()
    for threads in (1, 2):
        for mode in MODES:
            for cell in ("fused", "generic"):
                for config in configs:
                    repeats = max(3, REPEATS[config] // (3 if args.quick else 1))
                    command = [bench, "--mode", mode, "--cell", cell, "--threads", str(threads),
                               "--repeats", str(repeats), config]
                    out = subprocess.run(command, env=env, check=True, capture_output=True,
                                         text=True).stdout
                    row = json.loads(out.strip().splitlines()[-1])
                    print(json.dumps(row), flush=True)
                    rows.append(row)
    minutes = (time.time() - start) / 60
    m = machine_description()
    lines = [
        "# What a second-order product costs",
        "",
        "Written by `/usr/bin/python3 benchmarks/run_curvature.py --build build --out "
        "docs/benchmarks/curvature.md`%s (%.0f minutes) on %s, %s, %d CPUs."
        % (" --quick" if args.quick else "", minutes, m["cpu"], m["isa_kind"], m["cpus"]),
        "" if forced is None else
        "The environment set OPENBLAS_CORETYPE=%s; the run left the choice to OpenBLAS." % forced,
        "",
        "Configurations of [the suite](README.md) (S: B1 T100 I16 H32; M: B32 T50 I128 H256; "
        "L: B64 T100 I512 H512), float, the loss the MSE of every output. Each time is the median "
        "of the rounds; within a round the five are timed one after the other, so a noisy "
        "neighbour slows them alike. *gradient*: record, forward and backward, what a training "
        "step costs; *forward*: the layer alone, no recording; *jvp*, *G v*, *H v*: on one "
        "recording, along a random direction of every parameter, as HessianFree's conjugate "
        "gradient makes them (`Tape::jvp`, `Tape::gnvp`, `Tape::hvp`).",
        "",
        "| threads | mode | cell | config | gradient ms | forward ms | jvp ms | G v ms | H v ms "
        "| G v / gradient | H v / gradient |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append("| %d | %s | %s | %s | %.3f | %.3f | %.3f | %.3f | %.3f | **%.2f** | %.2f |"
                     % (r["threads"], r["mode"], r["cell"], r["config"], r["gradient_ms"],
                        r["forward_ms"], r["jvp_ms"], r["gnvp_ms"], r["hvp_ms"],
                        r["gnvp_over_gradient"], r["hvp_over_gradient"]))
    ratios = [r["gnvp_over_gradient"] for r in rows]
    lines += [
        "",
        "G v / gradient ranges from %.2f to %.2f over these %d lines. What it is made of, and "
        "why the floor is near 4/3, is in [docs/second_order.md](../second_order.md)."
        % (min(ratios), max(ratios), len(rows)),
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print("wrote", args.out)


if __name__ == "__main__":
    main()
