#!/usr/bin/env bash
# compute-sanitizer's four tools (memcheck, racecheck, initcheck, synccheck)
# over every CUDA backend, precision and mode, alone and batched, on the GPU
# machine: each run is `compute-sanitizer --tool T --error-exitcode 9 gpt2
# --backend B --precision P --mode M -n 8 31373 612 338 635 281` in both
# modes, and batched (kv-cache: --prompts of 3 prompts of other lengths at
# --batch 3, -n 12), on the default model, JOBS (6) at a time. Prints one line per run (the tool's summary and the exit status) and
# a table at the end; writes OUT/sanitizers.md and the logs in
# OUT/sanitizers.tar.gz. Usage, from the repository root there, after
# scripts/device/bundle.sh here:
#   bash scripts/device/sanitize.sh OUT [tool...]
set -uo pipefail
out=${1:?usage: sanitize.sh OUT [memcheck racecheck initcheck synccheck]}
shift
tools=${*:-memcheck racecheck initcheck synccheck}
source scripts/device/env.sh
mkdir -p "$out/logs"
gpt2 --model default 464 2068 >/dev/null 2>&1  # writes the default checkpoint once
printf '31373 612 338 635 281\n464 2068\n40 588 284 2822 257 1588 4171\n' > "$out/prompts.txt"
configs=("cuda-naive float32" "cuda-tiled float32" "cuda float32" "cuda bfloat16")
# One run: its log, then one line "tool backend precision mode run exit summary".
one() {
  local tool=$1 backend=$2 precision=$3 mode=$4 run=$5 args
  local log="$out/logs/$tool-$backend-$precision-$mode-$run.txt"
  if [ "$run" = alone ]; then
    args=(-n 8 31373 612 338 635 281)
  else
    args=(--prompts "$out/prompts.txt" --batch 3 -n 12)
  fi
  timeout 400 compute-sanitizer --tool "$tool" --error-exitcode 9 \
    gpt2 --backend "$backend" --precision "$precision" --mode "$mode" "${args[@]}" >"$log" 2>&1
  local status=$?
  local summary
  summary=$(grep -E "ERROR SUMMARY|RACECHECK SUMMARY" "$log" | tail -1 | sed 's/^========= //')
  echo "$tool $backend $precision $mode $run $status ${summary:-(no summary: see the log)}" |
    tee -a "$out/results.raw"
}
export -f one
export out
# Every tool, backend, precision and mode alone; batched in kv-cache mode;
# JOBS (6) runs at a time on the one GPU.
for tool in $tools; do
  for cfg in "${configs[@]}"; do
    for run in "kv-cache alone" "recompute alone" "kv-cache batched"; do echo "$tool $cfg $run"; done
  done
done | xargs -P "${JOBS:-6}" -L 1 bash -c 'one "$@"' _ | sort > "$out/results.txt"
cat "$out/results.txt"
failed=$(awk '$6 != 0' "$out/results.txt" | wc -l)
table="| tool | backend | precision | mode | run | exit | summary |\n|---|---|---|---|---|---|---|\n"
while read -r tool backend precision mode run status summary; do
  table+="| $tool | $backend | $precision | $mode | $run | $status | $summary |\n"
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
