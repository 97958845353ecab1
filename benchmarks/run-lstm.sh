#!/usr/bin/env bash
# Measures the LSTM training step of tapeloop and PyTorch on configurations S, M, L, on 1 and 2
# threads, interleaved in one run, and writes docs/benchmarks/lstm.md.
#   bash benchmarks/run-lstm.sh [ROUNDS]   (default 3 rounds of each pair; medians over all)
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-3}
bash scripts/install-deps.sh
dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "ok installed" || {
  echo "installing python3-torch (the peer being measured)"
  ${SUDO:-$( [ "$(id -u)" -eq 0 ] || echo sudo)} apt-get install -y -q python3-torch >/dev/null
}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON >/dev/null
cmake --build build -j "$(nproc)" --target lstm_train tapeloop_bench >/dev/null
RESULTS=$(mktemp)
./build/benchmarks/lstm_train --build-info | sed 's/^{/{"system": "build", /' >>"$RESULTS"
for round in $(seq "$ROUNDS"); do
  # The machine's sgemm peak in this round: the yardstick for GFLOP/s.
  ./build/benchmarks/tapeloop_bench --benchmark_filter='machine/sgemm' --benchmark_min_time=0.1 \
    --benchmark_format=json 2>/dev/null | /usr/bin/python3 -c '
import json, sys
for b in json.load(sys.stdin)["benchmarks"]:
    t = int(b["name"].split("threads:")[1].split("/")[0])
    print(json.dumps({"system": "sgemm", "config": "peak", "threads": t, "times_ms": [b["FLOPS"] / 1e9]}))
' >>"$RESULTS"
  for threads in 1 2; do
    for config in S M L; do
      repeats=$([ "$config" = L ] && echo 5 || echo 15)
      ./build/benchmarks/lstm_train --threads "$threads" --repeats "$repeats" "$config" |
        sed 's/^{/{"system": "tapeloop", /' >>"$RESULTS"
      OMP_NUM_THREADS=$threads /usr/bin/python3 benchmarks/pytorch_lstm.py --threads "$threads" \
        --repeats "$repeats" "$config" | sed 's/^{/{"system": "pytorch", /' >>"$RESULTS"
      if [ "$threads" = 2 ]; then
        # PyTorch's best use of 2 cores here: one intra-op thread, OpenBLAS on both.
        OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=2 /usr/bin/python3 benchmarks/pytorch_lstm.py \
          --threads 1 --repeats "$repeats" "$config" |
          sed 's/^{/{"system": "pytorch-blas2", /; s/"threads": 1/"threads": 2/' >>"$RESULTS"
      fi
    done
  done
done
/usr/bin/python3 benchmarks/report_lstm.py "$RESULTS" "$ROUNDS" >docs/benchmarks/lstm.md
rm -f "$RESULTS"
cat docs/benchmarks/lstm.md
