#!/usr/bin/env bash
# The benchmark suite: installs what it needs (Debian packages; the newest PyTorch from the
# Python package registry into a virtual environment, skipped with a message when it cannot),
# builds tapeloop's benchmark programs and the oneDNN peer, checks every peer against tapeloop,
# measures RNN, LSTM and GRU on configs S, M, L in interleaved rounds, and writes
# docs/benchmarks/suite.md (with SVG charts in docs/benchmarks/suite/).
#   bash benchmarks/run-suite.sh [--quick] [--rounds N] [--no-newest-torch] [--scaling]
# --quick: one round, fewer repeats, under 5 minutes once built. JOBS=n for the build.
# --scaling: the scaling curves instead (time and memory against length, size, batch, threads;
# docs/benchmarks/scaling.md), with --quick three points per curve.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

QUICK=() ROUNDS=3 NEWEST=1 SCALING=0
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=(--quick) NEWEST=0 ;;
    --rounds) ROUNDS=$2; shift ;;
    --no-newest-torch) NEWEST=0 ;;
    --scaling) SCALING=1 NEWEST=0 ;;
    *) echo "usage: bash benchmarks/run-suite.sh [--quick] [--rounds N] [--no-newest-torch]" \
         "[--scaling]" >&2
       exit 2 ;;
  esac
  shift
done

bash scripts/install-deps.sh
# The peers and the report's charts: oneDNN's RNN primitives, Debian's PyTorch, matplotlib, and
# venv for the newest PyTorch.
EXTRA=(libdnnl-dev python3-torch python3-matplotlib python3-venv)
missing=()
for package in "${EXTRA[@]}"; do
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)" = installed ] ||
    missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "run-suite: installing ${missing[*]}"
  SUDO=()
  [ "$(id -u)" -eq 0 ] || SUDO=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { "${SUDO[@]}" apt-get update -q >/dev/null &&
      "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
fi

NEWEST_ARGS=()
if [ "$NEWEST" = 1 ]; then
  VENV=${TAPELOOP_BENCH_VENV:-$HOME/.cache/tapeloop/torch-venv}
  if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    echo "run-suite: installing the newest PyTorch into $VENV (from the package registry)"
    { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --upgrade pip &&
      "$VENV/bin/pip" install -q torch numpy; } ||
      echo "run-suite: could not install the newest PyTorch; it is skipped"
  fi
  if "$VENV/bin/python" -c 'import torch' 2>/dev/null; then
    NEWEST_ARGS=(--newest-torch "$VENV/bin/python")
  fi
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_BUILD_BENCHMARKS=ON \
  >/dev/null
cmake --build build -j "${JOBS:-$(nproc)}" --target recurrent_bench tapeloop_bench onednn_rnn \
  >/dev/null 2>&1 ||
  cmake --build build -j "${JOBS:-$(nproc)}" --target recurrent_bench tapeloop_bench

if [ "$SCALING" = 1 ]; then
  exec /usr/bin/python3 benchmarks/run_scaling.py --build build --out docs/benchmarks "${QUICK[@]}"
fi
/usr/bin/python3 benchmarks/run_suite.py --build build --out docs/benchmarks --rounds "$ROUNDS" \
  "${QUICK[@]}" "${NEWEST_ARGS[@]}"
