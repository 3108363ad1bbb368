#!/usr/bin/env bash
# Issue 23's device runs: gpt2-serve under gpt2-bench serve's load scenarios,
# server and client on separate cores, the highest Poisson rate meeting p99
# TTFT <= 500 ms and p99 TPOT <= 50 ms, /metrics after each run, and each
# request's tokens checked against gpt2's alone while the server is loaded.
#   bash scripts/device/serve.sh OUT cpu    gpt2-serve --backend pthreads --threads 8 on cores 0-7
#   bash scripts/device/serve.sh OUT gpu    gpt2-serve --backend cuda on the GPU (host cores 0-7)
#   bash scripts/device/serve.sh OUT load URL LABEL   the same load against any server at URL
#   bash scripts/device/serve.sh OUT check   only the equality checks under load, both backends
# (another server, llama-server say, started by the caller on cores 0-7).
# The client runs on cores 8-15. Workload: synthetic prompts of 128 tokens, 64
# new tokens each (ignore_eos), greedy.
set -uo pipefail
out=${1:?OUT}; what=${2:?cpu|gpu|load}
source scripts/device/env.sh
mkdir -p "$out/runs"
log() { echo "== $(date +%T) $*"; }
slo="--slo-ttft 500 --slo-tpot 50"
workload="--input-len 128 --output-len 64 --rule greedy"

wait_health() {  # $1: port
  for _ in $(seq 600); do
    curl -sf "http://127.0.0.1:$1/health" >/dev/null && return 0
    sleep 0.2
  done
  echo "the server on port $1 did not become ready"; return 1
}

# The search: the rates first, then doubling and bisection (gpt2-bench serve --search).
load() {  # $1: URL, $2: label, $3: rates, $4: search ceiling
  log "load: $2"
  timeout 200 taskset -c 8-15 gpt2-bench serve --url "$1" --scenario poisson --rate "$3" \
    --duration 6 $workload $slo --search --search-steps 2 --search-max "$4" --timeout 60 \
    --label "$2" --out "$out/runs" > "$out/load-${2// /_}.txt" 2>&1
  echo "exit $?"; cat "$out/load-${2// /_}.txt" | grep -E '^(rate|\*\*|\|)' | cut -c1-200
}

# Under load (a Poisson run in the background), fixed prompts' completions equal
# what gpt2 prints for them alone on the same backend.
check_alone() {  # $1: port, $2: gpt2's backend flags, $3: background rate
  log "equality under load ($2)"
  taskset -c 8-15 gpt2-bench serve --url "http://127.0.0.1:$1" --scenario poisson --rate "$3" \
    --duration 6 $workload --out /tmp/bg > /dev/null 2>&1 &
  local bg=$! ok=0 all=0
  sleep 1
  for prompt in "Ladies and gentlemen" "Once upon a time" "The meaning of life is"; do
    got=$(curl -s "http://127.0.0.1:$1/v1/completions" \
      -d "{\"prompt\": \"$prompt\", \"max_tokens\": 24, \"rule\": \"greedy\", \"ignore_eos\": true}" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["choices"][0]["tokens"])')
    ids=$(printf %s "$prompt" | gpt2 encode)
    alone=$(gpt2 --model default $2 --mode kv-cache --rule greedy \
      -n $(( $(echo $ids | wc -w) + 24 )) $ids 2>&1 | tr '\n' ' ')
    all=$((all + 1))
    [ "$(echo "$got" | tr -d '[],')" = "$(echo $alone)" ] && ok=$((ok + 1)) ||
      echo "differs: '$prompt': server $got, gpt2 alone $alone"
  done
  wait $bg
  echo "equal to gpt2 alone under load: $ok of $all"
}

metrics() {  # $1: port, $2: name
  curl -s "http://127.0.0.1:$1/metrics" > "$out/metrics-$2.txt"
  python3 - "$out/metrics-$2.txt" <<'PY'
import sys
m = {}
for line in open(sys.argv[1]):
    if line.startswith("#"): continue
    k, _, v = line.rpartition(" ")
    m[k] = float(v)
def mean(n): 
    c = m.get(n + "_count", 0)
    return 1e3 * m.get(n + "_sum", 0) / c if c else 0
print("server side, means in ms: TTFT %.1f (queue %.1f, prompt step %.1f), TPOT %.2f, step %.2f over %d steps, %.1f sequences a step"
      % (mean("gpt2_time_to_first_token_seconds"), mean("gpt2_queue_seconds"), mean("gpt2_prefill_step_seconds"),
         mean("gpt2_time_per_output_token_seconds"), mean("gpt2_step_seconds"), m.get("gpt2_steps_total", 0),
         m.get("gpt2_step_sequences_total", 0) / max(1, m.get("gpt2_steps_total", 1))))
PY
}

log "model"
gpt2 --model default 464 2068 > /dev/null 2>&1
if [ "$what" = check ]; then  # the equality checks alone, both servers
  for b in pthreads cuda; do
    flags="--backend $b"; [ $b = pthreads ] && flags="$flags --threads 8"
    taskset -c 0-7 gpt2-serve $flags --max-batch 16 --port 8104 2> /dev/null &
    pid=$!
    wait_health 8104 && check_alone 8104 "$flags" 4
    kill -TERM $pid; wait $pid
  done
  exit 0
fi
nproc; lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Core' | sed 's/  */ /g'

case "$what" in
  cpu)
    taskset -c 0-7 gpt2-serve --backend pthreads --threads 8 --max-batch 16 --max-queue 1024 \
      --port 8101 2> "$out/serve-pthreads.log" &
    pid=$!
    wait_health 8101 && load http://127.0.0.1:8101 "gpt2-serve pthreads 8 threads" 1,2,4 256
    metrics 8101 pthreads
    check_alone 8101 "--backend pthreads --threads 8" 2
    kill -TERM $pid; wait $pid; echo "gpt2-serve exit $?"
    ;;
  gpu)
    nvidia-smi --query-gpu=name,memory.total,clocks.max.sm --format=csv,noheader
    taskset -c 0-7 gpt2-serve --backend cuda --max-batch 64 --max-queue 4096 --http-threads 1200 \
      --port 8103 2> "$out/serve-cuda.log" &
    pid=$!
    wait_health 8103 && load http://127.0.0.1:8103 "gpt2-serve cuda H200" 8,32,128 4096
    metrics 8103 cuda
    check_alone 8103 "--backend cuda" 32
    kill -TERM $pid; wait $pid; echo "gpt2-serve exit $?"
    ;;
  load)
    load "${3:?URL}" "${4:?LABEL}" 1,2,4 256
    ;;
esac
log "done"
