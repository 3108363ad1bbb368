#!/usr/bin/env bash
# On the device machine: an A/B of two builds on one machine, alternating
# (old, new, then new, old, ...): the old build's gpt2-bench (a bin folder
# carried beside .devcarry, e.g. build-devcarry-COMMIT/bin: copy a stripped
# build/bin/gpt2-bench of that commit there, and its commit into
# build-devcarry-COMMIT/COMMIT for the reports) against .devcarry's, ROUNDS
# rounds of recompute on the 512-token prompt at THREADS, both bit-exact
# parallel backends. Summarize each side with scripts/scaling_summary.py.
#   bash scripts/device/ab.sh OUTDIR OLD_BIN_DIR [ROUNDS] [THREADS]
set -euo pipefail
out=${1:?usage: ab.sh OUTDIR OLD_BIN_DIR [ROUNDS] [THREADS]}
old=$(cd "${2:?usage: ab.sh OUTDIR OLD_BIN_DIR [ROUNDS] [THREADS]}" && pwd)
rounds=${3:-3}
threads=${4:-1,4,8,16}
source scripts/device/env.sh
new=$PWD/.devcarry/bin
new_commit=$GPT2_GIT_COMMIT
old_commit=$(cat "$old/../COMMIT" 2> /dev/null || echo unknown)
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then sides="old new"; else sides="new old"; fi
  for side in $sides; do
    bin=$old commit=$old_commit
    [ "$side" = new ] && bin=$new commit=$new_commit
    GPT2_GIT_COMMIT=$commit "$bin/gpt2-bench" --backend pthreads,openmp --threads "$threads" \
      --prompt long-512 --new 2 \
      --mode recompute --reps 5 --no-reference --no-overhead --quiet \
      --out "$out/$side/round-$r" > /dev/null
    echo "round $r $side done" >&2
  done
done
