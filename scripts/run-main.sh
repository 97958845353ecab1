#!/usr/bin/env bash
# Installs the dependencies, builds tapeloop (Release, -march=native) and runs the main job,
# build/models/tapeloop-main. Arguments are passed on to it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

bash scripts/install-deps.sh

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_BUILD_MAIN=ON
cmake --build build -j "$(nproc)" --target tapeloop-main
exec build/models/tapeloop-main "$@"
