"""PyTorch's CPU ops at the sizes of tapeloop's kernel benchmarks (benchmarks/bench_*.cpp).

Run with Debian's interpreter, which has python3-torch:
    /usr/bin/python3 benchmarks/pytorch_kernels.py --out torch.json [--min-time 0.05]
Writes {"benchmarks": [{"name": ..., "real_time": ns per iteration}, ...]} with the same names
as tapeloop's suite, so benchmarks/run_kernels.py can pair them. Outputs are preallocated
(out=) wherever PyTorch allows it, so the kernels are timed rather than the allocator; every
call still pays PyTorch's per-call dispatch from Python, which dominates at 32 elements.
"""

import argparse
import ctypes
import json
import time

import torch

SIZES = [32, 1024, 65536, 1048576]
DTYPES = {"float": torch.float32, "double": torch.float64}
# C[m,n] = A[m,k] B[k,n] at the LSTM shapes of configs S, M, L (see bench_gemm.cpp).
GEMMS = {"S_xW": (100, 128, 16), "S_hU": (1, 128, 32), "M_xW": (1600, 1024, 128),
         "M_hU": (32, 1024, 256), "L_xW": (6400, 2048, 512), "L_hU": (64, 2048, 512)}
CHAIN = 10000


def time_per_call(fn, min_time):
    """Seconds per call: calls are batched until a batch lasts min_time; median of 3 batches."""
    fn()
    reps = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        elapsed = time.perf_counter() - t0
        if elapsed >= min_time:
            break
        reps *= max(2, int(min_time / max(elapsed, 1e-9) * 1.2))
    batches = []
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        batches.append((time.perf_counter() - t0) / reps)
    return sorted(batches)[1]


def kernel_fn(op, n, dtype):
    gen = torch.Generator().manual_seed(1)
    a = torch.rand(n, dtype=dtype, generator=gen) * 6 - 3
    b = torch.rand(n, dtype=dtype, generator=gen) * 1.5 + 0.5
    g = torch.rand(n, dtype=dtype, generator=gen) * 2 - 1
    y = torch.empty(n, dtype=dtype)
    t = torch.tanh(a)
    s = torch.empty((), dtype=dtype)
    return {
        "add": lambda: torch.add(a, b, out=y),
        "mul": lambda: torch.mul(a, b, out=y),
        "exp": lambda: torch.exp(a, out=y),
        "tanh": lambda: torch.tanh(a, out=y),
        "sigmoid": lambda: torch.sigmoid(a, out=y),
        "relu": lambda: torch.clamp_min(a, 0.0, out=y),  # what torch.relu calls
        # PyTorch's tanh backward writes g (1 - y^2); tapeloop's adds it into the gradient.
        "tanh_backward": lambda: torch.ops.aten.tanh_backward.grad_input(g, t, grad_input=y),
        "sum": lambda: torch.sum(a, 0, out=s),
    }[op]


def gemm_fn(shape, backward):
    m, n, k = shape
    a, b = torch.randn(m, k), torch.randn(k, n)
    y, g = torch.empty(m, n), torch.randn(m, n)
    ga, gb = torch.empty(m, k), torch.empty(k, n)

    def run():
        torch.mm(a, b, out=y)
        if backward:  # the products of matmul's backward, as tapeloop and cblas run them
            torch.mm(g, b.t(), out=ga)
            torch.mm(a.t(), g, out=gb)
    return run


def chain_fn(binary):
    x = torch.full((1,), 0.5, requires_grad=True)
    w = torch.ones(1, requires_grad=True)

    def run():
        y = x
        for _ in range(CHAIN):
            y = y * w if binary else torch.tanh(y)
        y.backward()
    return run


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--min-time", type=float, default=0.05)
    args = parser.parse_args()
    results = []

    def record(name, seconds):
        results.append({"name": name, "real_time": seconds * 1e9, "time_unit": "ns"})

    # PyTorch's GEMMs go to the system BLAS (Debian: OpenBLAS), whose own threads
    # torch.set_num_threads does not limit: set them too, or "1 thread" GEMMs use both cores.
    try:
        blas = ctypes.CDLL("libblas.so.3").openblas_set_num_threads
    except (OSError, AttributeError):
        blas = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        if blas is not None:
            blas(threads)
        for op in ("add", "mul", "exp", "tanh", "sigmoid", "relu", "tanh_backward", "sum"):
            for n in SIZES:
                for dname, dtype in DTYPES.items():
                    record(f"kernel/{op}/{dname}/{n}/threads:{threads}",
                           time_per_call(kernel_fn(op, n, dtype), args.min_time))
        for name, shape in GEMMS.items():
            for backward in (False, True):
                pass_name = "fwdbwd" if backward else "fwd"
                record(f"gemm/torch/{pass_name}/{name}/0/threads:{threads}",
                       time_per_call(gemm_fn(shape, backward), args.min_time))
    torch.set_num_threads(1)
    for op, binary in (("mul", True), ("tanh", False)):
        record(f"overhead/{op}/float/1/threads:1",
               time_per_call(chain_fn(binary), args.min_time))  # per chain of CHAIN ops
    meta = {"torch": torch.__version__, "blas_threads_set": blas is not None,
            "parallel": torch.__config__.parallel_info().split("\n")[:4]}
    with open(args.out, "w") as f:
        json.dump({"context": meta, "benchmarks": results}, f, indent=1)


if __name__ == "__main__":
    main()
