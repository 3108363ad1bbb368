#!/usr/bin/env bash
# The CI's AddressSanitizer + UndefinedBehaviorSanitizer stage (README: "Tests:
# what runs where"), in one clang build (build-asan/): every library built with
# -fsanitize=address,undefined -fno-sanitize-recover=all (a UB report ends the
# run) and libFuzzer's coverage, then
#   1. the unit tests (ctest -LE full, the CPU backends blis and onednn included,
#      the fuzz targets' committed inputs included: CTest's fuzz.<target>), and
#   2. every fuzz target for FUZZ_SECONDS (default 5) from its committed corpus.
# Usage: scripts/run-sanitizers.sh (after scripts/setup-debian.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
seconds=${FUZZ_SECONDS:-5}
section() { printf '\n==== %s (%ds)\n' "$1" "$SECONDS"; }

section "ASan + UBSan build (clang 14): the unit tests and the fuzz targets"
# The libraries at -O1 (GPT2_LIBRARIES_OPT), the tools, tests and fuzz targets at
# -O0: about half the compile time of -O1 everywhere. No NDEBUG: assertions on.
CC=clang-14 CXX=clang++-14 cmake -S . -B build-asan -DGPT2_FUZZ=ON -DGPT2_WITH_CUDA=OFF -DGPT2_UNITY_BUILD=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O0" \
  -DGPT2_LIBRARIES_OPT=-O1 >/dev/null
cmake --build build-asan -j"$jobs" --target gpt2_tests gpt2_server_tests gpt2_fuzz_targets

section "ASan + UBSan: the unit tests"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# Left out here, run by the Release build above: the sweeps, ceilings, verify and
# gpt2-bench command tests and the 20-run repeatability test (end-to-end timing
# runs of code the unit tests here cover; together 5 of the 13 minutes this stage
# would take), the tiny model's greedy and median goldens (every prompt, 900
# tokens long; the three sampling rules' goldens run), and the backends at 2 and
# 4 threads (1 and 3 run; the ThreadSanitizer stage covers the threads), and at
# bf16w and int8w (their kernels run here in KernelsTest, the backends in Release).
# gpt2_full_tests (label full) is not built here: CTest names it *_NOT_BUILT.
skip='_NOT_BUILT$|^RepeatableRuns\.|^SweepTest\.|^BenchCliTest\.|^CeilingsTest\.|^VerifyTest\.'
# Likewise the batch commands' end-to-end tests (gpt2 --prompts, every line
# against its run alone) and the scheduler's every-backend sweeps: the
# scheduler's own tests run here.
skip+='|^Gpt2BatchTest\.|^SchedulerTest\.(EveryRequestGetsWhatItGetsAloneOnEveryBitExactBackend|AGpuBatchDecidedOnSeveralThreadsGetsTheSameTokens)$'
# And the beam rows' verify test (verify runs in Release), the text commands'
# end-to-end runs over every backend (their bad-input cases run here), and the
# tiny goldens' sampling rules at bf16w and int8w (float32's run; the
# weight-only kernels run in KernelsTest).
skip+='|^VerifyBeamsTest\.|^Gpt2TextTest\.(SeededSamplingIsTheSameOnEveryBackend|StopStringsEndTheOutputBeforeThem|PromptGivesTheTextOfTheTokenModeContinuation|EncodePrintsOpenAIsIds)$'
skip+='|^Rules/TinyGoldens\..*_(bf16w|int8w)( |$)'
# (CTest's names of parameterized tests go on with "  # GetParam() = ...": no $.)
skip+='|^Rules/TinyGoldens\..*/(greedy|median)_|^AllBackends/.*_[24]threads'
skip+='|^AllBackends/[^ ]*_(bf16w|int8w)( |$)'
# Beam search's longest driver test (forked beams against beams from scratch,
# 2 s a backend in Release) on pthreads alone: the other backends run it in
# Release, and their kernels run here in their own tests.
skip+='|^Backends/BeamDriverTest\.ForkedBeamsEqualBeamsComputedFromScratch/(reference|openmp|blis|onednn)'
ctest --test-dir build-asan -LE full -E "$skip" -j"$jobs" --output-on-failure \
  --output-junit "$PWD/build-asan/ctest-junit.xml"

section "Every fuzz target for ${seconds}s from its committed inputs, $jobs at a time"
targets="checkpoint safetensors hf_config tokenizer_encode tokenizer_decode prompts goldens
  thread_list token_list precision rule request"
mkdir -p build-asan/fuzz-work
failed=0
# shellcheck disable=SC2086
printf '%s\n' $targets | FUZZ_BUILD=build-asan FUZZ_WORK=build-asan/fuzz-work \
  xargs -P "$jobs" -I{} sh -c 'scripts/fuzz.sh {} '"$seconds"' >build-asan/fuzz-work/{}.log 2>&1' ||
  failed=1
for t in $targets; do
  log=build-asan/fuzz-work/$t.log
  printf '%-18s %s\n' "$t" "$(grep -E '^#[0-9]+.*DONE' "$log" | tail -1 | cut -c1-100)"
  if grep -q 'FOUND SOMETHING' "$log"; then
    tail -60 "$log"
    failed=1
  fi
done
[ $failed = 0 ] || { echo "A fuzz target found something (above)." >&2; exit 1; }

section "Sanitizer stage passed"
