#!/usr/bin/env bash
# A/B on the device: old (c237aef, static shares) vs new (stealing) executors.
set -euo pipefail
out=$1; rounds=${2:-3}
source scripts/device/env.sh
new=$PWD/.devcarry/bin; old=$PWD/build-devcarry-c237aef/bin
mkdir -p "$out"
for r in $(seq 1 $rounds); do
  for v in $( [ $((r % 2)) = 1 ] && echo "old new" || echo "new old"); do
    bin=$old; [ $v = new ] && bin=$new
    $bin/gpt2-bench --backend pthreads,openmp --threads 1,4,8,16 --prompt long-512 --new 2 \
      --mode recompute --reps 5 --no-reference --no-overhead --quiet --out "$out/$v/round-$r" >/dev/null
    echo "round $r $v done"
  done
done
