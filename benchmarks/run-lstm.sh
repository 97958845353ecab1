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
cmake --build build -j "$(nproc)" --target lstm_train >/dev/null
RESULTS=$(mktemp)
for round in $(seq "$ROUNDS"); do
  for threads in 1 2; do
    for config in S M L; do
      repeats=$([ "$config" = L ] && echo 5 || echo 15)
      ./build/benchmarks/lstm_train --threads "$threads" --repeats "$repeats" "$config" |
        sed 's/^{/{"system": "tapeloop", /' >>"$RESULTS"
      OMP_NUM_THREADS=$threads /usr/bin/python3 benchmarks/pytorch_lstm.py --threads "$threads" \
        --repeats "$repeats" "$config" | sed 's/^{/{"system": "pytorch", /' >>"$RESULTS"
    done
  done
done
/usr/bin/python3 benchmarks/report_lstm.py "$RESULTS" "$ROUNDS" >docs/benchmarks/lstm.md
rm -f "$RESULTS"
cat docs/benchmarks/lstm.md
