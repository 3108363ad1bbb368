#!/usr/bin/env bash
# The GPU's correctness record (reports/studies/gpu-sanitizers/), in one call
# on the GPU machine, after scripts/device/bundle.sh here:
#   bash scripts/device/gpu-checks.sh OUT [tests] [verify] [sanitize]
# - tests: gpt2_cuda_tests, whole (OUT/gpt2_cuda_tests.txt), and gpt2_tests'
#   CUDA rows (BatchTest: each sequence bit for bit as alone on the backends
#   that promise batch invariance; OUT/gpt2_tests-cuda.txt);
# - verify: `gpt2-bench verify` over the CUDA backends on the default model,
#   batched (--batch 4,16, kv-cache) and with beams (--beams all), the
#   bit-exact ones (cuda-naive, cuda-tiled) on every rule, the reordering ones
#   (cuda in float32 and bfloat16, cuda-tp at 1 rank and 2 ranks on one GPU)
#   on median and greedy (OUT/verify-*.txt and the reports in OUT/runs/);
# - sanitize: scripts/device/sanitize.sh OUT/sanitize (every tool, backend and run).
set -uo pipefail
out=${1:?usage: gpu-checks.sh OUT [tests] [verify] [sanitize]}
shift
what=${*:-tests verify sanitize}
source scripts/device/env.sh
mkdir -p "$out/runs"
has() { [[ " $what " == *" $1 "* ]]; }
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.txt"
status=0
step() {  # name, time limit, command...
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/$name.txt" 2>&1
  local rc=$?
  echo "exit $rc" | tee -a "$out/$name.txt"
  [ $rc -eq 0 ] || status=1
  grep -E '^\[  (PASSED|FAILED|SKIPPED) |^\| (verify|[a-z-]+ )|tests? (passed|failed|skipped)|FAIL' \
    "$out/$name.txt" | cut -c1-200 | head -30
}
if has tests; then
  step gpt2_cuda_tests 300 gpt2_cuda_tests
  step gpt2_tests-cuda 200 gpt2_tests --gtest_filter='*cuda*'
fi
if has verify; then
  v=(gpt2-bench verify -q --out "$out/runs" --mode kv-cache)
  step verify-batch-exact 200 "${v[@]}" --backend cuda-naive,cuda-tiled --rule all --batch 4,16
  step verify-batch-reordered 120 "${v[@]}" --backend cuda --precision all --rule median,greedy \
    --batch 4,16
  step verify-batch-tp 120 "${v[@]}" --backend cuda-tp --devices 1,2 --one-gpu \
    --rule median,greedy --batch 4,16
  step verify-beams 150 "${v[@]}" --backend cuda-naive,cuda-tiled,cuda --precision all \
    --rule none --beams all
  step verify-beams-tp 120 "${v[@]}" --backend cuda-tp --devices 1,2 --one-gpu --rule none \
    --beams all
fi
if has sanitize; then
  JOBS=${JOBS:-12} bash scripts/device/sanitize.sh "$out/sanitize" | tail -5
fi
exit $status
