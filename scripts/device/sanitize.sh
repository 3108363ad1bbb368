#!/usr/bin/env bash
# compute-sanitizer's four tools (memcheck, racecheck, initcheck, synccheck)
# over every CUDA backend (cuda-naive, cuda-tiled, cuda float32 and bfloat16,
# cuda-tp at 1 rank and at 2 ranks on one GPU), each alone in both modes,
# batched (kv-cache: --prompts of 3 prompts of other lengths at --batch 3) and
# with beams (kv-cache, --beams 4: the caches' copies run), on the GPU
# machine. Each run is `compute-sanitizer --tool T --error-exitcode 9 gpt2
# --backend B ...` on the tiny model (small enough for racecheck, which
# watches every shared-memory access: on the 124M model the tiled kernels'
# runs did not end in 400 s), a few steps each, and memcheck once more on the
# default (124M) model alone in kv-cache mode (GPT-2's own shapes), JOBS (6)
# runs at a time. Prints one line per run (the tool's
# summary and the exit status) and a table at the end; writes
# OUT/sanitizers.md and the logs in OUT/sanitizers.tar.gz. Usage, from the
# repository root there, after scripts/device/bundle.sh here:
#   bash scripts/device/sanitize.sh OUT [tool...]
# (reports/studies/gpu-sanitizers/ is its record.)
set -uo pipefail
out=${1:?usage: sanitize.sh OUT [memcheck racecheck initcheck synccheck]}
shift
tools=${*:-memcheck racecheck initcheck synccheck}
source scripts/device/env.sh
mkdir -p "$out/logs"
gpt2 --model default 464 2068 >/dev/null 2>&1  # writes the default checkpoint once
printf '31373 612 338 635 281\n464 2068\n40 588 284 2822 257 1588 4171\n' > "$out/prompts.txt"
gpt2 --model synthetic:tiny 464 2068 >/dev/null 2>&1
configs=("cuda-naive float32 1" "cuda-tiled float32 1" "cuda float32 1" "cuda bfloat16 1"
         "cuda-tp float32 1" "cuda-tp float32 2")
# One run: its log, then one line "tool backend precision mode run exit summary".
one() {
  local tool=$1 backend=$2 precision=$3 ranks=$4 mode=$5 run=$6 model=$7 args label
  label=$backend
  [ "$backend" = cuda-tp ] && label="cuda-tp:$ranks"
  local log="$out/logs/$tool-$label-$precision-$mode-$run-${model#synthetic:}.txt"
  case "$run" in
    alone) args=(-n 8 31373 612 338 635 281) ;;
    batched) args=(--prompts "$out/prompts.txt" --batch 3 -n 12) ;;
    beams) args=(--beams 4 --num-return 2 -n 10 31373 612 338 635 281) ;;
  esac
  [ "$backend" = cuda-tp ] && args+=(--devices "$ranks")
  [ "$ranks" -gt 1 ] && args+=(--one-gpu)
  timeout 300 compute-sanitizer --tool "$tool" --error-exitcode 9 \
    gpt2 --model "$model" --backend "$backend" --precision "$precision" --mode "$mode" \
    "${args[@]}" >"$log" 2>&1
  local status=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1 | sed 's/^========= //')
  echo "$tool $label $precision $mode $run $model $status ${summary:-(no summary: see the log)}" |
    tee -a "$out/results.raw"
}
export -f one
export out
# Every tool, backend, precision and mode alone; batched in kv-cache mode;
# JOBS (6) runs at a time on the one GPU.
for tool in $tools; do
  for cfg in "${configs[@]}"; do
    for run in "kv-cache alone" "recompute alone" "kv-cache batched" "kv-cache beams"; do
      echo "$tool $cfg $run synthetic:tiny"
    done
    [ "$tool" = memcheck ] && echo "$tool $cfg kv-cache alone default"
  done
done | xargs -P "${JOBS:-6}" -L 1 bash -c 'one "$@"' _ | sort > "$out/results.txt"
cat "$out/results.txt"
failed=$(awk '$7 != 0' "$out/results.txt" | wc -l)
table="| tool | backend | precision | mode | run | model | exit | summary |\n|---|---|---|---|---|---|---|---|\n"
while read -r tool backend precision mode run model status summary; do
  table+="| $tool | $backend | $precision | $mode | $run | $model | $status | $summary |\n"
done < "$out/results.txt"
{
  echo "# compute-sanitizer over the CUDA backends"
  echo
  echo "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1);" \
       "$(compute-sanitizer --version | grep -i version | head -1); commit $(cat .devcarry/COMMIT 2>/dev/null)"
  echo
  printf '%b' "$table"
  echo
  echo "Runs that did not exit 0: $failed."
} > "$out/sanitizers.md"
cat "$out/sanitizers.md"
tar -C "$out" -czf "$out/sanitizers.tar.gz" logs prompts.txt results.txt && rm -rf "$out/logs"
