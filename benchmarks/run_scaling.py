#!/usr/bin/python3
"""Scaling curves: the LSTM training step's time and peak memory against sequence length, hidden
size, batch and threads, checkpointed scan's memory against the length, next to PyTorch's.

Run by `bash benchmarks/run-suite.sh --scaling` (which installs and builds what it needs), or
directly once built:

  /usr/bin/python3 benchmarks/run_scaling.py --build build --out docs/benchmarks [--quick]

Every point runs tapeloop (`recurrent_bench`, fused cell) and Debian's PyTorch (`pytorch_rnn.py`,
nn.LSTM) one after the other on the same shape, one thread unless the sweep is over threads.
Time is the median of the timed steps; memory is the peak resident memory the steps added to
what the process held before them (VmHWM minus VmRSS, both programs measure it the same way).
Writes docs/benchmarks/scaling.md and SVG charts in docs/benchmarks/scaling/.
"""
import argparse
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_suite import (Runner, choose_openblas_core, machine_description,  # noqa: E402
                       torch_settings)

TORCH = "/usr/bin/python3"


def shape_name(b, t, i, h):
    return "B%dT%dI%dH%d" % (b, t, i, h)


def gemm_flops(b, t, i, h):
    """Multiply-adds x 2 of an LSTM training step's GEMMs: 3 x 2 B T 4H (I + H)."""
    return 3.0 * 2.0 * b * t * 4 * h * (i + h)


def sweeps(quick):
    """(title, axis label, [(x value, (b, t, i, h), threads)], with checkpointed runs)."""
    lengths = [10, 30, 100, 300, 1000, 3000] if not quick else [10, 100, 1000]
    hidden = [32, 64, 128, 256, 512, 1024] if not quick else [64, 256, 1024]
    batch = [1, 4, 16, 64, 256] if not quick else [1, 16, 256]
    return [
        ("sequence length T (B32, I128, H256)", "T",
         [(t, (32, t, 128, 256), 1) for t in lengths], True),
        ("hidden size H (B32, T50, I = H)", "H", [(h, (32, 50, h, h), 1) for h in hidden], False),
        ("batch B (T50, I128, H256)", "B", [(b, (b, 50, 128, 256), 1) for b in batch], False),
        ("threads (config M: B32, T50, I128, H256)", "threads",
         [(n, (32, 50, 128, 256), n) for n in (1, 2)], False),
        ("threads (config L: B64, T100, I512, H512)", "threads",
         [(n, (64, 100, 512, 512), n) for n in (1, 2)], False),
    ]


def repeats_for(b, t, i, h, quick):
    """Fewer timed steps for the long ones: about 3 s of tapeloop steps per point."""
    seconds = gemm_flops(b, t, i, h) / 60e9 + 1e-4
    return max(2, min(15 if not quick else 5, int(3.0 / seconds)))


def measure(runner, sweep, quick):
    title, axis, points, checkpointed = sweep
    rows = []
    for x, (b, t, i, h), threads in points:
        name = shape_name(b, t, i, h)
        repeats = str(repeats_for(b, t, i, h, quick))
        common = ["--mode", "lstm", "--task", "train", "--threads", str(threads),
                  "--repeats", repeats, name]
        row = {"x": x, "shape": name, "threads": threads, "flops": gemm_flops(b, t, i, h)}
        ours = runner.run("tapeloop", [os.path.join(runner.bench, "recurrent_bench"),
                                       "--cell", "fused"] + common)
        row["tapeloop"] = ours[0] if ours else None
        if checkpointed:
            k = max(1, int(round(math.sqrt(t))))
            row["k"] = k
            ckpt = runner.run("tapeloop-checkpoint",
                              [os.path.join(runner.bench, "recurrent_bench"), "--cell", "fused",
                               "--checkpoint", str(k)] + common)
            row["checkpoint"] = ckpt[0] if ckpt else None
        # PyTorch's best thread setting of the suite's (torch_settings): on 2 threads its own
        # pool and OpenBLAS's threads fight, so one torch thread with OpenBLAS on both is tried.
        row["pytorch"] = None
        for _, setting in torch_settings(threads):
            args = common[:common.index("--threads") + 1] + [setting["threads"]] + \
                common[common.index("--threads") + 2:]
            theirs = runner.run("pytorch", [TORCH, "benchmarks/pytorch_rnn.py"] + args,
                                env=setting["env"])
            if theirs and (row["pytorch"] is None or
                           theirs[0]["median_ms"] < row["pytorch"]["median_ms"]):
                row["pytorch"] = theirs[0]
        rows.append(row)
        print("run_scaling: %s %s=%s done" % (title.split(" (")[0], axis, x), flush=True)
    return rows


def ms(r):
    return None if r is None else r["median_ms"]


def mib(r):
    return None if r is None or r.get("peak_mib") is None else r["peak_mib"]


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is None:
        digits = 3 if v < 1 else (2 if v < 10 else (1 if v < 1000 else 0))
    return "%.*f" % (digits, v)


def line_chart(path, title, axis, xs, series, ylabel, log_x=True, log_y=True):
    """series: {label: [y or None per x]} as an SVG line chart (matplotlib)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, ys in series.items():
        pts = [(x, y) for x, y in zip(xs, ys) if y is not None]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
    if log_x:
        ax.set_xscale("log")
    if log_y:
        ax.set_yscale("log")
    ax.set_xlabel(axis)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


def write_report(out_dir, all_rows, info, command, elapsed, failures):
    chart_dir = os.path.join(out_dir, "scaling")
    os.makedirs(chart_dir, exist_ok=True)
    out = []
    out.append("# Scaling: the LSTM training step against length, size, batch and threads\n")
    out.append("Produced by `%s` in %.0f min. One LSTM layer, float32, the training step of "
               "docs/benchmarks/README.md (forward, MSE, backward to the input and every "
               "parameter), fused cell; PyTorch is Debian's torch %s, `nn.LSTM` on the same "
               "shape right after. Time: median of the timed steps; GFLOP/s counts the GEMMs "
               "(3 × 2·B·T·4H·(I+H)). Memory: the peak resident memory the steps added to the "
               "process (VmHWM − VmRSS before them), the same measure in both programs.\n"
               % (command, elapsed / 60, info.get("torch", "?")))
    out.append("**Machine:** %s, %d logical CPUs, **%s** (Linux %s); tapeloop kernels %s, %s.\n"
               % (info["cpu"], info["cpus"], info["isa_kind"], info["kernel"],
                  info.get("kernel_isa", "?"), info.get("blas", "?")))
    for note in info.get("notes", []):
        out.append("Note: %s\n" % note)
    first_threads = next((i for i, (sweep, _) in enumerate(all_rows) if sweep[1] == "threads"),
                         -1)
    for index, (sweep, rows) in enumerate(all_rows):
        title, axis, _, checkpointed = sweep
        if axis == "threads" and index == first_threads:
            out.append("## Threads\n")
            out.append("Each row is one run. On a shared 2-core VM a 2-thread time whose per-step "
                       "products take tens of microseconds per thread moves a lot between runs: "
                       "that is about what waking a sleeping worker thread costs, so whether the "
                       "second core helps depends on whether the worker is still awake.\n")
        out.append("## %s%s\n" % (title[0].upper(), title[1:]))
        head = ["%s" % axis, "tapeloop ms", "GFLOP/s", "PyTorch ms", "PyTorch / tapeloop",
                "tapeloop MiB", "PyTorch MiB"]
        if checkpointed:
            head += ["checkpointed k", "checkpointed ms", "checkpointed MiB"]
        out.append("| " + " | ".join(head) + " |")
        out.append("| " + " | ".join("---" for _ in head) + " |")
        for r in rows:
            t, p = ms(r["tapeloop"]), ms(r["pytorch"])
            gflops = None if t is None else r["flops"] / (t * 1e-3) / 1e9
            cells = [str(r["x"]), fmt(t), fmt(gflops, 1), fmt(p),
                     "-" if t is None or p is None else "%.2f×" % (p / t),
                     fmt(mib(r["tapeloop"]), 1), fmt(mib(r["pytorch"]), 1)]
            if checkpointed:
                c = r.get("checkpoint")
                cells += [str(r.get("k", "-")), fmt(ms(c)), fmt(mib(c), 1)]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        xs = [r["x"] for r in rows]
        if axis != "threads":
            stem = "sweep-%d-%s" % (index, axis.lower())
            series = {"tapeloop": [ms(r["tapeloop"]) for r in rows],
                      "PyTorch": [ms(r["pytorch"]) for r in rows]}
            if checkpointed:
                series["tapeloop, checkpointed"] = [ms(r.get("checkpoint")) for r in rows]
            line_chart(os.path.join(chart_dir, stem + "-time.svg"), "time: " + title, axis, xs,
                       series, "ms per training step")
            series = {"tapeloop": [mib(r["tapeloop"]) for r in rows],
                      "PyTorch": [mib(r["pytorch"]) for r in rows]}
            if checkpointed:
                series["tapeloop, checkpointed (k = √T)"] = [mib(r.get("checkpoint")) for r in rows]
            line_chart(os.path.join(chart_dir, stem + "-memory.svg"), "peak memory: " + title,
                       axis, xs, series, "MiB added")
            out.append("![time](scaling/%s-time.svg) ![memory](scaling/%s-memory.svg)\n"
                       % (stem, stem))
    if failures:
        out.append("## Failures\n")
        for f in failures:
            out.append("- %s: `%s`: %s" % (f["system"], f["command"], " / ".join(f["stderr"])))
        out.append("")
    with open(os.path.join(out_dir, "scaling.md"), "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="docs/benchmarks")
    parser.add_argument("--quick", action="store_true", help="three points per sweep")
    parser.add_argument("--command", default="bash benchmarks/run-suite.sh --scaling")
    args = parser.parse_args()
    started = time.time()
    os.makedirs(args.out, exist_ok=True)
    log_path = os.path.join(args.out, "scaling", "log.txt")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "w") as log:
        runner = Runner(args.build, log)
        info = machine_description()
        info["notes"] = [n for n in [choose_openblas_core(runner)] if n]
        build = runner.run("build", [os.path.join(runner.bench, "recurrent_bench"), "--build-info"])
        if build:
            info.update({k: build[0][k] for k in ("kernel_isa", "blas") if k in build[0]})
        proc = subprocess.run([TORCH, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True)
        info["torch"] = proc.stdout.strip() or "missing"
        all_rows = [(s, measure(runner, s, args.quick)) for s in sweeps(args.quick)]
        write_report(args.out, all_rows, info, args.command + (" --quick" if args.quick else ""),
                     time.time() - started, runner.failures)
    print("run_scaling: wrote %s" % os.path.join(args.out, "scaling.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
