#!/usr/bin/env bash
# On the device machine: gpt2-bench sweeps of every CPU backend at 1..16 threads.
#   bash scripts/device/sweeps.sh OUTDIR recompute-long|lab
# lab: reports/studies/kv-cache-vs-recompute/ (lab-hello+5 at 8177fdb);
# recompute-long: the long-512+2 sweep that reports/studies/omp-proc-bind/ compares with.
set -euo pipefail
out=${1:?usage: sweeps.sh OUTDIR recompute-long|lab}
source scripts/device/env.sh
mkdir -p "$out"
all=pthreads,openmp,blis,onednn
case "${2:?}" in
  recompute-long)  # compute-bound: a 512-token prompt, recomputed at every step
    gpt2-bench --backend "$all" --precision all --threads 1..16 --prompt long-512 --new 2 \
      --mode recompute --reps 3 --reference-reps 1 --out "$out" ;;
  lab)  # the lab's workload, 5 tokens to 10, in both modes
    gpt2-bench --backend "$all" --precision all --threads 1..16 --mode all --reps 5 --out "$out" ;;
esac
