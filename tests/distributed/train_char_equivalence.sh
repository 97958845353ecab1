#!/usr/bin/env bash
# tapeloop-train-char end to end: 2 ranks write the same checkpoint, to the byte, as one process
# going through the same 2 shards; 3 ranks over uneven shards as one process over 3; a run
# stopped at a checkpoint and resumed on 2 ranks ends on the same bytes as one that was not.
#   train_char_equivalence.sh TRAINER MPIEXEC [MPI FLAGS...]
set -euo pipefail
trainer=$1
shift
mpiexec=("$@")
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
common=(--steps 12 --batch 7 --window 16 --hidden 32 --embedding 8 --dropout 0.2 --log-every 4)
export TAPELOOP_NUM_THREADS=1  # the same in every process: see docs/distributed.md

"${mpiexec[@]}" -np 2 -x TAPELOOP_NUM_THREADS "$trainer" "${common[@]}" --checkpoint "$dir/ranks2.st"
"$trainer" "${common[@]}" --shards 2 --checkpoint "$dir/shards2.st"
cmp "$dir/ranks2.st" "$dir/shards2.st"
echo "2 ranks = 1 process over 2 shards: the same bytes"

"${mpiexec[@]}" -np 3 -x TAPELOOP_NUM_THREADS "$trainer" "${common[@]}" --checkpoint "$dir/ranks3.st"
"$trainer" "${common[@]}" --shards 3 --checkpoint "$dir/shards3.st"
cmp "$dir/ranks3.st" "$dir/shards3.st"
echo "3 ranks (shards of 3, 2, 2) = 1 process over 3 shards: the same bytes"

half=(--batch 7 --window 16 --hidden 32 --embedding 8 --dropout 0.2 --log-every 4)
"${mpiexec[@]}" -np 2 -x TAPELOOP_NUM_THREADS "$trainer" --steps 5 "${half[@]}" --checkpoint "$dir/first.st"
"${mpiexec[@]}" -np 2 -x TAPELOOP_NUM_THREADS "$trainer" --steps 7 "${half[@]}" --resume "$dir/first.st" \
  --checkpoint "$dir/resumed.st"
cmp "$dir/resumed.st" "$dir/ranks2.st"
echo "stopped after 5 steps and resumed on 2 ranks = uninterrupted: the same bytes"

# A damaged checkpoint: every rank says so, none crashes, the file stays as it was.
head -c 1000 "$dir/first.st" > "$dir/damaged.st"
cp "$dir/damaged.st" "$dir/damaged.copy"
if "${mpiexec[@]}" -np 2 "$trainer" "${half[@]}" --steps 1 --resume "$dir/damaged.st" 2> "$dir/err"; then
  echo "resuming from a damaged checkpoint did not fail" >&2
  exit 1
fi
grep -q "resume $dir/damaged.st: ranks 0, 1 of 2 failed" "$dir/err" || { cat "$dir/err" >&2; exit 1; }
cmp "$dir/damaged.st" "$dir/damaged.copy"
echo "a damaged checkpoint: refused on every rank, left as it was"
