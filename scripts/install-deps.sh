#!/usr/bin/env bash
# Installs the Debian packages tapeloop needs to build and test. Idempotent and non-interactive:
# installs only what is missing, and runs `apt-get update` only when something must be installed.
#   bash scripts/install-deps.sh        what every build needs
#   bash scripts/install-deps.sh fuzz   also clang and libFuzzer (scripts/run-tests.sh --fuzz)
set -euo pipefail

PACKAGES=(
  g++ cmake make ccache pkg-config
  libxtensor-dev libxsimd-dev xtl-dev
  libtbb-dev libboost-test-dev libopenblas-dev
  nlohmann-json3-dev libbenchmark-dev
  libopenmpi-dev openmpi-bin  # tapeloop::distributed: data-parallel training over MPI
  hershey-fonts-data wamerican  # the handwriting demo: script fonts and words to write
)
# The fuzz harnesses: clang, its runtime libraries (libFuzzer, ASan, UBSan: only recommended by
# clang, and recommendations are not installed) and llvm-symbolizer for readable stack traces.
FUZZ_PACKAGES=(clang libclang-rt-dev llvm)

for group in "$@"; do
  case "$group" in
    fuzz) PACKAGES+=("${FUZZ_PACKAGES[@]}") ;;
    *) echo "install-deps: unknown package group: $group (known: fuzz)" >&2; exit 2 ;;
  esac
done

export DEBIAN_FRONTEND=noninteractive

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = "installed" ]
}

missing=()
for package in "${PACKAGES[@]}"; do
  installed "$package" || missing+=("$package")
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo DEBIAN_FRONTEND=noninteractive)
  else
    echo "install-deps: not root and no sudo; please install: ${missing[*]}" >&2
    exit 1
  fi
fi

echo "install-deps: installing ${missing[*]}"
apt_install() {
  "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}
# A new machine may have no package lists, or stale ones: on failure, update them and retry.
if ! apt_install; then
  echo "install-deps: install failed; running apt-get update and retrying"
  "${SUDO[@]}" apt-get update -q
  apt_install
fi
echo "install-deps: done"
