#!/usr/bin/env bash
set -euo pipefail
out=$1
source scripts/device/env.sh
new=$PWD/.devcarry/bin; old=$PWD/build-devcarry-c237aef/bin
mkdir -p "$out"
for r in 1 2 3; do
  for pol in default active; do
    if [ $pol = active ]; then export OMP_WAIT_POLICY=active; else unset OMP_WAIT_POLICY; fi
    $new/gpt2-bench --backend openmp,pthreads --threads 1,4 --prompt long-512 --new 2 \
      --mode recompute --reps 5 --no-reference --no-overhead --quiet --out "$out/omp-$pol/round-$r" >/dev/null
  done
done
unset OMP_WAIT_POLICY
for v in old new; do
  bin=$old; [ $v = new ] && bin=$new
  $bin/gpt2-bench --backend pthreads,openmp --threads 1,2,4,8,12,16 --mode all --reps 7 --quiet --out "$out/lab-$v" >/dev/null
done
