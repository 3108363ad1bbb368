#!/usr/bin/env bash
# Issues 24 and 25's device experiment, in one call of the device tool, on a
# machine of any number of GPUs:
#   bash scripts/device/tensor-parallel.sh OUT [tests] [verify] [sweep] [micro] [mpi]
# With G GPUs the counts are 1..G that divide the heads (124M: 12 heads,
# 774M: 20); with one GPU, the same counts run as ranks on GPU 0 (--one-gpu:
# the sharded math, no NCCL) and the speedups are not speedups.
# tests:  gpt2_cuda_tests (cuda-tp at every count the machine allows), and
#         compute-sanitizer's memcheck over the cuda-tp tests.
# verify: gpt2-bench verify --backend cuda-tp at every count, both modes,
#         every rule, float32 and bfloat16, batch 1 and 32, 124M and 774M.
# sweep:  decode (prompt 32, 64 new tokens, batch 1 and 32, kv-cache) and
#         prefill (T = 1023 and one new token, batch 1) of cuda and cuda-tp at every count,
#         124M and 774M, float32 and bfloat16, with the GPU's ceilings.
# micro:  gpt2-microbench's NCCL all-reduce and all-gather at a step's sizes
#         (R = 1, 32, 1024 rows; both models' C), median of 5.
# mpi:    the same verify through mpirun -n G (when Open MPI is carried).
# Also: nvidia-smi topo -m into OUT/topo.txt.
set -uo pipefail
out=${1:?usage: tensor-parallel.sh OUT [tests] [verify] [sweep] [micro] [mpi]}
shift
what=${*:-tests verify sweep micro}
source scripts/device/env.sh
mkdir -p "$out"
has() { [[ " $what " == *" $1 "* ]]; }
log() { echo "== $(date +%T) $*"; }
export NCCL_NVLS_ENABLE=0
gpus=$(nvidia-smi -L | wc -l)
nvidia-smi topo -m > "$out/topo.txt" 2>&1
log "$gpus GPUs"; cat "$out/topo.txt"
one=()
max=$gpus
if [ "$gpus" -eq 1 ]; then one=(--one-gpu); max=4; fi
# The counts in 1..max that divide `heads`.
counts() { local c=() n; for ((n = 1; n <= max; n++)); do ((${1} % n == 0)) && c+=("$n"); done; (IFS=,; echo "${c[*]}"); }
c124=$(counts 12) c774=$(counts 20)
log "counts: 124M $c124, 774M $c774 ${one[*]}"

if has tests; then
  log "gpt2_cuda_tests"
  timeout 300 gpt2_cuda_tests --gtest_brief=1 > "$out/cuda-tests.txt" 2>&1
  echo "exit $? ($(tail -1 "$out/cuda-tests.txt"))"; grep -E "FAILED|Failure|SKIPPED" "$out/cuda-tests.txt" | head -20
  grep -E "^\[ *(OK|SKIPPED) *\].*(CudaTp|cuda_tp)" "$out/cuda-tests.txt" | head -5
  log "compute-sanitizer memcheck, cuda-tp tests"
  timeout 240 compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 9 gpt2_cuda_tests --gtest_brief=1 \
    --gtest_filter='CudaTpTest.*:Ranks/CudaTpShardsTest.*2Ranks*:Ranks/CudaTpShardsTest.*3Ranks*' \
    > "$out/memcheck.txt" 2>&1
  echo "exit $?"; tail -3 "$out/memcheck.txt"
fi
if has verify; then
  # 124M every rule; 774M the greedy and median rules (the sampling rules'
  # code is the same, and its recompute runs are long).
  for m in 124M:$c124:all 774M:$c774:median,greedy; do
    model=${m%%:*} rest=${m#*:} list=${rest%%:*} rules=${rest#*:}
    log "verify cuda-tp $model at $list, rules $rules"
    timeout 300 gpt2-bench verify --backend cuda-tp --devices "$list" "${one[@]}" --mode all \
      --rule "$rules" --precision float32,bfloat16 --batch 1,32 --model "synthetic:$model" -q --out "$out/runs" \
      > "$out/verify-$model.txt" 2>&1
    echo "exit $?"; grep -E '^\| cuda-tp|^(FAIL|PASS|verify)' "$out/verify-$model.txt" | cut -c1-220 | head -40
  done
fi
if has sweep; then
  for m in 124M:$c124 774M:$c774; do
    model=${m%%:*} list=${m#*:}
    log "decode sweep $model"
    timeout 400 gpt2-bench --backend cuda,cuda-tp --devices "$list" "${one[@]}" \
      --precision float32,bfloat16 --mode kv-cache --prompt-len 32 --new 64 --batch 1,32 --reps 5 \
      --no-reference --rule greedy --model "synthetic:$model" -q --out "$out/runs" \
      > "$out/decode-$model.txt" 2>&1
    echo "exit $?"; grep -E '^\| cuda' "$out/decode-$model.txt" | cut -d'|' -f2-17
    log "prefill sweep $model (T = 1023)"
    timeout 300 gpt2-bench --backend cuda,cuda-tp --devices "$list" "${one[@]}" \
      --precision float32,bfloat16 --mode kv-cache --prompt-len 1023 --new 1 --reps 5 \
      --no-reference --rule greedy --model "synthetic:$model" -q --out "$out/runs" \
      > "$out/prefill-$model.txt" 2>&1
    echo "exit $?"; grep -E '^\| cuda' "$out/prefill-$model.txt" | cut -d'|' -f2-12
  done
fi
if has micro; then
  for model in 124M 774M; do
    log "collectives at $model's C"
    timeout 240 gpt2-microbench --model "synthetic:$model" --rows 1 \
      --benchmark_filter='^(allreduce|allgather)/' --benchmark_repetitions=5 \
      --benchmark_report_aggregates_only=true --benchmark_min_time=0.05 \
      --benchmark_out="$out/collectives-$model.json" --benchmark_out_format=json \
      > "$out/collectives-$model.txt" 2>&1
    echo "exit $?"; grep -E 'median' "$out/collectives-$model.txt"
  done
fi
if has mpi && command -v mpirun >/dev/null 2>&1; then
  log "verify through mpirun -n $gpus"
  timeout 300 mpirun --allow-run-as-root -n "$gpus" gpt2-bench verify --backend cuda-tp \
    --devices "$gpus" --mode all --precision float32 --model synthetic:124M -q --out "$out/runs" \
    > "$out/verify-mpi.txt" 2>&1
  echo "exit $?"; grep -E '^\| cuda-tp' "$out/verify-mpi.txt" | head
fi
log done
