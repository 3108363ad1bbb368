#!/usr/bin/env bash
# On the device machine: gpt2-bench sweeps of every backend at 1..16 threads.
#   bash scripts/device/sweeps.sh OUTDIR recompute-long|lab|verify
set -euo pipefail
out=${1:?usage: sweeps.sh OUTDIR recompute-long|lab|verify}
source scripts/device/env.sh
mkdir -p "$out"
all=pthreads,openmp,blis,onednn
case "${2:?}" in
  recompute-long)  # compute-bound: a 512-token prompt, recomputed at every step
    gpt2-bench --backend "$all" --precision all --threads 1..16 --prompt long-512 --new 2 \
      --mode recompute --reps 3 --reference-reps 1 --out "$out" ;;
  lab)  # the lab's workload, 5 tokens to 10, in both modes
    gpt2-bench --backend "$all" --precision all --threads 1..16 --mode all --reps 5 --out "$out" ;;
  verify)
    gpt2-bench verify --backend all --threads 1,4,16 --mode all --out "$out"
    gpt2-bench verify --backend onednn --precision bf16 --threads 16 --mode all --out "$out" ;;
esac
