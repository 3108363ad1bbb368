#!/usr/bin/env bash
# On the device machine: the machine's ceilings, each backend's prefill of a
# 128-token prompt and decode at 1..16 threads, and every op at 16 threads.
#   bash scripts/device/microbench.sh OUTDIR
set -euo pipefail
out=${1:?usage: microbench.sh OUTDIR}
source scripts/device/env.sh
mkdir -p "$out"
gpt2-microbench --threads=1,2,4,8,16 --rows=128 --benchmark_filter='^(forward/|decode/|peak|read)' \
  --benchmark_out="$out/microbench-ceilings-prefill-decode.json" --benchmark_out_format=json \
  > "$out/microbench-ceilings-prefill-decode.txt" 2>&1
python3 scripts/microbench_summary.py "$out/microbench-ceilings-prefill-decode.json" --rows 128 \
  > "$out/microbench-summary.md"
gpt2-microbench --threads=16 --rows=1,16,128,1024 \
  --benchmark_out="$out/microbench-ops-16threads.json" --benchmark_out_format=json \
  > "$out/microbench-ops-16threads.txt" 2>&1
cat "$out/microbench-summary.md"
