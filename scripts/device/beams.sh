#!/usr/bin/env bash
# On the device machine: beam search on every backend there (the unit tests,
# the CUDA backends included), against transformers (scripts/hf/beam_oracle.py)
# and its speed (scripts/hf/beam_bench.py).
#   bash scripts/device/beams.sh OUTDIR [parts: tests oracle bench]
set -euo pipefail
out=${1:?usage: beams.sh OUTDIR [tests] [oracle] [bench]}
shift
parts=${*:-tests oracle bench}
source scripts/device/env.sh
mkdir -p "$out"
{ nproc; lscpu | head -20; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } \
  > "$out/machine.txt" 2>&1 || true
gpt2 --model synthetic:124M 1 -n 2 > /dev/null  # the checkpoint, generated once
ckpt=datasets/cache/synthetic-124M-seed2-gen1.bin
for part in $parts; do
  case $part in
    tests)
      build/bin/gpt2_tests --gtest_filter='*Beam*:*Cop*' --gtest_brief=1 2>&1 | tail -30 \
        | tee "$out/tests.txt" ;;
    oracle)
      PYTHONUNBUFFERED=1 python3 scripts/hf/beam_oracle.py --checkpoint "$ckpt" \
        --model synthetic:124M --gpt2 "$(command -v gpt2)" --backend "pthreads --threads 16" \
        --backend cuda --out "$out" > "$out/oracle-log.txt" 2>&1 || echo "oracle: FAILED"
      tail -40 "$out/oracle-log.txt" ;;
    bench)
      PYTHONUNBUFFERED=1 python3 scripts/hf/beam_bench.py --checkpoint "$ckpt" \
        --model synthetic:124M --gpt2 "$(command -v gpt2)" --backend "pthreads --threads 16" \
        --backend cuda --out "$out" 2>&1 | tail -20 ;;
  esac
done
