#!/usr/bin/env bash
# Builds gpt2-bench and runs every check the CI runs (README: "Tests: what runs where").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
section() { printf '\n==== %s (%ds)\n' "$1" "$SECONDS"; }

section "Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$jobs"

section "Unit tests and the tests on the 124M default model (label full)"
ctest --test-dir build --output-on-failure -j"$jobs"

# The CUDA tests run on a GPU machine; here they say in one line why not.
if [ -x build/bin/gpt2_cuda_tests ]; then
  build/bin/gpt2_cuda_tests --gtest_brief=1 || [ $? -eq 77 ]
fi

section "The equality gate: every backend, 1 and 2 threads, both modes"
# The reference itself is held to the same goldens by the test
# goldens.synthetic-124M above (recompute mode, every rule, bit for bit), so the
# gate runs the other backends: the bit-exact ones on every rule, the
# reordering ones (whose sampled tokens may flip at a near tie, which verify
# reports without failing) on median and greedy (README: "Tests: what runs where").
build/bin/gpt2-bench verify --backend pthreads,openmp --threads 1..2 --mode all --rule all \
  --jobs "$jobs"
build/bin/gpt2-bench verify --backend blis,onednn --threads 1..2 --mode all \
  --rule median,greedy --jobs "$jobs"

section "The equality gate at bf16w and int8w: bit for bit against their own goldens"
build/bin/gpt2-bench verify --backend pthreads,openmp --precision bf16w,int8w --threads 1..2 \
  --mode kv-cache --rule median --jobs "$jobs"

section "ThreadSanitizer: the pools and the backends (clang, LLVM OpenMP with Archer)"
# Without the blis and onednn backends: their libraries are not instrumented
# and run on GCC's OpenMP runtime (libgomp), which clang's libomp cannot watch;
# without the CUDA backends, which this machine cannot run; the backends at
# float32 only (bf16w and int8w run the same threads over other weights).
CC=clang-14 CXX=clang++-14 cmake -S . -B build-tsan -DGPT2_SANITIZE_THREAD=ON \
  -DGPT2_WITH_BLIS=OFF -DGPT2_WITH_ONEDNN=OFF -DGPT2_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-tsan -j"$jobs" --target gpt2_tests
OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so \
TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1" \
  build-tsan/bin/gpt2_tests \
  --gtest_filter='Executors/*:ThreadPoolTest.*:ExecutorsAndThreads/*:AllBackends/*:SessionTest.*:AllLinearLayers/*:-AllBackends/*_bf16w:AllBackends/*_int8w'

section "AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests, every fuzz target (scripts/run-sanitizers.sh)"
bash scripts/run-sanitizers.sh

section "All checks passed"
