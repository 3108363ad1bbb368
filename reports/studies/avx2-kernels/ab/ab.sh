#!/bin/bash
# A/B of the bit-exact kernels, old (16-lane vectors everywhere) against new (one register per vector),
# with the kernels capped at avx2 and at avx512, in one run: decode at 1 thread (kv-cache, 32 new tokens
# after lab-hello) at float32, bf16w, int8w beside the reference and blis; the lab's workload (recompute).
cd /work/main
out=/tmp/avx2study/ab; mkdir -p $out
for round in 1 2 3; do
for isa in avx2 avx512; do
  for v in old new; do
    GPT2_MAX_CPU_ISA=$isa /tmp/avx2study/gpt2-bench-$v --backend pthreads --precision float32,bf16w,int8w --threads 1 --mode kv-cache --prompt lab-hello --new 32 --reps 3 --no-overhead --no-reference -q --out $out/runs > $out/decode-$isa-$v-$round.txt 2>&1
    GPT2_MAX_CPU_ISA=$isa /tmp/avx2study/gpt2-bench-$v --backend pthreads --threads 1 --mode recompute --reps 3 --no-overhead --no-ceilings -q --out $out/runs > $out/lab-$isa-$v-$round.txt 2>&1
  done
done
done
