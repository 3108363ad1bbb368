#!/usr/bin/env bash
# Issue 20's device experiment: batched decode on the device's CPU (16 threads)
# beside llama-batched-bench (llama.cpp built from source here, F32 and Q8_0 of
# the default 124M model), in one call of the device tool (~8 min):
#   bash scripts/device/batched.sh OUT LLAMA_SRC_TAR [sweep|ops|verify|all]
# sweep: llama-batched-bench -npp 128 -ntg 64 -npl 1,2,4,8,16,32, then
#   gpt2-bench's batch sweep of the same workload (pthreads float32, bf16w,
#   int8w; the ceilings measured in the same run), then llama-batched-bench
#   again: its two rounds bracket ours.
# ops: gpt2-microbench's per-op table at 1, 16 and 32 rows on 16 threads.
# verify: gpt2-bench verify --batch 4,16 over every CPU backend on 16 threads.
# LLAMA_SRC_TAR: a llama.cpp source tarball (ggml, src, include, common, cmake,
# gguf-py, examples/{batched-bench,quantize}); llmc_to_gguf.py beside it.
set -uo pipefail
out=${1:?OUT}; tarball=${2:?LLAMA_SRC_TAR}; part=${3:-all}
source scripts/device/env.sh
mkdir -p "$out"
log() { echo "== $(date +%T) $*"; }
has() { [ "$part" = all ] || [ "$part" = "$1" ]; }

log "model"
gpt2 --model default 464 2068 >/dev/null 2>&1
ckpt=$(ls datasets/cache/synthetic-124M-seed2-*.bin | head -1)
py=python3; $py -c 'import numpy' 2>/dev/null || py=/usr/bin/python3  # the one that has numpy

build_llama() {
  local src=/tmp/llama-src b=/tmp/llama-build g=/tmp/llama-models
  mkdir -p $src $g && tar -C $src -xJf "$tarball"
  mkdir -p $src/pocs && : > $src/pocs/CMakeLists.txt  # llama.cpp's proofs of concept: none built
  printf 'find_package(Threads REQUIRED)\nllama_add_compile_flags()\ninclude_directories(${CMAKE_CURRENT_SOURCE_DIR})\nadd_subdirectory(batched-bench)\nadd_subdirectory(quantize)\n' \
    > $src/examples/CMakeLists.txt
  cmake -S $src -B $b -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DLLAMA_CURL=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF > "$out/llama-configure.log" 2>&1
  cmake --build $b -j"$(nproc)" --target llama-batched-bench llama-quantize > "$out/llama-build.log" 2>&1
  GGUF_PY=$src/gguf-py $py "$(dirname "$tarball")/llmc_to_gguf.py" "$ckpt" $g/F32.gguf \
    datasets/tokenizer/encoder.json datasets/tokenizer/vocab.bpe > "$out/llama-convert.log" 2>&1
  $b/bin/llama-quantize $g/F32.gguf $g/Q8_0.gguf Q8_0 "$(nproc)" >> "$out/llama-convert.log" 2>&1
  ls -la $g >> "$out/llama-convert.log"
}
llama_round() {  # $1: round name
  for q in F32 Q8_0; do
    timeout 150 /tmp/llama-build/bin/llama-batched-bench -m /tmp/llama-models/$q.gguf -c 8192 -b 2048 \
      -ub 512 -npp 128 -ntg 64 -npl 1,2,4,8,16,32 -t 16 -tb 16 > "$out/llama-$q-$1.txt" 2>&1
    echo "exit $? llama.cpp $q round $1"
    grep -E '^\| +128' "$out/llama-$q-$1.txt"
  done
}

if has sweep; then
  log "llama.cpp build"
  build_llama
  log "llama-batched-bench round 1"; llama_round 1
  log "gpt2-bench batch sweep"
  timeout 300 gpt2-bench --backend pthreads --precision float32,bf16w,int8w --threads 16 \
    --mode kv-cache --prompt-len 128 --new 64 --batch 1,2,4,8,16,32 --reps 3 --no-reference \
    --interleave -q --out "$out/runs" > "$out/sweep.txt" 2>&1
  echo "exit $?"; grep -E '^\| (pthreads|[0-9])' "$out/sweep.txt" | cut -d'|' -f2-16
  log "llama-batched-bench round 2"; llama_round 2
fi
if has ops; then
  log "gpt2-microbench ops"
  timeout 150 gpt2-microbench --threads=16 --rows=1,16,32 \
    --benchmark_filter='^(read_bandwidth|peak_fp32_mul_add/|(matmul_[a-z_]+|attention|layernorm|softmax|decode)/pthreads)' \
    --benchmark_min_time=0.2 --benchmark_out="$out/microbench-ops.json" \
    --benchmark_out_format=json > "$out/microbench-ops.txt" 2>&1
  echo "exit $?"; grep -E "^(matmul|decode|read|peak)" "$out/microbench-ops.txt" | sed 's/  */ /g'
fi
if has verify; then
  log "gpt2-bench verify --batch"
  timeout 200 gpt2-bench verify --backend pthreads,openmp,blis,onednn --precision float32,bf16w,int8w \
    --threads 16 --mode kv-cache --batch 4,16 --rule median,greedy -q --out "$out/runs" \
    > "$out/verify-batch.txt" 2>&1
  echo "exit $?"; grep -E '^\| ' "$out/verify-batch.txt" | head -40
fi
log "done"
tar -C "$out" -czf /tmp/batched.tar.gz . && find "$out" -mindepth 1 -delete && mv /tmp/batched.tar.gz "$out/"
