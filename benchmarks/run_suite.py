#!/usr/bin/python3
"""The benchmark suite: tapeloop's RNN, LSTM and GRU against oneDNN and PyTorch in one run.

Run by benchmarks/run-suite.sh, which installs and builds what it needs. Each peer's outputs
and gradients are checked against tapeloop's on the same weights before any of its times
count; then every system is measured in interleaved rounds (tapeloop, oneDNN, PyTorch, one
after the other for each setting), and the report — markdown with SVG charts — is written with
medians, spreads, GFLOP/s, the share of the machine's sgemm peak and the ratios to each peer.

  /usr/bin/python3 benchmarks/run_suite.py --build build --out docs/benchmarks [--quick]
      [--rounds N] [--newest-torch PYTHON]
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

CONFIGS = {"S": (1, 100, 16, 32), "M": (32, 50, 128, 256), "L": (64, 100, 512, 512)}
GATES = {"lstm": 4, "gru": 3, "rnn": 1}
MODES = ["lstm", "gru", "rnn"]


def flops(mode, config, task):
    """Multiply-adds x 2 of the GEMMs: 2 B T G H (I + H) forward, three times that to train."""
    b, t, i, h = CONFIGS[config]
    forward = 2.0 * b * t * GATES[mode] * h * (i + h)
    return forward if task == "inference" else 3.0 * forward


class Runner:
    """Runs the programs, collecting their JSON lines; a failing program is reported, not fatal."""

    def __init__(self, build, log):
        self.bench = os.path.join(build, "benchmarks")
        self.log = log
        self.results = []  # dicts with "system" added
        self.failures = []

    def run(self, system, command, env=None):
        full_env = dict(os.environ)
        full_env.update(env or {})
        started = time.time()
        proc = subprocess.run(command, capture_output=True, text=True, env=full_env)
        self.log.write("$ %s  (%.1f s, exit %d)\n%s%s" % (" ".join(command), time.time() - started,
                                                         proc.returncode, proc.stdout, proc.stderr))
        self.log.flush()
        if proc.returncode != 0:
            self.failures.append({"system": system, "command": " ".join(command),
                                  "stderr": proc.stderr.strip().splitlines()[-3:]})
            return []
        lines = []
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                record["system"] = system
                lines.append(record)
        self.results.extend(lines)
        return lines


def machine_description():
    cpu = "unknown CPU"
    flags = set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            if line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    kind = "AVX-512" if "avx512f" in flags else ("AVX2 + FMA" if "avx2" in flags else "no AVX2")
    return {"cpu": cpu, "isa_kind": kind, "cpus": os.cpu_count(), "kernel": platform.release()}


def choose_openblas_core(runner):
    """OpenBLAS picks its kernels for the CPU when it is loaded, unless OPENBLAS_CORETYPE names
    others. A machine may set that for its own reasons (OPENBLAS_CORETYPE=Haswell on an AVX-512
    CPU halves sgemm: 119 against 232 GFLOP/s on AMD Zen 5, docs/library.md); the suite
    measures the machine, so every process it starts — tapeloop and Debian's PyTorch, both on
    OpenBLAS — runs without it, and the report says so. Returns that note, or None."""
    forced = os.environ.pop("OPENBLAS_CORETYPE", None)
    if forced is None:
        return None
    info = runner.run("build", [os.path.join(runner.bench, "recurrent_bench"), "--build-info"])
    blas = info[0].get("blas", "?") if info else "?"
    return ("The environment set OPENBLAS_CORETYPE=%s; this run left the choice to OpenBLAS in "
            "every process (%s)." % (forced, blas))


def check_peers(runner, torches, configs, dump_dir):
    """Correctness before speed: PyTorch against tapeloop's dumped step for every mode, config,
    cell and length setting; oneDNN checks itself inside onednn_rnn before it times anything
    (and exits 1 on a mismatch). Returns {(system, mode): ok}."""
    ok = {}
    for mode in MODES:
        for config in configs:
            for lengths in ["full", "uniform"]:
                for cell in ["fused", "generic"]:
                    dump = os.path.join(dump_dir, "%s-%s-%s-%s.json" % (mode, config, lengths, cell))
                    runner.run("dump", [os.path.join(runner.bench, "recurrent_bench"),
                                               "--mode", mode, "--cell", cell, "--lengths", lengths,
                                               "--dump", dump, config])
                    for name, python in torches:
                        proc = subprocess.run([python, "benchmarks/pytorch_rnn.py", "--check", dump,
                                               "--cell", cell], capture_output=True, text=True)
                        runner.log.write("check %s %s: %s%s" % (name, dump, proc.stdout, proc.stderr))
                        good = proc.returncode == 0 and os.path.exists(dump)
                        ok[(name, mode)] = ok.get((name, mode), True) and good
                        if not good:
                            runner.failures.append({"system": name, "command": "check " + dump,
                                                    "stderr": proc.stderr.strip().splitlines()[-3:]})
                    if os.path.exists(dump):
                        os.remove(dump)
    return ok


def measure_round(runner, plan, torches, has_onednn, torch_ok):
    bench = os.path.join(runner.bench, "recurrent_bench")
    onednn = os.path.join(runner.bench, "onednn_rnn")
    for threads in plan["threads"]:
        for mode in MODES:
            configs = plan["configs"][mode]
            for config in configs:
                reps = str(plan["repeats"][config])
                common = ["--mode", mode, "--threads", str(threads), "--repeats", reps, config]
                # --quick measures only the fused training step on L: its other runs are most
                # of the suite's time.
                everything = not (plan["quick"] and config == "L")
                runner.run("tapeloop", [bench, "--task", "train", "--cell", "fused"] + common)
                if has_onednn:
                    runner.run("onednn", [onednn, "--task", "train"] + common,
                               env={"OMP_NUM_THREADS": str(threads)})
                for name, python in torches:
                    if not torch_ok.get((name, mode), False):
                        continue
                    for setting, env in torch_settings(threads):
                        if setting and not everything:
                            continue
                        for record in runner.run(name + setting, [python, "benchmarks/pytorch_rnn.py",
                                                                  "--task", "train", "--cell", "fused",
                                                                  "--threads", env["threads"]] +
                                                 common[:2] + ["--repeats", reps, config],
                                                 env=env["env"]):
                            record["threads"] = threads
                if not everything:
                    continue
                runner.run("tapeloop", [bench, "--task", "train", "--cell", "generic"] + common)
                for name, python in torches[:1]:
                    if torch_ok.get((name, mode), False):
                        runner.run(name, [python, "benchmarks/pytorch_rnn.py", "--task", "train",
                                          "--cell", "generic"] + common,
                                   env={"OMP_NUM_THREADS": str(threads)})
                runner.run("tapeloop", [bench, "--task", "inference", "--cell", "fused"] + common)
                if has_onednn:
                    runner.run("onednn", [onednn, "--task", "inference"] + common,
                               env={"OMP_NUM_THREADS": str(threads)})
                for name, python in torches:
                    if torch_ok.get((name, mode), False):
                        runner.run(name, [python, "benchmarks/pytorch_rnn.py", "--task",
                                          "inference", "--cell", "fused"] + common,
                                   env={"OMP_NUM_THREADS": str(threads)})
                if config != "S":
                    runner.run("tapeloop", [bench, "--task", "train", "--cell", "fused",
                                            "--lengths", "uniform"] + common)
                runner.run("tapeloop", [bench, "--task", "optimizer", "--cell", "fused"] + common)


def torch_settings(threads):
    """PyTorch on 2 cores two ways, both measured, the faster one reported: its own threads,
    and one torch thread with the BLAS on both cores (Debian's build calls OpenBLAS, whose own
    threads fight an intra-op pool on 2 cores)."""
    if threads == 1:
        return [("", {"threads": "1", "env": {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}})]
    return [("", {"threads": str(threads), "env": {"OMP_NUM_THREADS": str(threads)}}),
            ("+blas", {"threads": "1", "env": {"OMP_NUM_THREADS": "1",
                                                "OPENBLAS_NUM_THREADS": str(threads)}})]


def sgemm_peak(runner):
    lines = []
    proc = subprocess.run([os.path.join(runner.bench, "tapeloop_bench"),
                           "--benchmark_filter=machine/sgemm", "--benchmark_min_time=0.2",
                           "--benchmark_repetitions=3", "--benchmark_format=json"],
                          capture_output=True, text=True)
    if proc.returncode == 0:
        # Each repetition is one entry; the report takes the best: a limit of the machine.
        for b in json.loads(proc.stdout)["benchmarks"]:
            if b.get("run_type") == "aggregate":
                continue
            threads = int(b["name"].split("threads:")[1].split("/")[0])
            lines.append({"system": "sgemm", "threads": threads, "gflops": b["FLOPS"] / 1e9})
    runner.results.extend(lines)


# ---------------------------------------------------------------------------------------------
# The report.


def collect(results):
    """{(system, mode, task, cell, config, threads, lengths): [per-run medians]}, and all times."""
    runs = {}
    for r in results:
        if r["system"] in ("sgemm", "build", "dump"):
            continue
        cell = "fused" if r["system"] == "onednn" else r.get("cell", "fused")
        key = (r["system"], r["mode"], r["task"], cell, r["config"],
               int(r["threads"]), r.get("lengths", "full"))
        runs.setdefault(key, []).append(r)
    return runs


def median_of(runs, key):
    """Median over every timed step of every run of `key`, and the spread of the per-run
    medians (min, max); None when it was not measured."""
    if key not in runs:
        return None
    times = [t for r in runs[key] for t in r["times_ms"]]
    per_run = [r["median_ms"] for r in runs[key]]
    return {"median": statistics.median(times), "low": min(per_run), "high": max(per_run)}


def best_torch(runs, name, mode, task, cell, config, threads):
    options = [median_of(runs, (name + s, mode, task, cell, config, threads, "full"))
               for s in ["", "+blas"]]
    options = [o for o in options if o]
    return min(options, key=lambda o: o["median"]) if options else None


def fmt_ms(m):
    if m is None:
        return "-"
    v = m["median"]
    digits = 3 if v < 1 else (2 if v < 10 else (1 if v < 1000 else 0))
    spread = "" if m["low"] == m["high"] else " (%.*f–%.*f)" % (digits, m["low"], digits, m["high"])
    return "%.*f%s" % (digits, v, spread)


def fmt_mib(v):
    return "-" if v is None else "%.1f" % v


def ratio(a, b):
    if a is None or b is None:
        return None
    return a["median"] / b["median"]


def fmt_ratio(r, target=None):
    if r is None:
        return "-"
    text = "%.2f×" % r
    if target is not None:
        text += " ✓" if r <= target else " ✗"
    return text


def bar_chart(path, title, groups, series, values, ylabel, line=None):
    """A grouped bar chart as SVG (matplotlib); values[s][g] may be None."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / max(1, len(series))
    for i, s in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [values[s][g] if values[s][g] is not None else 0 for g in range(len(groups))]
        ax.bar(xs, ys, width, label=s)
    if line is not None:
        ax.axhline(line, color="black", linewidth=0.8, linestyle="--")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="svg")
    plt.close(fig)


def write_report(out_dir, results, info, plan, torch_ok, failures, command, elapsed):
    runs = collect(results)
    peak = {}
    for r in results:
        if r["system"] == "sgemm":
            peak.setdefault(r["threads"], []).append(r["gflops"])
    peak = {t: max(v) for t, v in peak.items()}
    torch_names = [n for n, _ in info["torches"]]
    lines = []
    w = lines.append
    w("# Benchmark suite: tapeloop vs oneDNN vs PyTorch")
    w("")
    w("Produced by `%s` in %.0f min (%d round%s, every system measured in turn within each "
      "round; medians over every timed step, in parentheses the lowest and highest per-run "
      "median)." % (command, elapsed / 60, plan["rounds"], "" if plan["rounds"] == 1 else "s"))
    w("")
    m = info["machine"]
    w("**Machine:** %s, %s logical CPUs, **%s** (Linux %s). tapeloop: kernels %s, %s. "
      "oneDNN %s (%s runtime, ISA %s). PyTorch: %s." % (
          m["cpu"], m["cpus"], m["isa_kind"], m["kernel"], info["tapeloop"].get("kernel_isa", "?"),
          info["tapeloop"].get("blas", "?"), info["onednn"].get("onednn", "not built"),
          info["onednn"].get("cpu_runtime", "-"), info["onednn"].get("cpu_isa", "-"),
          ", ".join("%s = torch %s" % (n, v) for n, v in info["torch_versions"].items()) or "none"))
    w("")
    for note in info["notes"]:
        w("- " + note)
    if info["notes"]:
        w("")
    w("**sgemm peak** (OpenBLAS, 2048³, the best of every repetition in this run): " + ", ".join(
        "%.0f GFLOP/s on %d thread%s" % (peak[t], t, "" if t == 1 else "s") for t in sorted(peak)))
    w("")
    w("A training step (docs/benchmarks/README.md): forward over the whole sequence, MSE of all "
      "outputs against a fixed random target, backward to every parameter and to the input; "
      "one layer, unidirectional, float32, configs S (B1 T100 I16 H32), M (32, 50, 128, 256), "
      "L (64, 100, 512, 512). GFLOP/s counts the GEMMs, 3 × 2·B·T·G·H·(I+H) (G = 4, 3, 1 "
      "gates). Ratios are time / time: below 1 tapeloop is faster. Where a target is missed, "
      "docs/benchmarks/README.md (\"The targets missed, and why\") says by how much and shows "
      "the profile that says why.")
    w("")
    w("**Correctness first.** Before its times count, each peer ran the same training step on "
      "tapeloop's weights and data: oneDNN (inside `onednn_rnn`, every run) and PyTorch "
      "(`pytorch_rnn.py --check` on a dump of tapeloop's step, fused and generic cells, full "
      "and uniform lengths) agree on the output, the loss and every gradient to "
      "max|a−b| / max|b| < 1e-3. " + ("Checks that failed: " + "; ".join(
          "%s %s" % k for k, v in torch_ok.items() if not v) if not all(torch_ok.values())
          else "Every check passed."))
    w("")

    chart_dir = os.path.join(out_dir, "suite")
    os.makedirs(chart_dir, exist_ok=True)
    for mode in MODES:
        w("## %s" % mode.upper())
        w("")
        w("### Training step")
        w("")
        header = ["config", "threads", "tapeloop ms", "GFLOP/s", "% of sgemm peak", "oneDNN ms",
                  "tapeloop / oneDNN (target ≤ 1.0)"]
        for n in torch_names:
            header += ["%s ms" % n, "%s / tapeloop" % n]
        header += ["tapeloop generic ms", "generic / fused (target ≤ 1.1)"]
        if torch_names:
            header += ["%s generic ms" % torch_names[0]]
        w("| " + " | ".join(header) + " |")
        w("|" + " --- |" * len(header))
        chart = {"tapeloop / oneDNN": [], "generic / fused": []}
        groups = []
        for config in plan["configs"][mode]:
            for threads in plan["threads"]:
                key = lambda system, cell="fused", task="train": (system, mode, task, cell, config,
                                                                  threads, "full")
                t = median_of(runs, key("tapeloop"))
                d = median_of(runs, key("onednn"))
                g = median_of(runs, key("tapeloop", "generic"))
                row = [config, str(threads), fmt_ms(t)]
                if t:
                    gf = flops(mode, config, "train") / t["median"] / 1e6
                    row += ["%.1f" % gf, "%.0f%%" % (100 * gf / peak[threads]) if threads in peak
                            else "-"]
                else:
                    row += ["-", "-"]
                row += [fmt_ms(d), fmt_ratio(ratio(t, d), 1.0)]
                for n in torch_names:
                    p = best_torch(runs, n, mode, "train", "fused", config, threads)
                    row += [fmt_ms(p), fmt_ratio(ratio(p, t))]
                row += [fmt_ms(g), fmt_ratio(ratio(g, t), 1.1)]
                if torch_names:
                    row += [fmt_ms(median_of(runs, (torch_names[0], mode, "train", "generic",
                                                    config, threads, "full")))]
                w("| " + " | ".join(row) + " |")
                groups.append("%s/%d" % (config, threads))
                chart["tapeloop / oneDNN"].append(ratio(t, d))
                chart["generic / fused"].append(ratio(g, t))
        w("")
        svg = "%s-train.svg" % mode
        bar_chart(os.path.join(chart_dir, svg), "%s training step: time ratios (config/threads)"
                  % mode.upper(), groups, list(chart), chart, "ratio", line=1.0)
        w("![%s training ratios](suite/%s)" % (mode, svg))
        w("")
        w("### Peak memory of a training step")
        w("")
        w("Resident memory the training steps added to what each process held before them "
          "(MiB; VmHWM after the steps minus VmRSS before, 1 thread): activations, gradients, "
          "workspaces. Target: tapeloop ≤ PyTorch.")
        w("")
        header = ["config", "tapeloop MiB", "oneDNN MiB"] + ["%s MiB" % n for n in torch_names]
        if torch_names:
            header.append("tapeloop / %s (target ≤ 1.0)" % torch_names[0])
        w("| " + " | ".join(header) + " |")
        w("|" + " --- |" * len(header))
        for config in plan["configs"][mode]:
            def peak_of(system, cell="fused"):
                values = [r.get("peak_mib") for r in runs.get((system, mode, "train", cell, config,
                                                                1, "full"), [])]
                values = [v for v in values if v is not None]
                return statistics.median(values) if values else None
            row = [config, fmt_mib(peak_of("tapeloop")), fmt_mib(peak_of("onednn"))]
            row += [fmt_mib(peak_of(n)) for n in torch_names]
            if torch_names:
                t, p = peak_of("tapeloop"), peak_of(torch_names[0])
                row.append(fmt_ratio(t / p, 1.0) if t is not None and p else "-")
            w("| " + " | ".join(row) + " |")
        w("")
        w("### Inference (forward only) and the optimizer step")
        w("")
        header = ["config", "threads", "tapeloop ms", "oneDNN ms", "tapeloop / oneDNN"]
        header += ["%s ms" % n for n in torch_names]
        header += ["Adam step ms (tapeloop)"]
        w("| " + " | ".join(header) + " |")
        w("|" + " --- |" * len(header))
        for config in plan["configs"][mode]:
            for threads in plan["threads"]:
                t = median_of(runs, ("tapeloop", mode, "inference", "fused", config, threads, "full"))
                d = median_of(runs, ("onednn", mode, "inference", "fused", config, threads, "full"))
                row = [config, str(threads), fmt_ms(t), fmt_ms(d), fmt_ratio(ratio(t, d))]
                for n in torch_names:
                    row.append(fmt_ms(median_of(runs, (n, mode, "inference", "fused", config,
                                                       threads, "full"))))
                row.append(fmt_ms(median_of(runs, ("tapeloop", mode, "optimizer", "fused", config,
                                                   threads, "full"))))
                w("| " + " | ".join(row) + " |")
        w("")
        w("### Variable-length batches")
        w("")
        w("Lengths uniform in [T/2, T] (the same draw for every system); target: at most "
          "(mean length / T) × the full-length time + 10%.")
        w("")
        w("| config | threads | full ms | uniform ms | uniform / full | mean length / T + 10% |")
        w("| --- | --- | --- | --- | --- | --- |")
        for config in plan["configs"][mode]:
            if config == "S":
                continue
            b, steps, _, _ = CONFIGS[config]
            for threads in plan["threads"]:
                full = median_of(runs, ("tapeloop", mode, "train", "fused", config, threads, "full"))
                uni = median_of(runs, ("tapeloop", mode, "train", "fused", config, threads,
                                       "uniform"))
                share = info["mean_length_share"].get(config)
                target = "-" if share is None else "%.2f" % (share + 0.10)
                r = ratio(uni, full)
                w("| %s | %d | %s | %s | %s | %s |" % (config, threads, fmt_ms(full), fmt_ms(uni),
                                                       fmt_ratio(r), target))
        w("")

    if failures:
        w("## Runs that failed")
        w("")
        for f in failures:
            w("- %s: `%s`: %s" % (f["system"], f["command"], " / ".join(f["stderr"])))
        w("")
    w("Raw results (one JSON object per run) are in `suite/results.jsonl`.")
    with open(os.path.join(out_dir, "suite.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(chart_dir, "results.jsonl"), "w") as f:
        for r in results:
            f.write(json.dumps(r) + "\n")


def mean_length_share(config):
    """The mean of the uniform lengths every system draws (pytorch_rnn.py's copy of tapeloop's
    Generator(1)) over T."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pytorch_rnn import sequence_lengths  # imports torch: run with a Python that has it
    b, steps, _, _ = CONFIGS[config]
    lengths = sequence_lengths(b, steps)
    return sum(lengths) / len(lengths) / steps


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default="build")
    parser.add_argument("--out", default="docs/benchmarks")
    parser.add_argument("--quick", action="store_true",
                        help="one round, fewer repeats, L for the LSTM only: under 5 minutes")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--newest-torch", metavar="PYTHON",
                        help="a Python with the newest PyTorch from the package registry")
    parser.add_argument("--command", default="bash benchmarks/run-suite.sh")
    args = parser.parse_args()
    started = time.time()
    os.makedirs(args.out, exist_ok=True)

    plan = {"threads": [1, 2], "rounds": 1 if args.quick else args.rounds, "quick": args.quick}
    if args.quick:
        plan["configs"] = {"lstm": ["S", "M", "L"], "gru": ["S", "M"], "rnn": ["S", "M"]}
        plan["repeats"] = {"S": 15, "M": 5, "L": 2}
    else:
        plan["configs"] = {mode: ["S", "M", "L"] for mode in MODES}
        plan["repeats"] = {"S": 25, "M": 9, "L": 3}

    log_path = os.path.join(args.out, "suite", "log.txt")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    with open(log_path, "w") as log:
        runner = Runner(args.build, log)
        info = {"machine": machine_description(), "notes": [], "torch_versions": {},
                "mean_length_share": {c: mean_length_share(c) for c in CONFIGS}}
        core_note = choose_openblas_core(runner)
        if core_note:
            info["notes"].append(core_note)
        tl = runner.run("build", [os.path.join(runner.bench, "recurrent_bench"), "--build-info"])
        info["tapeloop"] = tl[0] if tl else {}
        has_onednn = os.path.exists(os.path.join(runner.bench, "onednn_rnn"))
        info["onednn"] = {}
        if has_onednn:
            od = runner.run("build", [os.path.join(runner.bench, "onednn_rnn"), "--build-info"])
            info["onednn"] = od[0] if od else {}
        else:
            info["notes"].append("oneDNN not measured: `onednn_rnn` was not built (needs "
                                 "libdnnl-dev).")
        torches = []
        for name, python in [("PyTorch", "/usr/bin/python3"), ("PyTorch-newest", args.newest_torch)]:
            if not python:
                continue
            proc = subprocess.run([python, "benchmarks/pytorch_rnn.py", "--build-info"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                info["notes"].append("%s not measured: `%s` cannot import torch." % (name, python))
                continue
            torches.append((name, python))
            info["torch_versions"][name] = json.loads(proc.stdout.splitlines()[0])["torch_version"]
        if not args.newest_torch:
            info["notes"].append("The newest PyTorch from the package registry was not measured "
                                 "(run-suite.sh installs it unless --quick or offline).")
        info["torches"] = torches

        with tempfile.TemporaryDirectory() as dumps:
            check_configs = ["S"] if args.quick else ["S", "M"]
            torch_ok = check_peers(runner, torches, check_configs, dumps)
        for round_index in range(plan["rounds"]):
            print("run_suite: round %d of %d" % (round_index + 1, plan["rounds"]), flush=True)
            sgemm_peak(runner)
            measure_round(runner, plan, torches, has_onednn, torch_ok)
        write_report(args.out, runner.results, info, plan, torch_ok, runner.failures,
                     args.command + (" --quick" if args.quick else ""), time.time() - started)
    print("run_suite: wrote %s" % os.path.join(args.out, "suite.md"))
    return 1 if runner.failures else 0


if __name__ == "__main__":
    sys.exit(main())
