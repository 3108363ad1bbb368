#!/usr/bin/env bash
# Runs the tests that wait for other threads or processes (the server, its
# engine, the scheduler, the thread pools and executors, the thread-count
# test, the load client, the MPI launch, the OpenAI client) N times each while
# two busy loops of this script's own keep both cores loaded, and counts the
# failures: a test that fails once at random is a defect (README: "Tests").
#
#   scripts/repeat-tests.sh [N] [BUILD]      N repeats (default 50), BUILD (default build)
#   REPEAT_TESTS='<ctest regex>' scripts/repeat-tests.sh 5   another set of tests
#   REPEAT_EXCLUDE='<ctest regex>' ...                      less of the set
#
# Prints one line per failing test and ends with
#   "repeat-tests: <tests> tests x <N> under load: <F> failed"; exits 1 when F > 0.
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-50}
build=${2:-build}
default='^(ServeTest|ServeLimitsTest|ServeAttackTest|HttpTest|EngineTest)\.|^SchedulerTest\.|^(Executors|ExecutorsAndThreads)/'
default+='|^ThreadPoolTest\.|^AllLinearLayers/.*AForwardPassStartsNoMoreThreadsThanAskedFor'
default+='|^LoadTest\.|^cuda-tp\.mpi-launch$|^server\.openai-client$'
tests=${REPEAT_TESTS:-$default}
exclude=${REPEAT_EXCLUDE:-'^$'}  # a ctest regex of tests left out of the set
case "$repeats" in '' | *[!0-9]*) echo "repeat-tests: N must be a whole number, not '$repeats'" >&2; exit 2 ;; esac
[ -d "$build" ] || { echo "repeat-tests: no build folder '$build' (cmake -S . -B $build first)" >&2; exit 2; }
count=$(ctest --test-dir "$build" -R "$tests" -E "$exclude" -N | sed -n 's/^Total Tests: //p')
[ "${count:-0}" -gt 0 ] || { echo "repeat-tests: no test matches '$tests' in $build" >&2; exit 2; }

# The load: one busy loop per core, stopped however this script ends.
busy=()
stop_load() { [ ${#busy[@]} -eq 0 ] || kill "${busy[@]}" 2>/dev/null || true; }
trap stop_load EXIT
for _ in 1 2; do
  (while :; do :; done) &
  busy+=($!)
done

log=$(mktemp)
echo "repeat-tests: $count tests x $repeats, both cores loaded by two busy loops (log: $log)"
set +e
ctest --test-dir "$build" -R "$tests" -E "$exclude" --repeat until-fail:"$repeats" -j2 --output-on-failure \
  >"$log" 2>&1
set -e
# ctest lists each failed test once under "The following tests FAILED" (a
# test's repeats stop at its first failure).
sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' || true
failed=$(sed -n '/The following tests FAILED/,$p' "$log" | grep -cE '^\s+[0-9]+ - ' || true)
echo "repeat-tests: $count tests x $repeats under load: $failed failed"
[ "$failed" -eq 0 ]
