#!/usr/bin/env bash
# Builds the benchmarks, runs tapeloop's kernel suite and PyTorch's in alternating rounds, and
# writes docs/benchmarks/kernels.md (tapeloop vs PyTorch vs the machine's limits, and targets).
#   bash benchmarks/run-kernels.sh [rounds]      (default 5 rounds; JOBS=n for the build)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
ROUNDS=${1:-5}

bash scripts/install-deps.sh
if [ ! -x /usr/bin/python3 ] || ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "run-kernels: PyTorch is needed for the comparison: apt-get install python3-torch" >&2
  exit 1
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_BUILD_BENCHMARKS=ON
cmake --build build --target tapeloop_bench -j "${JOBS:-$(nproc)}"

/usr/bin/python3 benchmarks/run_kernels.py --bench build/benchmarks/tapeloop_bench \
  --out docs/benchmarks/kernels.md --rounds "$ROUNDS"
