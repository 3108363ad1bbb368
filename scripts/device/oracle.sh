#!/usr/bin/env bash
# On the device machine (PyTorch + transformers there): the frozen reference
# against HF transformers, and the goldens reproduced on another machine.
#   bash scripts/device/oracle.sh OUTDIR
set -euo pipefail
out=${1:?usage: oracle.sh OUTDIR}
source scripts/device/env.sh
mkdir -p "$out"
{ nproc; lscpu; } > "$out/lscpu.txt" 2>&1 || true
jobs=$(nproc)
for preset in tiny 124M; do
  gpt2-goldens check --model "synthetic:$preset" --mode kv-cache --jobs "$jobs" 2>&1 | tee "$out/goldens-check-$preset.txt"
  gpt2-goldens dump --model "synthetic:$preset" --out /tmp/dump --jobs "$jobs"
  PYTHONUNBUFFERED=1 python3 scripts/hf/oracle.py \
    --checkpoint "datasets/cache/synthetic-$preset-seed2-gen1.bin" \
    --model-name "synthetic:$preset:seed=2" --dump /tmp/dump --out "$out"
done
