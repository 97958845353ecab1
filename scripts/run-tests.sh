#!/usr/bin/env bash
# Installs the dependencies, builds tapeloop and runs every test suite.
#   bash scripts/run-tests.sh             Release build in build/ (-march=native, the kernel
#                                         width for this CPU: TAPELOOP_SIMD_WIDTH=auto)
#   bash scripts/run-tests.sh --sanitize  ASan + UBSan build in build-sanitize/ (no models)
#   bash scripts/run-tests.sh --tsan      ThreadSanitizer build in build-tsan/: the suites that run
#                                         on several threads, kernels on the std::thread runner
#   bash scripts/run-tests.sh --portable  Release build for x86-64-v3 in build-portable/
#   bash scripts/run-tests.sh --simd512   Release build, 512-bit kernels, in build-simd512/
#   bash scripts/run-tests.sh --simd256   Release build, 256-bit kernels, in build-simd256/
#   bash scripts/run-tests.sh --package   installed, found and used from outside the tree
#   bash scripts/run-tests.sh --fuzz      libFuzzer harnesses of the file readers (clang, ASan +
#                                         UBSan) in build-fuzz/, FUZZ_SECONDS (45) each
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

mode=native
for arg in "$@"; do
  case "$arg" in
    --sanitize) mode=sanitize ;;
    --tsan) mode=tsan ;;
    --portable) mode=portable ;;
    --simd512) mode=simd512 ;;
    --simd256) mode=simd256 ;;
    --package) mode=package ;;
    --fuzz) mode=fuzz ;;
    -h|--help) sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-tests: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [ "$mode" = fuzz ]; then
  bash scripts/install-deps.sh fuzz
  exec bash scripts/run-fuzz.sh
fi
bash scripts/install-deps.sh
if [ "$mode" = package ]; then
  exec bash scripts/test-package.sh
fi

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
JOBS=$(nproc)

COMMON=(-DTAPELOOP_BUILD_TESTS=ON)
case "$mode" in
  sanitize)
    BUILD=build-sanitize
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPELOOP_SANITIZE=ON "${COMMON[@]}" \
      -DTAPELOOP_BUILD_MAIN=OFF
    # LeakSanitizer runs too: it works here, including under chroot.
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    ;;
  tsan)
    # The kernels run on the std::thread pool, whose locks ThreadSanitizer sees (Debian's oneTBB
    # is not instrumented: its task hand-off would look like races). Only the suites that run
    # code on several threads are built and run (tests/CMakeLists.txt), at two kernel threads
    # unless a suite sets its own count, also on a one-CPU machine.
    BUILD=build-tsan
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAPELOOP_TSAN=ON -DTAPELOOP_THREADS=std \
      -DTAPELOOP_SANITIZE=OFF "${COMMON[@]}" -DTAPELOOP_BUILD_MAIN=OFF -DTAPELOOP_BUILD_BENCHMARKS=OFF
    export TAPELOOP_NUM_THREADS=2
    # The first report fails the suite; a lock-order report shows both stacks.
    export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"
    ;;
  portable)
    # What a packaged library runs: x86-64-v3 (AVX2 + FMA), whatever this CPU has beyond it.
    BUILD=build-portable
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=OFF -DTAPELOOP_ARCH=x86-64-v3 \
      -DTAPELOOP_SANITIZE=OFF "${COMMON[@]}" -DTAPELOOP_BUILD_MAIN=OFF
    ;;
  simd512)
    if ! grep -qw avx512f /proc/cpuinfo; then
      echo "run-tests: --simd512 needs a CPU with AVX-512 (none here)" >&2
      exit 2
    fi
    BUILD=build-simd512
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_SIMD_WIDTH=512 \
      -DTAPELOOP_SANITIZE=OFF "${COMMON[@]}" -DTAPELOOP_BUILD_MAIN=OFF
    ;;
  simd256)
    # On a CPU where the native build chose 512-bit kernels, the 256-bit ones with AVX-512's
    # masked tails.
    BUILD=build-simd256
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_SIMD_WIDTH=256 \
      -DTAPELOOP_SANITIZE=OFF "${COMMON[@]}" -DTAPELOOP_BUILD_MAIN=OFF
    ;;
  *)
    BUILD=build
    cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DTAPELOOP_NATIVE=ON -DTAPELOOP_SIMD_WIDTH=auto \
      -DTAPELOOP_SANITIZE=OFF "${COMMON[@]}" -DTAPELOOP_BUILD_MAIN=ON
    ;;
esac

cmake --build "$BUILD" -j "$JOBS"
cd "$BUILD"
ctest --output-on-failure -j "$JOBS"
