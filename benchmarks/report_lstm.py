#!/usr/bin/python3
"""Turns the JSON lines of benchmarks/run-lstm.sh into docs/benchmarks/lstm.md."""
import json
import platform
import statistics
import subprocess
import sys

CONFIGS = {"S": (1, 100, 16, 32), "M": (32, 50, 128, 256), "L": (64, 100, 512, 512)}


def main():
    path, rounds = sys.argv[1], sys.argv[2]
    times, build = {}, {}
    for line in open(path):
        r = json.loads(line)
        if r["system"] == "build":
            build = r
            continue
        times.setdefault((r["system"], r["config"], r["threads"]), []).extend(r["times_ms"])
    model = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                           capture_output=True, text=True).stdout.strip()
    print("# LSTM training step: tapeloop vs PyTorch\n")
    print("Produced by `bash benchmarks/run-lstm.sh %s` (%s rounds, each measuring tapeloop and "
          "PyTorch alternately on every configuration and thread count; medians over all "
          "measured steps)." % (rounds, rounds))
    print("Machine: %s, %s, %d logical CPUs; PyTorch from Debian's python3-torch.\n" % (
        model or platform.processor(), platform.platform(), __import__("os").cpu_count()))
    avx512 = " avx512f" in open("/proc/cpuinfo").read()
    print("CPU kind: %s. tapeloop's kernels built for %s; BLAS: %s.\n" % (
        "AVX-512" if avx512 else "AVX2 + FMA only (no AVX-512)", build.get("kernel_isa", "?"),
        build.get("blas", "?")))
    print("A training step (shared/BENCHMARKS.md): forward over the whole sequence, MSE of all "
          "outputs against a fixed random target, backward to every parameter and the input; "
          "one layer, unidirectional, float32. GFLOP/s counts 3 x 2·B·T·4H·(I+H).\n")
    peak = {t: statistics.median(times.get(("sgemm", "peak", t), [float("nan")])) for t in (1, 2)}
    print("sgemm peak in the same run (2048^3, OpenBLAS): %.0f GFLOP/s on 1 thread, %.0f on 2.\n"
          % (peak[1], peak[2]))
    print("PyTorch 2 thr = `torch.set_num_threads(2)`; PyTorch best 2 = one torch thread with "
          "OpenBLAS on 2 threads (`OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2`), its fastest "
          "2-core setup here. Ratios are PyTorch time / tapeloop time (above 1: tapeloop "
          "faster).\n")
    print("| config (B, T, I, H) | threads | tapeloop ms | PyTorch ms | PyTorch / tapeloop | "
          "PyTorch best 2 ms | PyTorch best 2 / tapeloop | tapeloop GFLOP/s | % of sgemm peak |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for config, (b, t, i, h) in CONFIGS.items():
        for threads in (1, 2):
            ours = times.get(("tapeloop", config, threads))
            theirs = times.get(("pytorch", config, threads))
            if not ours or not theirs:
                continue
            mo, mt = statistics.median(ours), statistics.median(theirs)
            best = times.get(("pytorch-blas2", config, threads))
            mb = statistics.median(best) if best else None
            flops = 3 * 2 * b * t * 4 * h * (i + h)
            gflops = flops / (mo * 1e-3) / 1e9
            print("| %s (%d, %d, %d, %d) | %d | %.2f | %.2f | %.2fx | %s | %s | %.1f | %.0f%% |" % (
                config, b, t, i, h, threads, mo, mt, mt / mo,
                "%.2f" % mb if mb else "-", "%.2fx" % (mb / mo) if mb else "-", gflops,
                100 * gflops / peak[threads]))
    print("""
How tapeloop runs it: `models::LSTM` (the layer of docs/recurrent.md) on a general tape; the
input projection of all steps is one GEMM, scan unrolls one step per time step — the
recurrent product (`RecurrentLinear`: one GEMM per step forward and one for dh backward, the
weight's gradient as one GEMM over all steps) and `lstm_cell_fused(gi, gh, c)` (one vectorized
node). A second thread splits the GEMMs into blocks and the cell kernels into row blocks.

Where the time goes (perf, M on 1 thread): ~75% in OpenBLAS (sgemm kernel ~60%, packing ~14%:
every per-step product packs W_hh again, which OpenBLAS's API cannot avoid), ~9% in the cell
kernels, the rest memset/memcpy of gradient buffers and the tape. PyTorch's 2-thread rows are
its intra-op pool fighting OpenBLAS's own threads on 2 cores, hence the best-2 column.""")


if __name__ == "__main__":
    main()
