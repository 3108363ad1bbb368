#!/usr/bin/env bash
# Builds gpt2-bench and runs every check the CI runs (README: "Tests: what runs where").
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
section() { printf '\n==== %s (%ds)\n' "$1" "$SECONDS"; }
# However the run ends, it ends naming every test that did not run here and
# why (skipped, or registered as left out: no GPU, no MPI, no node), and the
# backends this machine cannot gate.
rm -f build/ctest-junit.xml build-asan/ctest-junit.xml
summary() {
  local rc=$?
  section "What did not run here, and why"
  python3 scripts/ci-summary.py build/ctest-junit.xml \
    $([ -f build-asan/ctest-junit.xml ] && echo build-asan/ctest-junit.xml) 2>&1 || true
  if [ -x build/bin/gpt2-bench ]; then
    echo "Backends and precisions the equality gate could not run here:"
    build/bin/gpt2-bench backends 2>&1 | awk -F'|' 'NR <= 2 || $9 !~ /^ *- *$/' || true
  fi
  exit $rc
}
trap summary EXIT

# Each build is a fresh one here: the tools' and tests' sources compiled 8 to a
# unit (GPT2_UNITY_BUILD, CMakeLists.txt), a third of the compile time.
section "Release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DGPT2_UNITY_BUILD=ON
cmake --build build -j"$jobs"

section "Unit tests and the tests on the 124M default model (label full)"
ctest --test-dir build --output-on-failure -j"$jobs" --output-junit "$PWD/build/ctest-junit.xml"

# The tests that wait for the server's engine, the scheduler and their threads,
# 5 times more each while two busy loops load both cores (scripts/repeat-tests.sh;
# the README's tests section gives the 50-repeat run).
section "The server's and the scheduler's tests, 5 repeats under load"
# (Those that wait for events; the end-to-end sweeps among them, which wait for
# nothing but their processes, run once above: the concurrent and load-scenario
# requests, the slowloris test's 10 s of trickling, the scheduler's sweeps over
# every backend and precision.)
REPEAT_TESTS='^(ServeTest|ServeLimitsTest|ServeAttackTest|EngineTest|SchedulerTest)\.' \
REPEAT_EXCLUDE='ConcurrentRequestsEqualTheirSequentialRuns|TheLoadScenariosRunAgainstIt|TricklingConnectionsStallNobody|EveryRequestGetsWhatItGetsAloneOnEveryBitExactBackend|TheWeightOnlyPrecisionsToo' \
  bash scripts/repeat-tests.sh 5 build

# The CUDA tests run on a GPU machine; here they say in one line why not.
if [ -x build/bin/gpt2_cuda_tests ]; then
  build/bin/gpt2_cuda_tests --gtest_brief=1 || [ $? -eq 77 ]
fi

# The equality gate covers every backend the registry says runs here (gpt2-bench
# backends), so a new backend is gated the day it lands: the bit-exact ones on
# every rule, the reordering ones (whose sampled tokens may flip at a near tie,
# which verify reports without failing) on median and greedy.
bench=build/bin/gpt2-bench
exact=$($bench backends --list --numerics bit-exact)
reordered=$($bench backends --list --numerics reordered)
weight_only=$($bench backends --list --numerics bit-exact --precision bf16w,int8w --except reference)
exact_kernels=$($bench backends --list --numerics bit-exact --except reference)
echo "bit-exact: $exact; reordering: $reordered; weight-only: $weight_only"
# Every golden file the gate names must be committed (--goldens required).
verify() { $bench verify -q --goldens required --jobs "$jobs" "$@"; }

# The tiny model: the whole matrix (every prompt, precision, mode and rule, 1 to
# 3 threads), in seconds, for the widest kernels this CPU runs and again for
# each narrower instruction set (the kernels capped by GPT2_MAX_CPU_ISA, oneDNN
# by ONEDNN_MAX_CPU_ISA), so that the AVX2 and baseline paths of the bit-exact
# kernels are gated whole, not only op by op, on any CPU (without the serial
# reference there: it has no SIMD paths).
tiny_gate() {  # $1: the bit-exact backends
  verify --model synthetic:tiny --backend "$1" --precision float32,bf16w,int8w \
    --threads 1..3 --mode all --rule all
  verify --model synthetic:tiny --backend "$reordered" --precision all --threads 1..3 \
    --mode all --rule median,greedy
}
isa=$($bench backends --kernels-isa)
section "The equality gate on the tiny model ($isa kernels): every backend, precision, mode, rule"
tiny_gate "$exact"
# The needle test: each golden prompt inside batches of 3 (other goldens and
# fillers joining at other steps), every bit-exact row held to its goldens.
section "The batched equality gate on the tiny model: the goldens inside batches of 3"
verify --model synthetic:tiny --backend "$exact" --precision float32,bf16w,int8w --threads 3 \
  --mode kv-cache --rule all --batch 3
verify --model synthetic:tiny --backend "$reordered" --precision all --threads 2 \
  --mode kv-cache --rule median,greedy --batch 3
# Beam search (runtime/beam_search.h) against the reference's beam goldens:
# every backend, precision, mode and committed setting; bit-exact rows bit for
# bit (tokens, scores, each beam's path of sums).
section "The beam search gate on the tiny model: every backend, precision, mode and setting"
verify --model synthetic:tiny --backend "$exact,$reordered" --precision float32,bf16w,int8w \
  --threads 1..2 --mode all --rule none --beams all
case "$isa" in
  avx512) caps="avx2 generic" ;;
  avx2) caps="generic" ;;
  *) caps="" ;;
esac
for cap in $caps; do
  section "The equality gate on the tiny model, the kernels capped at $cap (oneDNN at AVX2)"
  GPT2_MAX_CPU_ISA=$cap ONEDNN_MAX_CPU_ISA=AVX2 tiny_gate "$exact_kernels"
done

# The 124M default model: every backend, mode and rule, at the shapes of GPT-2,
# at 2 threads (1 and 3 threads are the tiny model's, whole matrix above). The
# reference itself is held to the same goldens by the tests goldens.synthetic-124M*
# above (every rule, bit for bit; in recompute mode, the prompts of up to 100
# tokens). The 124M model's recompute rows, long prompts of up to 900 tokens,
# are most of this stage's cost.
section "The equality gate on the 124M model: every backend, mode and rule"
verify --backend "$exact_kernels" --threads 2 --mode kv-cache --rule all
verify --backend "$exact_kernels" --threads 2 --mode recompute --rule all
verify --backend "$reordered" --threads 2 --mode kv-cache --rule median,greedy
verify --backend "$reordered" --threads 2 --mode recompute --rule median,greedy

section "The batched equality gate on the 124M model: the goldens inside batches of 4"
verify --backend "$(echo "$exact_kernels" | cut -d, -f1)" --precision float32,int8w --threads 2 \
  --mode kv-cache --rule greedy --batch 4
verify --backend "$reordered" --threads 2 --mode kv-cache --rule greedy --batch 4

section "The beam search gate on the 124M model: every backend, each setting"
verify --backend "$exact_kernels,$reordered" --threads 2 --mode kv-cache --rule none --beams all
verify --backend "$weight_only" --precision bf16w,int8w --threads 2 --mode kv-cache --rule none \
  --beams beams-k4

section "The equality gate at bf16w and int8w on the 124M model: bit for bit against their own goldens"
verify --backend "$weight_only" --precision bf16w,int8w --threads 1..2 --mode kv-cache \
  --rule median

section "ThreadSanitizer: the pools, the backends, the scheduler and the engine (clang, LLVM OpenMP with Archer)"
# One test binary of the code that runs on several threads (gpt2_thread_tests),
# without the blis and onednn backends: their libraries are not instrumented
# and run on GCC's OpenMP runtime (libgomp), which clang's libomp cannot watch;
# without the CUDA backends, which this machine cannot run; the backends at
# float32 only (bf16w and int8w run the same threads over other weights), at
# 2 threads and more (a pool of one runs on its caller: nothing to race), and
# without the single-threaded SIMD kernels (Isas/*).
# Line tables only (-gline-tables-only): all a report's stacks need, in less
# compile time than full debug information.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-tsan -DGPT2_SANITIZE_THREAD=ON -DGPT2_UNITY_BUILD=ON \
  -DGPT2_WITH_BLIS=OFF -DGPT2_WITH_ONEDNN=OFF -DGPT2_WITH_CUDA=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -gline-tables-only -DNDEBUG" >/dev/null
cmake --build build-tsan -j"$jobs" --target gpt2_thread_tests
OMP_TOOL_LIBRARIES=/usr/lib/llvm-14/lib/libarcher.so \
TSAN_OPTIONS="halt_on_error=1 ignore_noninstrumented_modules=1" \
  build-tsan/bin/gpt2_thread_tests --gtest_brief=1 \
  --gtest_filter='-Isas/*:*bf16w*:*int8w*:*_1threads*'

section "AddressSanitizer + UndefinedBehaviorSanitizer: the unit tests, every fuzz target (scripts/run-sanitizers.sh)"
bash scripts/run-sanitizers.sh

section "All checks passed"
