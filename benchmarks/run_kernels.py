"""Runs tapeloop's kernel benchmarks and PyTorch's in alternating rounds; writes a report.

    /usr/bin/python3 benchmarks/run_kernels.py --bench build/benchmarks/tapeloop_bench \\
        --out docs/benchmarks/kernels.md [--rounds 5] [--min-time 0.05]

The machine may be shared: each run records how much CPU other processes used meanwhile, and
every number reported is the median over the rounds, tapeloop's and PyTorch's runs alternating
so that drifts hit both alike. (Normally called by benchmarks/run-kernels.sh.)
"""

import argparse
import datetime
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OPS = ["add", "mul", "exp", "tanh", "sigmoid", "relu", "tanh_backward", "sum"]
SIZES = [32, 1024, 65536, 1048576]
BYTES = {"add": 3, "mul": 3, "tanh_backward": 4, "sum": 1}  # per element, as STREAM counts
GEMMS = {"S_xW": (100, 128, 16), "S_hU": (1, 128, 32), "M_xW": (1600, 1024, 128),
         "M_hU": (32, 1024, 256), "L_xW": (6400, 2048, 512), "L_hU": (64, 2048, 512)}
CHAIN = 10000  # ops per overhead iteration (bench_overhead.cpp, pytorch_kernels.py)


def busy_ticks():
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return user + nice + system + irq + softirq + steal


def run_measured(cmd):
    """Runs cmd; returns the CPU cores other processes used on average while it ran."""
    hz = os.sysconf("SC_CLK_TCK")
    ticks0, t0 = busy_ticks(), time.monotonic()
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - t0
    ours = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return max(0.0, ((busy_ticks() - ticks0) / hz - ours) / wall)


BUILD = {}  # the "context" of tapeloop_bench's JSON: its kernels' ISA and the BLAS core


def load(path):
    with open(path) as f:
        data = json.load(f)
    for key in ("tapeloop_kernels", "blas"):
        if key in data.get("context", {}):
            BUILD[key] = data["context"][key]
    out = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        name = re.sub(r"/(real_time|iterations:\d+)", "", b["name"])
        out[name] = b.get("share", b["real_time"])  # cpu_share reports a counter
    return out


def machine():
    text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    info = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    get = lambda k: info.get(k, "?").strip()
    versions = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Version}\\n", "libopenblas0-pthread", "libtbb12",
         "libxsimd-dev", "libbenchmark-dev", "python3-torch", "g++"],
        capture_output=True, text=True).stdout.strip().splitlines()
    return [f"CPU: {get('Model name')} ({get('Vendor ID')}, family {get('CPU family')}), "
            f"{get('CPU(s)')} cores, {get('Thread(s) per core')} thread per core, "
            f"hypervisor {get('Hypervisor vendor')}",
            f"Caches: L1d {get('L1d cache')}, L2 {get('L2 cache')}, L3 {get('L3 cache')}",
            f"Kernel: {platform.release()}; packages: " + ", ".join(versions),
            f"AVX-512: {avx512()}; tapeloop's kernels built for "
            f"{BUILD.get('tapeloop_kernels', '?')}; BLAS: {BUILD.get('blas', '?')}"]


def avx512():
    with open("/proc/cpuinfo") as f:
        return "yes" if " avx512f" in f.read() else "no (AVX2 + FMA only)"


def med(rounds, name):
    values = [r[name] for r in rounds if name in r]
    return statistics.median(values) if values else float("nan")


def fmt_ns(ns):
    if ns != ns:
        return "-"
    return f"{ns / 1e6:.2f} ms" if ns >= 1e6 else (f"{ns / 1e3:.1f} us" if ns >= 1e4 else f"{ns:.0f} ns")


def report(tl, pt, others, args):
    def t(name):
        return med(tl, name)

    def p(name):
        return med(pt, name)

    def gbs(op, dtype, n, ns):
        return BYTES.get(op, 2) * n * (4 if dtype == "float" else 8) / ns

    triad1m = {th: 3 * 1048576 * 4 / t(f"machine/triad/float/1048576/threads:{th}") for th in (1, 2)}
    L = ["# Kernel benchmarks: tapeloop vs PyTorch vs the machine", ""]
    L += [f"Written by `bash benchmarks/run-kernels.sh` on {datetime.date.today()}: "
          f"{args.rounds} rounds, each running tapeloop's Google Benchmark suite "
          f"(`tapeloop_bench --benchmark_min_time={args.min_time}`) and then "
          f"`benchmarks/pytorch_kernels.py`; every number is the median over the rounds. "
          "Times are wall-clock per call; PyTorch is called from Python with preallocated "
          "outputs, so its small sizes measure mostly its per-call dispatch.", ""]
    L += ["## Machine", ""] + [f"- {line}" for line in machine()]
    share = med(tl, "machine/cpu_share")
    L += [f"- The machine is shared: rounds during which other processes used more than "
          f"{args.max_others} core were run again ({args.attempts} attempts for {args.rounds} "
          f"rounds). In the kept rounds others used {', '.join(f'{o:.2f}' for o in others)} "
          f"cores (tapeloop, PyTorch alternating); two spinning threads got {share:.0%} of "
          "their wall time as CPU (1 = both cores ours).", ""]
    L += ["## Machine limits", "", "| | 1 thread | 2 threads |", "| --- | --- | --- |"]
    for kind, words in (("copy", 2), ("triad", 3)):
        for dtype, n, where in (("float", 1048576, "1M floats per array (the 1M float kernels' size)"),
                                ("double", 1048576, "1M doubles per array (the 1M double kernels' size)"),
                                ("float", 33554432, "32M floats per array, from memory")):
            size = 4 if dtype == "float" else 8
            row = [words * n * size / t(f"machine/{kind}/{dtype}/{n}/threads:{th}") for th in (1, 2)]
            L.append(f"| STREAM {kind}, {where} | {row[0]:.1f} GB/s | {row[1]:.1f} GB/s |")
    sg = [2 * 2048**3 / t(f"machine/sgemm/float/2048/threads:{th}") for th in (1, 2)]
    L += [f"| cblas_sgemm 2048^3 (OpenBLAS) | {sg[0]:.0f} GFLOP/s | {sg[1]:.0f} GFLOP/s |", ""]

    for dtype in ("float", "double"):
        L += [f"## Elementwise kernels and sum, {dtype}", "",
              "Time per call; GB/s counts bytes read + written per element (3 for add/mul, 4 for "
              "tanh_backward, which tapeloop accumulates into the gradient while PyTorch "
              "overwrites, 1 for sum, 2 otherwise). Speedup vs PyTorch = PyTorch time / "
              "tapeloop time, same thread count.", "",
              "| op | n | tapeloop 1 thr | tapeloop 2 thr | 2 thr / 1 thr | GB/s 2 thr | PyTorch 1 thr "
              "| PyTorch 2 thr | vs PyTorch 1 thr | vs PyTorch 2 thr |",
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for op in OPS:
            for n in SIZES:
                a1, a2 = (t(f"kernel/{op}/{dtype}/{n}/threads:{th}") for th in (1, 2))
                b1, b2 = (p(f"kernel/{op}/{dtype}/{n}/threads:{th}") for th in (1, 2))
                L.append(f"| {op} | {n} | {fmt_ns(a1)} | {fmt_ns(a2)} | {a1 / a2:.2f}x | "
                         f"{gbs(op, dtype, n, a2):.1f} | {fmt_ns(b1)} | {fmt_ns(b2)} | "
                         f"{b1 / a1:.1f}x | {b2 / a2:.1f}x |")
        L.append("")

    L += ["## Vector math vs the scalar std:: loop it replaces (1 thread)", "",
          "| function | dtype | n | std:: loop | tapeloop | speedup |", "| --- | --- | --- | --- | --- | --- |"]
    for op in ("exp", "tanh", "sigmoid"):
        for dtype in ("float", "double"):
            for n in SIZES:
                s, k = t(f"std/{op}/{dtype}/{n}/threads:1"), t(f"kernel/{op}/{dtype}/{n}/threads:1")
                L.append(f"| {op} | {dtype} | {n} | {fmt_ns(s)} | {fmt_ns(k)} | {s / k:.1f}x |")
    L.append("")

    L += ["## GEMM at the LSTM shapes of docs/benchmarks/README.md (float)", "",
          "C[m,n] = A[m,k] B[k,n]: x.W is the input projection of all steps (m = B*T), h.U one "
          "step's recurrent product (m = B). `fwd` is the product, `fwdbwd` adds dA += dY B^T and "
          "dB += A^T dY. tapeloop = `matmul` recorded on a tape, then `backward(y, seed)`; cblas = "
          "the same sgemm calls made directly, OpenBLAS running its own threads; PyTorch = "
          "`torch.mm(out=)`, its BLAS (Debian's OpenBLAS) set to the same thread count. `backward` also "
          "zero-fills y's gradient and adds the seed into it, which the direct calls do not do: "
          "the last column takes that measured cost (`gemm/seed`) out.", "",
          "| shape | m,n,k | pass | threads | tapeloop GFLOP/s | cblas GFLOP/s | tapeloop / cblas "
          "| PyTorch GFLOP/s | tapeloop / cblas without seeding |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    gemm_ratios = []
    for name, (m, n, k) in GEMMS.items():
        seed = t(f"gemm/seed/fwdbwd/{name}/0/threads:1")
        for pas, mult in (("fwd", 2), ("fwdbwd", 6)):
            for th in (1, 2):
                suffix = f"{pas}/{name}/0/threads:{th}"
                a, c, q = t(f"gemm/tapeloop/{suffix}"), t(f"gemm/cblas/{suffix}"), p(f"gemm/torch/{suffix}")
                flop = mult * m * n * k
                bare = c / (a - seed) if pas == "fwdbwd" else c / a
                gemm_ratios.append((name, pas, th, bare))
                L.append(f"| {name} | {m},{n},{k} | {pas} | {th} | {flop / a:.1f} | {flop / c:.1f} "
                         f"| {c / a:.1%} | {flop / q:.1f} | {bare:.1%} |")
    L.append("")

    ov = {op: t(f"overhead/{op}/float/1/threads:1") / CHAIN for op in ("mul", "tanh", "floor")}
    rec = {op: t(f"overhead_record/{op}/float/1/threads:1") / CHAIN for op in ("mul", "tanh", "floor")}
    ovp = {op: p(f"overhead/{op}/float/1/threads:1") / CHAIN for op in ("mul", "tanh")}
    L += ["## Per-op overhead", "",
          f"A chain of {CHAIN} operators on a one-element tensor, recorded and backpropagated "
          "(tape cleared each time), per operator. The floor chain records a rule that copies "
          "one number forward and adds one back: what the tape and record() cost per operator.",
          "",
          "| chain | tapeloop record | tapeloop record + backward | PyTorch record + backward "
          "(Python) | ratio |", "| --- | --- | --- | --- | --- |"]
    for op, label in (("mul", "y = y * w"), ("tanh", "y = tanh(y)"), ("floor", "tape floor")):
        torch = f"{ovp[op]:.0f} ns | {ovp[op] / ov[op]:.0f}x" if op in ovp else "- | -"
        L.append(f"| {label} | {rec[op]:.0f} ns | {ov[op]:.0f} ns | {torch} |")
    L.append("")

    # Targets.
    L += ["## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    ew = {op: gbs(op, "float", 1048576, t(f"kernel/{op}/float/1048576/threads:2")) / triad1m[2]
          for op in ("add", "mul", "relu", "exp")}
    worst = min(ew["add"], ew["mul"], ew["relu"])
    L.append(f"| elementwise 1M floats, 2 threads, >= 80% of STREAM triad at the same size "
             f"({triad1m[2]:.1f} GB/s) | add {ew['add']:.0%}, mul {ew['mul']:.0%}, relu "
             f"{ew['relu']:.0%} | {'yes' if worst >= 0.8 else 'no'} |")
    vm = {op: t(f"std/{op}/float/65536/threads:1") / t(f"kernel/{op}/float/65536/threads:1")
          for op in ("tanh", "sigmoid", "exp")}
    L.append(f"| tanh/sigmoid/exp on 64K floats >= 6x the std:: loop, 1 thread | "
             + ", ".join(f"{op} {v:.1f}x" for op, v in vm.items())
             + f" | {'yes' if min(vm.values()) >= 6 else 'no'} |")
    worst_g = min(gemm_ratios, key=lambda r: r[3])
    big = [r for r in gemm_ratios if not r[0].startswith("S")]
    worst_big = min(big, key=lambda r: r[3])
    gap = t("gemm/tapeloop/fwd/S_hU/0/threads:1") - t("gemm/cblas/fwd/S_hU/0/threads:1")
    L.append(f"| GEMM at LSTM shapes >= 95% of direct cblas_sgemm (the products; seeding "
             f"excluded; S_hU: tapeloop takes {gap:.0f} ns more per product, the bookkeeping "
             f"of recording matmul and its two parameter leaves; for M and L tapeloop makes the "
             f"same cblas_sgemm calls, so ratios above 100% show the spread of repeating one "
             f"BLAS call here) | median over the {len(gemm_ratios)} rows "
             f"{statistics.median(r[3] for r in gemm_ratios):.1%}; worst {worst_g[3]:.1%} "
             f"({worst_g[0]} {worst_g[1]}, {worst_g[2]} thr); M and L worst {worst_big[3]:.1%} "
             f"({worst_big[0]} {worst_big[1]}, {worst_big[2]} thr) | "
             f"{'yes' if worst_g[3] >= 0.95 else ('M, L yes; S no' if worst_big[3] >= 0.95 else 'no')} |")
    sp = {f"{op}/{d}": t(f"kernel/{op}/{d}/1048576/threads:1") / t(f"kernel/{op}/{d}/1048576/threads:2")
          for op in OPS for d in ("float", "double")}
    lo = min(sp, key=sp.get)
    stream_sp = {d: t(f"machine/triad/{d}/1048576/threads:1") / t(f"machine/triad/{d}/1048576/threads:2")
                 for d in ("float", "double")}
    below = ", ".join(f"{k} {v:.2f}x" for k, v in sorted(sp.items(), key=lambda kv: kv[1]) if v < 1.7)
    L.append(f"| 1M-element ops, 2 threads >= 1.7x 1 thread | median {statistics.median(sp.values()):.2f}x, "
             f"below 1.7x: {below or 'none'} (STREAM triad at the same size scales "
             f"{stream_sp['float']:.2f}x float, {stream_sp['double']:.2f}x double; a 2048^3 "
             f"sgemm {sg[0] and sg[1] / sg[0]:.2f}x) | "
             f"{'yes' if sp[lo] >= 1.7 else 'no'} |")
    one = sum(t(f"kernel/{op}/{d}/32/threads:1") for op in OPS for d in ("float", "double"))
    two = sum(t(f"kernel/{op}/{d}/32/threads:2") for op in OPS for d in ("float", "double"))
    small = {f"{op}/{d}": t(f"kernel/{op}/{d}/32/threads:2") / t(f"kernel/{op}/{d}/32/threads:1")
             for op in OPS for d in ("float", "double")}
    L.append(f"| 32-element ops, 2 threads no slower than 1 (both run inline, the same code) | "
             f"total time of the 16 kernels, 2 thr / 1 thr: {two / one:.2f} (single kernels "
             f"{min(small.values()):.2f} to {max(small.values()):.2f}: noise of a 10-50 ns "
             f"measurement) | {'yes' if two / one <= 1.05 else 'no'} |")
    L.append(f"| per-op overhead (record + backward, 1 element) <= 50 ns | mul {ov['mul']:.0f} ns, "
             f"tanh {ov['tanh']:.0f} ns (the tape alone: {ov['floor']:.0f} ns) | "
             f"{'yes' if max(ov['mul'], ov['tanh']) <= 50 else 'no'} |")
    L.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(L))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.05)
    parser.add_argument("--max-others", type=float, default=0.1,
                        help="CPU cores other processes may use during a kept round")
    args = parser.parse_args()
    tl, pt, others = [], [], []
    attempts = 0
    with tempfile.TemporaryDirectory() as tmp:
        # A round whose runs shared the machine with other work (> 0.1 core on average) is
        # run again, up to 3x the rounds in all; the report says how many were set aside.
        while len(tl) < args.rounds and attempts < 3 * args.rounds:
            attempts += 1
            out_t = os.path.join(tmp, f"tapeloop{attempts}.json")
            busy_t = run_measured([args.bench, f"--benchmark_min_time={args.min_time}",
                                   "--benchmark_format=json", f"--benchmark_out={out_t}"])
            out_p = os.path.join(tmp, f"torch{attempts}.json")
            busy_p = run_measured(["/usr/bin/python3", os.path.join(HERE, "pytorch_kernels.py"),
                                   "--out", out_p, "--min-time", str(args.min_time)])
            quiet = max(busy_t, busy_p) <= args.max_others
            remaining = 3 * args.rounds - attempts
            if quiet or remaining < args.rounds - len(tl):  # keep it if it must fill the quota
                tl.append(load(out_t))
                pt.append(load(out_p))
                others += [busy_t, busy_p]
            print(f"attempt {attempts}: others used {busy_t:.2f} and {busy_p:.2f} cores"
                  f"{'' if quiet else ' (busy)'}; {len(tl)}/{args.rounds} rounds kept")
    args.attempts = attempts
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    report(tl, pt, others, args)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
