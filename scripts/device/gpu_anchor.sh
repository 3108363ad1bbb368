#!/usr/bin/env bash
# On the device machine (a GPU, PyTorch + transformers there): the GPU's own
# ceilings (gpt2_cuda_tests' GpuCeilingsTest prints them), a sweep of the GPU
# backends with the GPU's ceilings, and the PyTorch anchor on the same
# checkpoint (scripts/torch_anchor.py; torch.compile takes minutes: pass
# --skip-compile as the second argument to leave it out).
#   bash scripts/device/gpu_anchor.sh OUTDIR [torch_anchor.py options...]
# Writes 8 files (the device tool brings back at most 8 from $OUT).
set -euo pipefail
out=${1:?usage: gpu_anchor.sh OUTDIR [torch_anchor.py options]}
shift
source scripts/device/env.sh
mkdir -p "$out"
gpt2_cuda_tests --gtest_filter='GpuCeilings*' 2>&1 | tee "$out/gpu-ceilings-test.txt" ||
  echo "gpt2_cuda_tests GpuCeilings*: FAILED"
# The checkpoint the anchor reads (written once into datasets/cache/).
gpt2 --model synthetic:124M 1 2 > /dev/null
gpt2-bench --backend cuda-naive,cuda --precision all --threads 1 --mode kv-cache --new 64 \
  --reps 5 --out "$out" || echo "gpt2-bench: exit status not 0"
PYTHONUNBUFFERED=1 python3 scripts/torch_anchor.py \
  --model datasets/cache/synthetic-124M-seed2-gen1.bin --out "$out/torch-anchor.json" "$@" \
  2>&1 | tee "$out/torch-anchor.txt"
