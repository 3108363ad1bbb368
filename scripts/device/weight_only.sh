#!/usr/bin/env bash
# Issue 14's device experiment: the weight-only precisions (bf16w, int8w) beside
# float32, onednn bfloat16 and llama.cpp (built from source here: F32, BF16,
# Q8_0) on the default 124M model, each part in one call of the device tool.
#   bash scripts/device/weight_only.sh OUT LLAMA_SRC_TAR decode     (~8 min)
#   bash scripts/device/weight_only.sh OUT LLAMA_SRC_TAR agreement  (~7 min)
#   bash scripts/device/weight_only.sh OUT LLAMA_SRC_TAR kl         (llama.cpp's KL only)
# decode: gpt2-bench decode (kv-cache, batch 1, lab-hello + 64 new tokens) at
#   1, 2, 4, 8, 16 threads, interleaved, with the read bandwidth measured in
#   the same run; then llama-bench -p 128 -n 64 at the same thread counts; then
#   prefill of a 128-token prompt at 16 threads.
# agreement: gpt2-bench agreement at 16 threads (pthreads bf16w, int8w; onednn
#   bfloat16), llama-perplexity --kl-divergence of BF16 and Q8_0 against F32 on
#   the tokenizer corpus's English prose, and gpt2-microbench's per-op decode table (T = 1) at 1
#   and 16 threads for float32, bf16w and int8w.
# LLAMA_SRC_TAR: a llama.cpp source tarball (ggml, src, include, common, cmake,
# gguf-py, examples/{llama-bench,quantize,perplexity}); llmc_to_gguf.py beside it.
set -uo pipefail
out=${1:?OUT}; tarball=${2:?LLAMA_SRC_TAR}; part=${3:?decode or agreement}
source scripts/device/env.sh
mkdir -p "$out"
log() { echo "== $(date +%T) $*"; }
threads=1,2,4,8,16

# The default model's llm.c file: the first run writes it to datasets/cache.
log "model"
gpt2 --model default 464 2068 >/dev/null 2>&1
ckpt=$(ls datasets/cache/synthetic-124M-seed2-*.bin | head -1)

build_llama() {  # tools...
  local src=/tmp/llama-src b=/tmp/llama-build
  mkdir -p $src && tar -C $src -xJf "$tarball"
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\ninclude_directories(${CMAKE_CURRENT_SOURCE_DIR})\n' > $src/examples/CMakeLists.txt
  for t in "$@"; do echo "add_subdirectory($t)" >> $src/examples/CMakeLists.txt; done
  cmake -S $src -B $b -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF > "$out/llama-configure.log" 2>&1
  local targets=""
  for t in "$@"; do targets="$targets llama-${t#llama-}"; done
  cmake --build $b -j"$(nproc)" --target $targets > "$out/llama-build.log" 2>&1
  (cd $src && git log -1 --format=%H 2>/dev/null || true) > "$out/llama-commit.txt"
  local g=/tmp/llama-models
  mkdir -p $g
  GGUF_PY=$src/gguf-py python3 "$(dirname "$tarball")/llmc_to_gguf.py" "$ckpt" $g/F32.gguf \
    datasets/tokenizer/encoder.json datasets/tokenizer/vocab.bpe > "$out/llama-convert.log" 2>&1
  for q in BF16 Q8_0; do $b/bin/llama-quantize $g/F32.gguf $g/$q.gguf $q "$(nproc)" >> "$out/llama-convert.log" 2>&1; done
  ls -la $g >> "$out/llama-convert.log"
}

if [ "$part" = decode ]; then
  log "llama.cpp build"
  build_llama llama-bench quantize
  log "gpt2-bench decode"
  timeout 330 gpt2-bench --backend pthreads,onednn --precision float32,bf16w,int8w,bfloat16 \
    --threads $threads --mode kv-cache --prompt lab-hello --new 64 --reps 5 --no-reference \
    --interleave -q --out "$out/runs" > "$out/decode.txt" 2>&1
  echo "exit $?"; grep -E '^\| (pthreads|onednn|[0-9])' "$out/decode.txt" | cut -c1-150
  log "llama-bench"
  timeout 200 /tmp/llama-build/bin/llama-bench -m /tmp/llama-models/F32.gguf,/tmp/llama-models/BF16.gguf,/tmp/llama-models/Q8_0.gguf \
    -t $threads -p 128 -n 64 -r 3 -o json > "$out/llama-bench.json" 2> "$out/llama-bench.err"
  echo "exit $?"
  python3 - "$out/llama-bench.json" <<'PY'
import json, sys
for x in json.load(open(sys.argv[1])):
    kind = f"pp{x['n_prompt']}" if x['n_prompt'] else f"tg{x['n_gen']}"
    print(f"llama.cpp {x['model_type']:<24} threads {x['n_threads']:>2} {kind:<6} {x['avg_ts']:9.1f} +- {x['stddev_ts']:.1f} tokens/s")
PY
  log "gpt2-bench prefill 128"
  ids=$(awk '$1 == "long-256" {for (i = 3; i <= 130; i++) printf "%s ", $i}' datasets/prompts.txt)
  timeout 120 gpt2-bench --backend pthreads,onednn --precision float32,bf16w,int8w,bfloat16 \
    --threads 16 --mode kv-cache --tokens "$ids" -n 129 --reps 5 --no-reference -q \
    --out "$out/runs" > "$out/prefill.txt" 2>&1
  echo "exit $?"; grep -E '^\| (pthreads|onednn)' "$out/prefill.txt" | cut -c1-150
fi

if [ "$part" = agreement ] || [ "$part" = kl ]; then
  [ "$part" = kl ] || {
  log "gpt2-bench agreement"
  timeout 200 gpt2-bench agreement --backend pthreads,onednn --precision bf16w,int8w,bfloat16 \
    --threads 16 --rule greedy -q --out "$out/runs" > "$out/agreement.txt" 2>&1
  echo "exit $?"; cat "$out/agreement.txt"
  }
  log "llama.cpp build"
  build_llama perplexity quantize
  log "llama-perplexity KL"
  cp datasets/tokenizer/corpus/prose-en.txt /tmp/kl.txt  # valid UTF-8 (llama.cpp refuses invalid)
  p=/tmp/llama-build/bin/llama-perplexity
  timeout 60 $p -m /tmp/llama-models/F32.gguf -f /tmp/kl.txt -c 128 --chunks 64 -t 16 \
    --kl-divergence-base /tmp/kl-base.bin > "$out/kl-F32.txt" 2>&1
  for q in BF16 Q8_0; do
    timeout 60 $p -m /tmp/llama-models/$q.gguf -t 16 --kl-divergence-base /tmp/kl-base.bin \
      --kl-divergence > "$out/kl-$q.txt" 2>&1
    echo "exit $? $q"; grep -E "Mean +KLD|Maximum KLD|Same top p|RMS Δp|Mean +Δp" "$out/kl-$q.txt"
  done
  [ "$part" = kl ] || {
  log "gpt2-microbench decode ops"
  timeout 150 gpt2-microbench --threads=1,16 --rows=1 \
    --benchmark_filter='^(read_bandwidth|(matmul_[a-z_]+|attention|layernorm|softmax|decode)/pthreads)' \
    --benchmark_min_time=0.2 --benchmark_out="$out/microbench-decode.json" \
    --benchmark_out_format=json > "$out/microbench-decode.txt" 2>&1
  echo "exit $?"; grep -E "^(matmul|decode|read)" "$out/microbench-decode.txt" | head -60
  }
fi
log "done"
tar -C "$out" -czf /tmp/weight-only.tar.gz . && find "$out" -mindepth 1 -delete && mv /tmp/weight-only.tar.gz "$out/"
