#!/usr/bin/env bash
# Installs the dependencies, builds tapeloop and runs every test suite.
#   bash scripts/run-tests.sh             Release build in build/ (-march=native)
#   bash scripts/run-tests.sh --sanitize  ASan + UBSan build in build-sanitize/ (no models)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

sanitize=0
for arg in "$@"; do
  case "$arg" in
    --sanitize) sanitize=1 ;;
    -h|--help) sed -n '2,4p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-tests: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

bash scripts/install-deps.sh

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
JOBS=$(nproc)

if [ "$sanitize" -eq 1 ]; then
  BUILD=build-sanitize
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPELOOP_SANITIZE=ON -DTAPELOOP_BUILD_TESTS=ON \
    -DTAPELOOP_BUILD_MAIN=OFF
  # LeakSanitizer runs too: it works here, including under chroot.
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
else
  BUILD=build
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_SANITIZE=OFF \
    -DTAPELOOP_BUILD_TESTS=ON -DTAPELOOP_BUILD_MAIN=ON
fi

cmake --build "$BUILD" -j "$JOBS"
cd "$BUILD"
ctest --output-on-failure -j "$JOBS"
