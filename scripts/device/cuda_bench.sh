#!/usr/bin/env bash
# The CUDA backends on the GPU machine, in one call: their tests, a per-kernel
# table of a few decode steps (Nsight Compute), decode (5-token prompt, 64 new
# tokens) and prefill (1023 tokens, then 1 new: 1024 positions) through
# gpt2-bench at float32 and bfloat16. Usage, from the repository root there,
# after scripts/device/bundle.sh here: scripts/device/cuda_bench.sh OUT [what...]
# what: tests ncu ncu-prefill decode prefill (default: tests ncu decode prefill).
# Everything lands in
# OUT/cuda-bench.tar.gz.
set -uo pipefail
out=${1:?usage: cuda_bench.sh OUT [tests] [ncu] [decode] [prefill]}
shift
what=${*:-tests ncu decode prefill}
root=$PWD
source scripts/device/env.sh
mkdir -p "$out"
has() { [[ " $what " == *" $1 "* ]]; }
ids1023=$(python3 -c "print(' '.join(str((i * 7919) % 50000) for i in range(1023)))")

if has tests; then
  gpt2_cuda_tests --gtest_brief=1 >"$out/cuda-tests.txt" 2>&1
  echo "cuda tests: exit $? ($(tail -1 "$out/cuda-tests.txt"))"
fi
if has ncu; then
  for p in float32 bfloat16; do
    (cd "$out" && timeout 240 ncu --metrics gpu__time_duration.sum,dram__bytes.sum --csv \
      --log-file "ncu-decode-$p.csv" gpt2 --backend cuda --precision "$p" --mode kv-cache -n 9 \
      31373 612 338 635 281 >/dev/null 2>>ncu.err)
    python3 "$root/scripts/device/ncu_summary.py" "$out/ncu-decode-$p.csv" >"$out/ncu-decode-$p.md"
    echo "== ncu $p"; head -14 "$out/ncu-decode-$p.md"; tail -1 "$out/ncu-decode-$p.md"
  done
fi
if has ncu-prefill; then
  for p in float32 bfloat16; do
    (cd "$out" && timeout 240 ncu --metrics gpu__time_duration.sum,dram__bytes.sum --csv \
      --log-file "ncu-prefill-$p.csv" gpt2-bench --backend cuda --precision "$p" \
      --mode kv-cache --tokens "$ids1023" --new 1 --reps 1 --warmup 0 --no-reference \
      --no-overhead --no-ceilings -q --out "$out/runs" >/dev/null 2>>ncu.err)
    python3 "$root/scripts/device/ncu_summary.py" "$out/ncu-prefill-$p.csv" >"$out/ncu-prefill-$p.md"
    echo "== ncu prefill $p"; head -12 "$out/ncu-prefill-$p.md"; tail -1 "$out/ncu-prefill-$p.md"
  done
fi
if has decode; then
  timeout 200 gpt2-bench --backend cuda --precision all --mode kv-cache --prompt lab-hello \
    --new 64 --reps 10 --no-reference -q --out "$out/runs" >"$out/decode.txt" 2>&1
  echo "== decode"; head -5 "$out/decode.txt" | cut -c1-200
fi
if has prefill; then
  timeout 200 gpt2-bench --backend cuda --precision all --mode kv-cache --tokens "$ids1023" \
    --new 1 --reps 10 --no-reference -q --out "$out/runs" >"$out/prefill.txt" 2>&1
  echo "== prefill"; head -5 "$out/prefill.txt" | cut -c1-200
fi
# Everything in one archive (the device tool returns few files).
tar -C "$out" -czf /tmp/cuda-bench.tar.gz . &&
  find "$out" -mindepth 1 -delete && mv /tmp/cuda-bench.tar.gz "$out/"
