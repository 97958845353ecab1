#!/usr/bin/python3
"""Data-parallel training over MPI ranks on this machine, and a model of it on a cluster: runs
distributed_bench under mpirun and writes docs/benchmarks/distributed.md.

Run once built with MPI (scripts/install-deps.sh installs Open MPI; target distributed_bench):

  /usr/bin/python3 benchmarks/run_distributed.py --build build --out docs/benchmarks/distributed.md

Measured: an LSTM layer of configuration M and L (docs/benchmarks/README.md) trained with Adam,
its global batch on 1 rank x 2 threads against 2 ranks x 1 thread (the same two cores), with
and without the all-reduce overlapping backward; the compute of one shard alone; the
deterministic all-reduce against MPI_Allreduce at the gradients' sizes; and, for the model, the
compute of a step at every shard size a cluster of N such machines would give each machine.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_suite import machine_description  # noqa: E402

CONFIGS = {"M": (32, 50, 128, 256), "L": (64, 100, 512, 512)}  # batch, steps, input, hidden
REPEATS = {"M": 30, "L": 8}
ROUNDS = 3
LAYERS = [1, 2]
# The networks of the model: bandwidth in Gb/s, per-message latency in microseconds (TCP over
# Ethernet at 10 and 25 Gb/s; RDMA, InfiniBand or RoCE, at 100 Gb/s).
NETWORKS = [(10, 30.0), (25, 20.0), (100, 3.0)]
MACHINES = [1, 2, 4, 8, 16, 32, 64]


def mpirun(ranks):
    return ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none",
            "--mca", "btl", "self,vader", "-x", "TAPELOOP_NUM_THREADS"]


def run(command, env):
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout
    return json.loads([line for line in out.splitlines() if line.startswith("{")][-1])


def shape(config, batch):
    _, steps, inputs, hidden = CONFIGS[config]
    return "B%dT%dI%dH%d" % (batch, steps, inputs, hidden)


def allreduce_model(floats, machines, gbits, latency_us):
    """Seconds for the all-reduce of `floats` float32 over `machines` machines: each sends and
    receives 2 (N - 1) / N of the data (a reduce-scatter then an all-gather, as tapeloop's and a
    ring's), in 2 (N - 1) messages of latency each."""
    if machines == 1:
        return 0.0
    data = 4.0 * floats
    return 2 * (machines - 1) / machines * data / (gbits * 1e9 / 8) + \
        2 * (machines - 1) * latency_us * 1e-6


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="docs/benchmarks/distributed.md")
    args = parser.parse_args()
    bench = os.path.join(args.build, "benchmarks", "distributed_bench")
    env = dict(os.environ)
    forced = env.pop("OPENBLAS_CORETYPE", None)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    start = time.time()

    # 1. Throughput on this machine, in rounds so that a noisy neighbour hits every variant.
    # (name, ranks, threads, flags); each on 1 and 2 LSTM layers: a second layer gives the
    # all-reduce of the upper layer's gradients something to overlap with.
    variants = [("1 rank x 2 threads", 1, 2, []), ("2 ranks x 1 thread", 2, 1, []),
                ("2 ranks x 1 thread, no overlap", 2, 1, ["--no-overlap"])]
    train = {}
    local = {}
    for _ in range(ROUNDS):
        for config in CONFIGS:
            batch = CONFIGS[config][0]
            for layers in LAYERS:
                for name, ranks, threads, extra in variants:
                    env["TAPELOOP_NUM_THREADS"] = str(threads)
                    r = run(mpirun(ranks) + [bench, "train", config, "--layers", str(layers),
                                             "--threads", str(threads),
                                             "--repeats", str(REPEATS[config])] + extra, env)
                    train.setdefault((config, layers, name), []).append(r["median_ms"])
                    train[(config, layers, "floats")] = r["gradient_floats"]
                    train[(config, layers, "buckets")] = r["buckets"]
                    print(config, layers, name, r["median_ms"], flush=True)
            env["TAPELOOP_NUM_THREADS"] = "1"
            r = run([bench, "local", shape(config, batch // 2), "--threads", "1",
                     "--repeats", str(REPEATS[config])], env)
            local.setdefault(config, []).append(r["median_ms"])

    # 2. The all-reduce alone at the gradients' sizes.
    reduce_rows = []
    for config in CONFIGS:
        floats = train[(config, 1, "floats")]
        for ranks in (2, 3):
            env["TAPELOOP_NUM_THREADS"] = "1"
            r = run(mpirun(ranks) + [bench, "allreduce", str(floats), "--repeats", "40"], env)
            reduce_rows.append((config, floats, ranks, r["tapeloop"]["median_ms"],
                                r["mpi_allreduce"]["median_ms"]))
            print(reduce_rows[-1], flush=True)

    # 3. The compute of one machine's shard (2 threads) for the model.
    # In rounds over every size, as above: the model divides by the one-machine time.
    samples = {}
    env["TAPELOOP_NUM_THREADS"] = "2"
    for _ in range(ROUNDS):
        for config in CONFIGS:
            batch = CONFIGS[config][0]
            for machines in MACHINES:
                if batch % machines:
                    continue
                r = run([bench, "local", shape(config, batch // machines), "--threads", "2",
                         "--repeats", str(REPEATS[config])], env)
                samples.setdefault((config, machines), []).append(r["median_ms"])
                print(config, machines, r["median_ms"], flush=True)
    compute = {key: statistics.median(times) for key, times in samples.items()}

    minutes = (time.time() - start) / 60
    m = machine_description()
    med = statistics.median
    lines = [
        "# Data-parallel training over MPI",
        "",
        "Written by `/usr/bin/python3 benchmarks/run_distributed.py --build build --out "
        "docs/benchmarks/distributed.md` (%.0f minutes) on %s, %s, %d CPUs, Open MPI over shared "
        "memory (`--mca btl self,vader`)." % (minutes, m["cpu"], m["isa_kind"], m["cpus"]),
        "" if forced is None else
        "The environment set OPENBLAS_CORETYPE=%s; the run left the choice to OpenBLAS." % forced,
        "",
        "## Two cores: 1 rank x 2 threads against 2 ranks x 1 thread",
        "",
        "One training step of an LSTM of 1 or 2 layers (fused cells), float: forward over the global batch, "
        "the summed squared error of every output, backward, the gradients all-reduced "
        "(`DataParallel`, 1 MiB buckets), Adam. Configurations of [the suite](README.md): "
        "M = B32 T50 I128 H256, L = B64 T100 I512 H512. Each time is the median over %d rounds "
        "of the median of a round's steps (M %d, L %d steps); the rounds interleave the "
        "variants. *one shard alone*: half the batch on one thread without a DataParallel, so "
        "*all-reduce and waiting* is what the second rank costs beyond its share of the work."
        % (ROUNDS, REPEATS["M"], REPEATS["L"]),
        "",
        "| config | layers | buckets | variant | step ms | sequences/s | vs 1 rank x 2 threads |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for config in CONFIGS:
        batch = CONFIGS[config][0]
        for layers in LAYERS:
            base = med(train[(config, layers, variants[0][0])])
            for name, _, _, _ in variants:
                t = med(train[(config, layers, name)])
                lines.append("| %s | %d | %d | %s | %.2f | %.0f | **%.2f** |"
                             % (config, layers, train[(config, layers, "buckets")], name, t,
                                batch / (t / 1000), base / t))
    lines += [
        "",
        "One layer, with the compute of one shard alone:",
        "",
        "| config | gradient | 2 ranks x 1 thread, step ms | one shard alone, ms | all-reduce "
        "and waiting, ms |",
        "| --- | --- | --- | --- | --- |",
    ]
    for config in CONFIGS:
        floats = train[(config, 1, "floats")]
        t = med(train[(config, 1, variants[1][0])])
        lines.append("| %s | %d floats, %.1f MB | %.2f | %.2f | %.2f |"
                     % (config, floats, 4 * floats / 1e6, t, med(local[config]),
                        t - med(local[config])))
    lines += [
        "",
        "## The all-reduce alone",
        "",
        "Median of 40, loopback over shared memory. tapeloop's sum is deterministic (a "
        "reduce-scatter whose slices are added in rank order, then an all-gather); "
        "`MPI_Allreduce` is Open MPI's own, whose order is its own.",
        "",
        "| gradient of | floats | ranks | tapeloop ms | MPI_Allreduce ms | ratio |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for config, floats, ranks, ours, theirs in reduce_rows:
        lines.append("| %s | %d | %d | %.3f | %.3f | %.2f |"
                     % (config, floats, ranks, ours, theirs, ours / theirs))
    lines += [
        "",
        "## A model of N machines",
        "",
        "N machines like this one (2 cores each, 2 threads), one rank each, the global batch "
        "of the configuration split over them (strong scaling). A step takes the compute of "
        "one machine's shard, *measured* here at that shard size (forward, backward and Adam; the "
        "median of %d rounds), "
        "plus the all-reduce over the network, *modelled*: each machine sends and receives "
        "2 (N - 1) / N of the gradient in 2 (N - 1) messages, as tapeloop's all-reduce and a "
        "ring both do: t = 2 (N - 1) / N x bytes / bandwidth + 2 (N - 1) x latency. "
        "Latency: %s. The all-reduce is not overlapped with backward in the model: a one-layer "
        "LSTM's weights are all complete only at the end of backward."
        % (ROUNDS, ", ".join("%g us at %d Gb/s" % (lat, gb) for gb, lat in NETWORKS)),
        "",
    ]
    for config in CONFIGS:
        floats = train[(config, 1, "floats")]
        batch = CONFIGS[config][0]
        base = compute[(config, 1)]
        lines += [
            "**%s** (gradient %.1f MB; one machine: %.2f ms a step)" % (config, 4 * floats / 1e6,
                                                                        base),
            "",
            "| machines | sequences each | compute ms | " + " | ".join(
                "%d Gb/s: all-reduce ms, speed-up" % gb for gb, _ in NETWORKS) + " |",
            "| --- | --- | --- | " + " | ".join("---" for _ in NETWORKS) + " |",
        ]
        for machines in MACHINES:
            if (config, machines) not in compute:
                continue
            c = compute[(config, machines)]
            cells = []
            for gb, lat in NETWORKS:
                a = allreduce_model(floats, machines, gb, lat) * 1000
                cells.append("%.2f, **%.1fx**" % (a, base / (c + a)))
            lines.append("| %d | %d | %.2f | %s |" % (machines, batch // machines, c,
                                                       " | ".join(cells)))
        lines.append("")
        peaks = []
        for gb, lat in NETWORKS:
            best = max((base / (compute[(config, n)] + allreduce_model(floats, n, gb, lat) * 1000),
                        n) for n in MACHINES if (config, n) in compute)
            peaks.append("%.1fx on %d machines at %d Gb/s" % (best[0], best[1], gb))
        lines += ["Fastest: " + "; ".join(peaks) + ".", ""]
    lines += [
        "**Weak scaling**: every machine keeps the configuration's whole batch (the global batch "
        "grows with N), so the compute per step stays that of one machine and only the "
        "all-reduce grows. Efficiency = compute / (compute + all-reduce):",
        "",
        "| config | " + " | ".join("%d machines, %d Gb/s" % (n, gb) for n in (8, 64)
                                  for gb, _ in NETWORKS) + " |",
        "| --- | " + " | ".join("---" for _ in range(2 * len(NETWORKS))) + " |",
    ]
    for config in CONFIGS:
        floats = train[(config, 1, "floats")]
        c = compute[(config, 1)]
        lines.append("| %s | " % config + " | ".join(
            "%.0f%%" % (100 * c / (c + allreduce_model(floats, n, gb, lat) * 1000))
            for n in (8, 64) for gb, lat in NETWORKS) + " |")
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
