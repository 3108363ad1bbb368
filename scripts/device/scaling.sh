#!/usr/bin/env bash
# On the device machine: how the bit-exact backends' compute-bound speedup
# compares with the machine's own scaling, with its spread.
#   1. ceilings.json: register-only fp32 loops (with and without FMA; the
#      mul+add loop also self-balancing, and in 1 and 84 barrier-separated
#      phases through each executor) and read bandwidth at the sweep's thread
#      counts, 3 repetitions each;
#   2. pairs.txt (unless PAIRS=no): the mul+add loop on every pair of CPUs
#      (taskset), 2 threads: a pair that shares a physical core (or whose host
#      core is busy) shows about half of twice the 1-thread rate;
#   3. round-N/: ROUNDS sweeps of recompute on the 512-token prompt, one after
#      another, the backend order alternating between rounds, so each speedup
#      is quoted as the median and range over rounds rather than one sweep's.
# Summarize with: python3 scripts/scaling_summary.py OUTDIR
#      With INTERLEAVE=yes each round takes its thread counts in turns
#      (gpt2-bench --interleave).
#   [PAIRS=no] [INTERLEAVE=yes] bash scripts/device/scaling.sh OUTDIR [ROUNDS]
set -euo pipefail
out=${1:?usage: scaling.sh OUTDIR [ROUNDS]}
rounds=${2:-3}
threads=1,2,4,8,12,16
source scripts/device/env.sh
mkdir -p "$out"
lscpu > "$out/lscpu.txt"
gpt2-microbench --threads=$threads --rows=1 --benchmark_filter='^(peak_fp32|read)' \
  --benchmark_repetitions=3 --benchmark_out="$out/ceilings.json" --benchmark_out_format=json \
  > "$out/ceilings.txt" 2>&1
pair() {
  taskset -c "$1" gpt2-microbench --threads=2 --rows=1 --benchmark_min_time=0.3 \
    --benchmark_filter='peak_fp32_mul_add/threads:2' 2>&1 | grep -o 'GFLOP/s=[0-9]*' | cut -d= -f2
}
cpus=$(nproc)
[ "${PAIRS:-yes}" = no ] || {
  echo "# fp32 mul+add GFLOP/s of 2 threads on CPUs i and j (taskset); 1 thread alone:"
  gpt2-microbench --threads=1 --rows=1 --benchmark_min_time=0.3 \
    --benchmark_filter='peak_fp32_mul_add/threads:1' 2>&1 | grep -o 'GFLOP/s=[0-9]*' | cut -d= -f2
  for i in $(seq 0 $((cpus - 1))); do
    printf "%2d:" "$i"
    for j in $(seq 0 $((cpus - 1))); do
      if [ "$j" -le "$i" ]; then printf "    ."; else printf "%5s" "$(pair "$i,$j")"; fi
    done
    echo
  done
} > "$out/pairs.txt"
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order=pthreads,openmp; else order=openmp,pthreads; fi
  gpt2-bench --backend $order --threads $threads --prompt long-512 --new 2 \
    --mode recompute --reps 5 --no-reference --no-overhead --quiet --out "$out/round-$r" \
    $([ "${INTERLEAVE:-no}" = yes ] && echo --interleave)
done
