#!/usr/bin/env bash
# Issue 21's device experiment: the CUDA backends batched on the GPU, in one
# call of the device tool:
#   bash scripts/device/gpu_batched.sh OUT [tests] [verify] [sweep] [anchor] [ncu] [before]
# tests:  gpt2_cuda_tests, and gpt2_tests' batch tests (BatchTest over every
#         backend the GPU machine runs).
# verify: gpt2-bench verify --batch 4,16 over every CUDA backend and precision.
# sweep:  gpt2-bench's batch sweep, prompt 128 + 64 new tokens, B = 1..256,
#         beside the PyTorch anchor (anchor: scripts/torch_batched_anchor.py,
#         the same workload; ANCHOR_ARGS, e.g. --skip-compile, pass through):
#         gpt2-bench, then the anchor, then gpt2-bench again, so the anchor's
#         figures are bracketed by ours.
# ncu:    Nsight Compute's per-kernel table of a 5-token prompt and two decode
#         steps of cuda at B = 1 and 128 (NCU_PRECISIONS: float32 bfloat16).
# before: batch 1 of cuda before this work and now, in turns (the older
#         gpt2-bench carried as .devcarry/before/gpt2-bench).
set -uo pipefail
out=${1:?usage: gpu_batched.sh OUT [tests] [verify] [sweep] [anchor] [ncu] [before]}
shift
what=${*:-tests verify sweep anchor}
root=$PWD
source scripts/device/env.sh
mkdir -p "$out"
has() { [[ " $what " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*"; }
gpt2 --model default 464 2068 >/dev/null 2>&1
ckpt=$(ls datasets/cache/synthetic-124M-seed2-*.bin | head -1)
sweep() {  # $1: round
  timeout 400 gpt2-bench --backend cuda,cuda-tiled --precision all --mode kv-cache \
    --prompt-len 128 --new 64 --batch "${BATCHES:-1,8,32,128,256}" --reps 3 --no-reference \
    --rule greedy -q --out "$out/runs" > "$out/sweep-$1.txt" 2>&1
  echo "exit $?"; grep -E '^\| (cuda|[0-9])' "$out/sweep-$1.txt" | cut -d'|' -f2-14
}

if has tests; then
  log "gpt2_cuda_tests"
  timeout 300 gpt2_cuda_tests --gtest_brief=1 > "$out/cuda-tests.txt" 2>&1
  echo "exit $? ($(tail -1 "$out/cuda-tests.txt"))"; grep -E "FAILED|Failure" "$out/cuda-tests.txt" | head -20
  log "gpt2_tests batch tests"
  timeout 300 gpt2_tests --gtest_brief=1 --gtest_filter='*BatchTest*:*Cuda*:*cuda*' \
    > "$out/batch-tests.txt" 2>&1
  echo "exit $? ($(tail -1 "$out/batch-tests.txt"))"; grep -E "FAILED|Failure" "$out/batch-tests.txt" | head -20
fi
if has verify; then
  log "gpt2-bench verify --batch"
  timeout 400 gpt2-bench verify --backend cuda-naive,cuda-tiled,cuda --precision all \
    --mode kv-cache --batch 4,16 --rule median,greedy -q --out "$out/runs" \
    > "$out/verify-batch.txt" 2>&1
  echo "exit $?"; grep -E '^\| ' "$out/verify-batch.txt" | head -30
fi
if has sweep; then log "gpt2-bench sweep 1"; sweep 1; fi
if has anchor; then
  log "PyTorch batched anchor"
  PYTHONUNBUFFERED=1 timeout 900 python3 scripts/torch_batched_anchor.py --model "$ckpt" \
    --batch "${BATCHES:-1,8,32,128,256}" --out "$out/torch-batched-anchor.json" ${ANCHOR_ARGS:-} \
    > "$out/torch-batched-anchor.txt" 2>&1
  echo "exit $?"; grep -E '^\|' "$out/torch-batched-anchor.txt"
fi
if has sweep && has anchor; then log "gpt2-bench sweep 2"; sweep 2; fi
if has ncu; then
  log "ncu"
  for b in 1 128; do
    for _ in $(seq $b); do echo "31373 612 338 635 281"; done > /tmp/p$b.txt
    for p in ${NCU_PRECISIONS:-float32 bfloat16}; do
      (cd "$out" && timeout 240 ncu --metrics gpu__time_duration.sum,dram__bytes.sum --csv \
        --log-file "ncu-b$b-$p.csv" gpt2 --backend cuda --precision "$p" --mode kv-cache \
        --rule greedy --prompts /tmp/p$b.txt --batch $b -n 7 >/dev/null 2>>ncu.err)
      python3 "$root/scripts/device/ncu_summary.py" "$out/ncu-b$b-$p.csv" > "$out/ncu-b$b-$p.md"
      echo "== ncu B=$b $p"; head -18 "$out/ncu-b$b-$p.md"; tail -2 "$out/ncu-b$b-$p.md"
    done
  done
fi
# before: batch 1 of the cuda backend before this work (a gpt2-bench built from
# the parent commit, carried as .devcarry/before/gpt2-bench) and now, in turns.
if has before && [ -x .devcarry/before/gpt2-bench ]; then
  log "batch 1 before and after"
  for round in 1 2; do
    for bin in .devcarry/before/gpt2-bench gpt2-bench; do
      timeout 120 $bin --backend cuda --precision all --mode kv-cache --prompt-len 128 --new 64 \
        --reps 5 --no-reference --rule greedy -q > "$out/b1-$(basename $(dirname $bin))-$round.txt" 2>&1
      echo "$bin round $round: exit $?"
      grep -E '^\| cuda' "$out/b1-$(basename $(dirname $bin))-$round.txt" | cut -d'|' -f2,5,6,7,8,11,12
    done
  done
fi
log "done"
tar -C "$out" -czf /tmp/gpu-batched.tar.gz . && find "$out" -mindepth 1 -delete && mv /tmp/gpu-batched.tar.gz "$out/"
