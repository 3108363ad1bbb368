#!/usr/bin/env bash
# On the device machine: does OMP_WAIT_POLICY=active change the bit-exact
# backends' speedup? 3 rounds of recompute on the 512-token prompt at 1 and 4
# threads, OMP_WAIT_POLICY unset and `active` in turn (OUTDIR/omp-default/,
# OUTDIR/omp-active/); then the lab workload, both modes, 1-16 threads, with
# an older build (OLD_BIN_DIR, carried as for scripts/device/ab.sh) and with
# .devcarry's (OUTDIR/lab-old/, OUTDIR/lab-new/). The run kept in
# reports/studies/omp-wait-policy/ and reports/studies/stealing-vs-static-shares/lab-ab/
# (folders renamed afterwards) used the static-shares build c237aef as OLD.
# Summarize each policy with scripts/scaling_summary.py OUTDIR/omp-<policy>.
#   bash scripts/device/wait-policy.sh OUTDIR [OLD_BIN_DIR]   (default build-devcarry-c237aef/bin)
set -euo pipefail
out=${1:?usage: wait-policy.sh OUTDIR [OLD_BIN_DIR]}
source scripts/device/env.sh
new=$PWD/.devcarry/bin; old=$(cd "${2:-build-devcarry-c237aef/bin}" && pwd)
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
