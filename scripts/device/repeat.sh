#!/usr/bin/env bash
# Repeatable runs on the device machine: gpt2 on the 124M model (the default
# model: datasets/models/gpt2_124M.bin when present, else synthetic:124M), the
# same prompt RUNS times (default 100) with each backend at all the machine's
# threads, every output compared with the first. Prints one line per backend
# and, last, "ALL IDENTICAL" (exit 0) or "DIFFERENCES FOUND" (exit 1).
# Usage, from the repository root (on the device after scripts/device/bundle.sh
# here, or here with build/bin on PATH):
#   scripts/device/repeat.sh OUT [RUNS] [BACKEND...]
# Default backends: reference pthreads openmp blis onednn cuda-naive cuda; one
# that cannot run here (no GPU) is reported as skipped. OUT keeps every output
# that differs from its backend's first, and summary.txt.
set -uo pipefail
out=${1:?usage: repeat.sh OUT [RUNS] [BACKEND...]}
runs=${2:-100}
shift $(($# >= 2 ? 2 : 1))
backends=${*:-reference pthreads openmp blis onednn cuda-naive cuda}
[ -f scripts/device/env.sh ] && [ -d .devcarry ] && source scripts/device/env.sh
case $runs in '' | *[!0-9]*) echo "repeat.sh: RUNS must be a whole number, not '$runs'" >&2; exit 2 ;; esac
mkdir -p "$out"
threads=$(nproc)
prompt="31373 612 338 635 281"  # "hello there's also an"
status=0
{
  echo "gpt2 repeatability: $runs runs per backend, 124M default model, kv-cache, -n 40, prompt $prompt, $(hostname), $(date -u +%FT%TZ)"
  for b in $backends; do
    t=$threads
    [ "$b" = reference ] && t=1
    cmd=(gpt2 --backend "$b" --threads "$t" --mode kv-cache -n 40 $prompt)
    if ! first=$("${cmd[@]}" 2>"$out/$b.err"); then
      if grep -qE "cannot run here|no NVIDIA driver|no CUDA device|no GPU" "$out/$b.err"; then
        echo "$b: skipped: $(head -1 "$out/$b.err")"
        continue
      fi
      echo "$b: FAILED: $(head -1 "$out/$b.err")"
      status=1
      continue
    fi
    printf '%s\n' "$first" >"$out/$b.first.txt"
    differ=0 failed=0
    start=$(date +%s.%N)
    for ((i = 2; i <= runs; i++)); do
      if ! got=$("${cmd[@]}" 2>>"$out/$b.err"); then
        failed=$((failed + 1))
      elif [ "$got" != "$first" ]; then
        differ=$((differ + 1))
        printf '%s\n' "$got" >"$out/$b.run$i.txt"
      fi
    done
    secs=$(echo "$(date +%s.%N) - $start" | bc 2>/dev/null || echo "?")
    tokens=$(printf '%s\n' "$first" | tr '\n' ' ')
    if [ $differ -eq 0 ] && [ $failed -eq 0 ]; then
      echo "$b ($t threads): $runs runs, all identical ($secs s for runs 2-$runs): $tokens"
    else
      echo "$b ($t threads): $runs runs, $differ differ from run 1, $failed failed: $tokens"
      status=1
    fi
  done
  if [ $status -eq 0 ]; then echo "ALL IDENTICAL"; else echo "DIFFERENCES FOUND"; fi
} | tee "$out/summary.txt"
grep -q '^ALL IDENTICAL$' "$out/summary.txt"
