#!/usr/bin/env bash
# Runs fuzz targets (tests/fuzz) for a given time each, starting from their
# committed seeds and regression inputs (README: "Fuzzing").
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer options...]
#   scripts/fuzz.sh all SECONDS                         # every target in turn
#
# Build them first (clang):
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DGPT2_FUZZ=ON -DGPT2_WITH_CUDA=OFF \
#     -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g"
#   cmake --build build-fuzz -j2 --target gpt2_fuzz_targets
#
# Environment: FUZZ_BUILD (default build-fuzz), FUZZ_WORK (default
# $FUZZ_BUILD/fuzz-work): new inputs go to $FUZZ_WORK/<target>/corpus, findings
# (crash-*, leak-*, timeout-*, oom-*) to $FUZZ_WORK/<target>/; the committed
# folders are only read. Exit status: 0 when no target found anything.
# A finding is fixed, then its input goes to tests/fuzz/regressions/<target>/,
# which CTest replays in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh TARGET|all SECONDS [libFuzzer options...]" >&2
  exit 2
fi
target=$1 seconds=$2
shift 2
build=${FUZZ_BUILD:-build-fuzz}
work=${FUZZ_WORK:-$build/fuzz-work}
targets=(checkpoint safetensors hf_config tokenizer_encode tokenizer_decode
  prompts goldens thread_list token_list precision rule request)
if [ "$target" != all ]; then
  found=0
  for t in "${targets[@]}"; do [ "$t" = "$target" ] && found=1; done
  if [ $found = 0 ]; then
    echo "scripts/fuzz.sh: unknown target '$target' (known: all ${targets[*]})" >&2
    exit 2
  fi
  targets=("$target")
fi
case $seconds in
  '' | *[!0-9]*) echo "scripts/fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2; exit 2 ;;
esac

status=0
for t in "${targets[@]}"; do
  bin=$build/bin/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "scripts/fuzz.sh: $bin is missing: build with -DGPT2_FUZZ=ON (see the top of this script)" >&2
    exit 2
  fi
  mkdir -p "$work/$t/corpus"
  dirs=("$work/$t/corpus" "tests/fuzz/corpus/$t")
  if [ -d "tests/fuzz/regressions/$t" ]; then dirs+=("tests/fuzz/regressions/$t"); fi
  echo "== fuzz_$t for ${seconds}s"
  # -timeout: an input that runs 10 s is a hang; -rss_limit_mb: 2 GB is a leak
  # or a runaway allocation (also the largest single allocation allowed).
  if ! ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$t/" "$@" "${dirs[@]}"; then
    echo "== fuzz_$t FOUND SOMETHING: see $work/$t/" >&2
    status=1
  fi
done
exit $status
