#!/usr/bin/env bash
# Builds tapeloop as a user would get it and uses it from a project outside the tree
# (tests/consumer): installed static and shared into one prefix and found with find_package,
# added with add_subdirectory, and compiled by hand with pkg-config. Run by
# `bash scripts/run-tests.sh --package`, which installs the dependencies first.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${TAPELOOP_PACKAGE_DIR:-$ROOT/build-package}
PREFIX=$WORK/prefix
JOBS=$(nproc)
export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
rm -rf "$WORK"
mkdir -p "$WORK"

step() { echo; echo "== package: $*"; }
fail() { echo "package: FAILED: $*" >&2; exit 1; }

# 1. The libraries with nothing but the defaults a packager would use, static then shared.
for linkage in static shared; do
  step "build and install the $linkage libraries into $PREFIX"
  shared=OFF; [ "$linkage" = shared ] && shared=ON
  cmake -S "$ROOT" -B "$WORK/$linkage" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=$shared \
    -DTAPELOOP_BUILD_TESTS=OFF -DTAPELOOP_BUILD_MAIN=OFF -DTAPELOOP_BUILD_BENCHMARKS=OFF \
    -DCMAKE_INSTALL_PREFIX="$PREFIX" >"$WORK/$linkage.log"
  cmake --build "$WORK/$linkage" -j "$JOBS" >>"$WORK/$linkage.log" || { tail -40 "$WORK/$linkage.log"; exit 1; }
  cmake --install "$WORK/$linkage" >>"$WORK/$linkage.log"
done
LIBDIR=$(find "$PREFIX" -name libtapeloop.so -printf '%h\n' | head -1)
[ -n "$LIBDIR" ] || fail "no libtapeloop.so installed"
for f in libtapeloop.a libtapeloop_models.a libtapeloop_models.so cmake/tapeloop/tapeloopConfig.cmake \
         cmake/tapeloop/tapeloopConfigVersion.cmake pkgconfig/tapeloop.pc pkgconfig/tapeloop-models.pc; do
  [ -e "$LIBDIR/$f" ] || fail "$LIBDIR/$f was not installed"
done
# The installed libraries that need libtapeloop find it beside them, without LD_LIBRARY_PATH:
# a program's RUNPATH does not serve the libraries it loads.
for lib in libtapeloop_models.so libtapeloop_distributed.so; do
  [ -e "$LIBDIR/$lib" ] || continue
  if ldd "$LIBDIR/$lib" | grep -q "libtapeloop.so.* not found"; then
    fail "$LIBDIR/$lib does not find libtapeloop.so beside it"
  fi
done
if command -v mpirun >/dev/null && [ ! -e "$LIBDIR/libtapeloop_distributed.so" ]; then
  fail "MPI is installed but libtapeloop_distributed.so was not"
fi
# Installed files name no build or source tree (the prefix is only in the pkg-config files).
if grep -rl -e "$ROOT" "$PREFIX/include" "$LIBDIR/cmake"; then
  fail "installed files above name the source or build tree"
fi

# 2. The consumer through find_package: shared (the default) and static.
consume() {  # name, cmake arguments...
  local name=$1; shift
  step "consumer: $name"
  cmake -S "$ROOT/tests/consumer" -B "$WORK/consumer-$name" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" \
    >"$WORK/consumer-$name.log"
  cmake --build "$WORK/consumer-$name" -j "$JOBS" >>"$WORK/consumer-$name.log" \
    || { tail -40 "$WORK/consumer-$name.log"; exit 1; }
  "$WORK/consumer-$name/consumer"
  # tapeloop::distributed (built when MPI is installed): one process, then two ranks.
  if [ -x "$WORK/consumer-$name/consumer_distributed" ]; then
    "$WORK/consumer-$name/consumer_distributed"
    OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 \
      mpirun -np 2 --oversubscribe --mca btl self,vader "$WORK/consumer-$name/consumer_distributed"
  elif command -v mpirun >/dev/null; then
    fail "MPI is installed but the consumer $name found no tapeloop::distributed"
  fi
}
consume shared -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX"
ldd "$WORK/consumer-shared/consumer" | grep -q "libtapeloop.so" || fail "shared consumer did not load libtapeloop.so"
consume static -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$PREFIX" -Dtapeloop_USE_STATIC_LIBS=ON
if ldd "$WORK/consumer-static/consumer" | grep -q "libtapeloop"; then
  fail "static consumer loads a tapeloop shared library"
fi

# 3. add_subdirectory from outside the tree. Configured first without a build type: tapeloop
# must not write one into the parent's cache, nor add tests or benchmarks to its build.
step "consumer: add_subdirectory, the parent's cache and targets left alone"
cmake -S "$ROOT/tests/consumer" -B "$WORK/consumer-subdirectory" -DTAPELOOP_SOURCE_DIR="$ROOT" \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$WORK/consumer-subdirectory.log"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$WORK/consumer-subdirectory/CMakeCache.txt")
[ -z "$build_type" ] || fail "add_subdirectory set the parent's CMAKE_BUILD_TYPE to '$build_type'"
for target in tapeloop_tests tapeloop-main tapeloop_bench; do
  if grep -q "^$target:" "$WORK/consumer-subdirectory/Makefile" 2>/dev/null; then
    fail "add_subdirectory added $target to the parent's build"
  fi
done
consume subdirectory -DCMAKE_BUILD_TYPE=Release
# The consumer's own file is compiled with its own flags only: no -march, no tapeloop warnings.
python3 - "$WORK/consumer-subdirectory/compile_commands.json" <<'PY' || fail "flags leaked"
import json, sys
for entry in json.load(open(sys.argv[1])):
    if entry["file"].endswith("tests/consumer/main.cpp"):
        command = entry["command"]
        leaked = [f for f in ("-march", "-ffp-contract", "-fsanitize") if f in command]
        if leaked:
            sys.exit(f"consumer compiled with {leaked}: {command}")
PY

# 4. pkg-config, compiled by hand (C++20 is the user's to ask for: pkg-config has no way to).
step "consumer: pkg-config"
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
[ "$(pkg-config --modversion tapeloop-models)" = "$(sed -n 's/^#define TAPELOOP_VERSION_STRING "\(.*\)"/\1/p' \
  "$ROOT/lib/include/tapeloop/version.hpp")" ] || fail "pkg-config reports another version"
# shellcheck disable=SC2046
g++ -std=c++20 -O2 "$ROOT/tests/consumer/main.cpp" -o "$WORK/consumer-pkg-config" \
  $(pkg-config --cflags --libs tapeloop-models) -Wl,-rpath,"$LIBDIR"
"$WORK/consumer-pkg-config"

step "all package checks passed"
