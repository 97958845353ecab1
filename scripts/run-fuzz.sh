#!/usr/bin/env bash
# Builds the libFuzzer harnesses of the file readers (tests/fuzz/) with clang, ASan and UBSan in
# build-fuzz/ and runs each for a bounded time on a copy of its seed corpus, as many at once as
# there are cores. Fails if any harness finds a crash, a leak, a sanitizer report, a broken
# property, a slow input (-timeout) or runs out of memory (-rss_limit_mb); the input that did it
# is kept in build-fuzz/fuzz-artifacts/<harness>/. Run by `scripts/run-tests.sh --fuzz`, which
# installs clang first.
#   FUZZ_SECONDS=45   fuzzing time per harness
#   FUZZ_JOBS=nproc   harnesses run at the same time
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

export CCACHE_DIR=${CCACHE_DIR:-$HOME/.cache/ccache}
JOBS=${FUZZ_JOBS:-$(nproc)}
SECONDS_EACH=${FUZZ_SECONDS:-45}
BUILD=build-fuzz
HARNESSES=(checkpoint safetensors corpus hershey word_list)

start=$(date +%s)
cmake -S . -B "$BUILD" -DCMAKE_CXX_COMPILER=clang++ -DTAPELOOP_FUZZ=ON \
  -DTAPELOOP_BUILD_TESTS=OFF -DTAPELOOP_BUILD_MAIN=OFF -DTAPELOOP_BUILD_BENCHMARKS=OFF \
  -DTAPELOOP_INSTALL=OFF
cmake --build "$BUILD" -j "$JOBS" --target tapeloop_fuzzers
built=$(date +%s)

# The corpus grows while a harness runs: a copy, so the repository is not modified.
work=$(mktemp -d "${TMPDIR:-/tmp}/tapeloop-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
export UBSAN_OPTIONS=print_stacktrace=1
fuzz_one() {
  local harness=$1 dir=$work/$1
  local dict=()
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp tests/fuzz/corpus/"$harness"/* "$dir/corpus/"
  if [ -f tests/fuzz/dict/"$harness".dict ]; then dict=(-dict=tests/fuzz/dict/"$harness".dict); fi
  local status=0
  "$BUILD/tests/fuzz/fuzz_$harness" "${dict[@]}" -max_total_time="$SECONDS_EACH" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus" \
    >"$dir/log" 2>&1 || status=$?
  echo "$status" >"$dir/status"
}

echo "fuzz: ${#HARNESSES[@]} harnesses, ${SECONDS_EACH} s each, $JOBS at a time"
running=0
for harness in "${HARNESSES[@]}"; do
  if [ "$running" -ge "$JOBS" ]; then
    wait -n
    running=$((running - 1))
  fi
  fuzz_one "$harness" &
  running=$((running + 1))
done
wait
finished=$(date +%s)

passed=0
failed=0
for harness in "${HARNESSES[@]}"; do
  dir=$work/$harness
  status=$(cat "$dir/status" 2>/dev/null || echo none)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log")
  if [ "$status" = 0 ] && [ -n "$runs" ]; then
    passed=$((passed + 1))
    printf 'fuzz: %-12s %10s executions  ok\n' "$harness" "$runs"
  else
    failed=$((failed + 1))
    printf 'fuzz: %-12s %10s executions  FAILED (exit %s)\n' "$harness" "${runs:-?}" "$status"
    # The report: libFuzzer's seed, the finding with its stack, and the input in base64.
    grep -m1 '^INFO: Seed:' "$dir/log" || true
    grep -v -E '^#[0-9]+|^\s+NEW_FUNC|^"' "$dir/log" | tail -n 60
    mkdir -p "$BUILD/fuzz-artifacts/$harness"
    cp "$dir"/artifacts/* "$BUILD/fuzz-artifacts/$harness/" 2>/dev/null || true
    echo "fuzz: the input is in $BUILD/fuzz-artifacts/$harness/;" \
      "reproduce with $BUILD/tests/fuzz/fuzz_$harness <input>"
  fi
done
echo "fuzz: build $((built - start)) s, fuzzing $((finished - built)) s"
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
