#!/usr/bin/env bash
# Prefetch distance A/B for the narrow weights: 4096 (as committed), 8192, 16384 bytes.
set -uo pipefail
out=$1; source scripts/device/env.sh; mkdir -p $out
gpt2 --model default 464 2068 >/dev/null 2>&1
cp .devcarry/bin/gpt2-bench /tmp/gpt2-bench-pf4096
for r in 1 2; do
  for pf in 4096 8192 16384; do
    b=/tmp/gpt2-bench-pf$pf; [ $pf != 4096 ] && b=.devcarry-exp/gpt2-bench-pf$pf
    echo "== round $r pf $pf"
    $b --backend pthreads --precision bf16w,int8w --threads 1,2,4 --mode kv-cache --prompt lab-hello \
      --new 64 --reps 5 --interleave --no-reference --no-overhead -q --out $out/runs-pf$pf > $out/r$r-pf$pf.txt 2>&1
    grep -E '^\| (pthreads|[0-9])' $out/r$r-pf$pf.txt | cut -c1-120
  done
done
