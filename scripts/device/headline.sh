#!/usr/bin/env bash
# The headline results of reports/README.md for the machine this runs on, in
# one call: decode (5-token prompt, 32 new tokens, kv-cache) and prefill (512
# tokens, 1 new) at 1, 4 and all threads, the lab's workload (5 tokens to 10,
# both modes) at 1-all threads, interleaved, and verify; each sweep measures
# the machine's ceilings too. Usage, from the repository root (on the device
# after scripts/device/bundle.sh here, or here with build/bin on PATH):
#   scripts/device/headline.sh OUT [decode] [prefill] [lab] [verify] [gpu]
# then, here: python3 scripts/reports.py add OUT/runs/*.json
# "gpu" runs the GPU backends' decode, prefill and verify (a GPU machine).
set -uo pipefail
out=${1:?usage: headline.sh OUT [decode] [prefill] [lab] [verify] [gpu]}
shift
what=${*:-decode prefill lab verify}
[ -f scripts/device/env.sh ] && [ -d .devcarry ] && source scripts/device/env.sh
mkdir -p "$out/runs"
has() { [[ " $what " == *" $1 "* ]]; }
all=$(nproc)
cpu=reference,pthreads,openmp,blis,onednn
counts=1,4,$all  # 1, 4 and all threads (1..all on a machine of fewer than 4)
[ "$all" -lt 4 ] && counts=1..$all
run() {  # name, time limit, command...
  local name=$1 limit=$2
  shift 2
  echo "== $name: $*"
  timeout "$limit" "$@" -q --out "$out/runs" >"$out/$name.txt" 2>&1
  echo "exit $?"
  grep -E '^\| [a-z]' "$out/$name.txt" | cut -c1-160 | head -40
}
if has decode; then
  run decode 300 gpt2-bench --backend $cpu --precision all --threads $counts --mode kv-cache \
    --prompt lab-hello --new 32 --reps 5 --reference-reps 1 --interleave
fi
if has prefill; then
  run prefill 300 gpt2-bench --backend pthreads,openmp,blis,onednn --precision all \
    --threads $counts --mode kv-cache --prompt long-512 --new 1 --reps 3 --no-reference \
    --interleave
fi
if has lab; then
  threads=1,2,4,8,16
  [ "$all" -lt 16 ] && threads=1..$all
  run lab 300 gpt2-bench --backend $cpu --precision all --threads $threads --mode all --reps 5 \
    --interleave
fi
if has verify; then
  run verify 400 gpt2-bench verify --backend $cpu --precision all --threads 4,$all --mode all \
    --rule all
fi
if has gpu; then
  run gpu-decode 200 gpt2-bench --backend cuda-naive,cuda --precision all --mode kv-cache \
    --prompt lab-hello --new 32 --reps 10 --no-reference
  run gpu-prefill 200 gpt2-bench --backend cuda-naive,cuda --precision all --mode kv-cache \
    --prompt long-512 --new 1 --reps 10 --no-reference
  run gpu-lab 200 gpt2-bench --backend cuda-naive,cuda --precision all --mode all --reps 10
  run gpu-verify 400 gpt2-bench verify --backend cuda-naive,cuda --precision all --mode all \
    --rule all
fi
tar -C "$out" -czf /tmp/headline.tar.gz . && find "$out" -mindepth 1 -delete &&
  mv /tmp/headline.tar.gz "$out/"
