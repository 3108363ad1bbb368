#!/usr/bin/env bash
# The serving study's attacks (reports/studies/serving/attacks.md), every server
# named in one call, one after another on the same machine:
#   bash scripts/serve-attack.sh OUT LABEL=GPT2_SERVE [LABEL=GPT2_SERVE ...]
# e.g. `... OUT before=/tmp/old/build/bin/gpt2-serve now=build/bin/gpt2-serve`
# (GPT2_SERVE may carry options of its own: "now-nowait=build/bin/gpt2-serve --queue-wait 0").
# Each server: the tiny model, pthreads at 1 thread, --max-batch 16 --max-queue 32
# (the issue's setting), on 127.0.0.1 only; then, in this order,
#   probe         /health and a streamed completion every 100 ms for 10 s, alone;
#   trickle-1000  the same while 1000 connections send a header byte a second (20 s);
#   wrk-64        wrk (Debian's), 64 connections, 60 s, 16-token completions
#                 (scripts/wrk_completions.lua), 10 seeded requests meanwhile held to
#                 gpt2's tokens alone, the resident memory before and after (after a
#                 5 s warm-up at 64);
#   wrk-1000      the same at 1000 connections;
#   idle-10000    10,000 connections that send nothing: memory per connection, /health;
# then ROUNDS (3) rounds in which the servers take turns: wrk at 64 connections
# for 20 s on a fresh server each (the throughput's median and range).
# Writes OUT/LABEL/*.json, OUT/LABEL/metrics.txt, OUT/machine.txt and the table
# OUT/summary.md. Needs wrk and python3; GPT2 (default build/bin/gpt2) for the check.
set -uo pipefail
out=${1:?usage: serve-attack.sh OUT LABEL=GPT2_SERVE ...}
shift
[ $# -gt 0 ] || { echo "serve-attack.sh: name at least one LABEL=GPT2_SERVE" >&2; exit 2; }
command -v wrk >/dev/null || { echo "serve-attack.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
gpt2=${GPT2:-build/bin/gpt2}
attack() { python3 "$here/serve_attack.py" "$@"; }
ulimit -n "$(ulimit -Hn)"
mkdir -p "$out"
{
  echo "date: $(date -u +%FT%TZ)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
  echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
  echo "kernel: $(uname -r); wrk: $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
  echo "open files: $(ulimit -n)"
} > "$out/machine.txt"
cat "$out/machine.txt"

rss_kb() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# start_server SPEC DIR: sets label, pid, port and url (returns 1 if it did not start).
start_server() {
  label=${1%%=*}
  read -r -a cmd <<<"${1#*=}"
  local extra=() portfile
  # The event-loop server's cap (default 10,000) above the 10,000 idle connections.
  if "${cmd[0]}" --help 2>&1 | grep -q -- --max-connections; then extra=(--max-connections 12000); fi
  portfile=$(mktemp)
  rm -f "$portfile"
  "${cmd[@]}" --model synthetic:tiny --backend pthreads --threads 1 --max-batch 16 --max-queue 32 \
    --port 0 --port-file "$portfile" "${extra[@]}" > "$2/server.log" 2>&1 &
  pid=$!
  for _ in $(seq 300); do [ -s "$portfile" ] && break; sleep 0.1; done
  port=$(cat "$portfile" 2>/dev/null)
  rm -f "$portfile"
  [ -n "$port" ] || { echo "$label: the server did not start (see $2/server.log)"; kill $pid; return 1; }
  url="http://127.0.0.1:$port"
  echo "== $label: ${cmd[*]} on port $port (pid $pid)"
}
stop_server() { kill $pid; wait $pid 2>/dev/null; }

for spec in "$@"; do
  dir="$out/${spec%%=*}"
  mkdir -p "$dir"
  start_server "$spec" "$dir" || continue
  attack --port "$port" --seconds 10 probe > "$dir/probe.json"
  echo "probe: $(cat "$dir/probe.json")"
  timeout 120 python3 "$here/serve_attack.py" --port "$port" --seconds 20 trickle 1000 \
    > "$dir/trickle-1000.json"
  echo "trickle-1000: $(cat "$dir/trickle-1000.json")"
  # A warm-up (the batch's caches and buffers at their size), then the memory.
  wrk -t2 -c64 -d5s -s "$here/wrk_completions.lua" "$url" > /dev/null 2>&1
  for c in 64 1000; do
    before=$(rss_kb $pid)
    attack --port "$port" --seconds 50 --gpt2 "$gpt2" seeded 10 > "$dir/seeded-$c.json" &
    check=$!
    timeout 120 wrk -t2 -c$c -d60s --timeout 10s -s "$here/wrk_completions.lua" "$url" \
      > "$dir/wrk-$c.txt" 2>&1
    wait $check
    after=$(rss_kb $pid)
    tail -1 "$dir/wrk-$c.txt" | python3 -c "
import json, sys
j = json.loads(sys.stdin.read())
j.update({'rss_before_kb': $before, 'rss_after_kb': $after,
          'seeded': json.load(open('$dir/seeded-$c.json'))})
print(json.dumps(j))" > "$dir/wrk-$c.json" || echo '{"error": "wrk printed no summary"}' > "$dir/wrk-$c.json"
    echo "wrk-$c: $(cat "$dir/wrk-$c.json")"
  done
  timeout 120 python3 "$here/serve_attack.py" --port "$port" --pid $pid idle 10000 \
    > "$dir/idle-10000.json"
  echo "idle-10000: $(cat "$dir/idle-10000.json")"
  curl -s -m 10 "$url/metrics" > "$dir/metrics.txt"
  stop_server
done

# Throughput: ROUNDS (3) rounds, the servers taking turns in each, a fresh
# server each time: a 5 s warm-up, then wrk at 64 connections for 20 s.
for r in $(seq "${ROUNDS:-3}"); do
  for spec in "$@"; do
    dir="$out/${spec%%=*}"
    start_server "$spec" "$dir" || continue
    wrk -t2 -c64 -d5s -s "$here/wrk_completions.lua" "$url" > /dev/null 2>&1
    timeout 60 wrk -t2 -c64 -d20s --timeout 10s -s "$here/wrk_completions.lua" "$url" 2>&1 |
      tail -1 > "$dir/round-$r.json"
    echo "round $r: $(cat "$dir/round-$r.json")"
    stop_server
  done
done

python3 - "$out" "$@" <<'EOF' | tee "$out/summary.md"
import json, os, sys
out, specs = sys.argv[1], sys.argv[2:]
def load(label, name):
    try:
        return json.load(open(os.path.join(out, label, name + ".json")))
    except (OSError, ValueError):
        return {}
def ms(v):
    return "-" if v is None else f"{v:.0f}" if v >= 10 else f"{v:.1f}"
rows = [
    ("/health p99 alone, ms", lambda L: ms(load(L, "probe").get("health", {}).get("p99_ms"))),
    ("TTFT p99 alone, ms", lambda L: ms(load(L, "probe").get("ttft", {}).get("p99_ms"))),
    ("/health p99 under 1000 trickling, ms",
     lambda L: ms(load(L, "trickle-1000").get("health", {}).get("p99_ms"))),
    ("TTFT p99 under 1000 trickling, ms",
     lambda L: ms(load(L, "trickle-1000").get("ttft", {}).get("p99_ms"))),
    ("probes unanswered under trickling (of health + completion)",
     lambda L: "%s of %s" % (load(L, "trickle-1000").get("failures", "-"),
                             sum(load(L, "trickle-1000").get(k, {}).get("n", 0)
                                 for k in ("health", "ttft")) +
                             load(L, "trickle-1000").get("failures", 0))),
    ("trickling connections closed by the server",
     lambda L: "%s of %s" % (load(L, "trickle-1000").get("closed_by_server", "-"),
                             load(L, "trickle-1000").get("connections", "-"))),
]
def ok_per_s(j):
    if not j.get("seconds"):
        return None
    return j.get("statuses", {}).get("200", 0) / j["seconds"]
def rounds(L):
    v = sorted(x for x in (ok_per_s(load(L, f"round-{r}")) for r in range(1, 100)) if x)
    if not v:
        return "-"
    return f"{v[len(v) // 2]:.0f} ({v[0]:.0f}-{v[-1]:.0f}, {len(v)} rounds)"
rows.append(("completions answered 200 per s, wrk 64 connections, 20 s rounds: median (range)",
             rounds))
for c in (64, 1000):
    rows += [
        (f"wrk {c} connections, 60 s: completions answered 200 per s",
         lambda L, c=c: ms(ok_per_s(load(L, f"wrk-{c}")))),
        (f"wrk {c}: all answers per s",
         lambda L, c=c: ms(load(L, f"wrk-{c}").get("requests_per_s"))),
        (f"wrk {c}: statuses", lambda L, c=c: ", ".join(
            f"{k}: {v}" for k, v in sorted(load(L, f"wrk-{c}").get("statuses", {}).items()))),
        (f"wrk {c}: socket errors (connect/read/write/timeout)", lambda L, c=c: "/".join(
            str(load(L, f"wrk-{c}").get("errors", {}).get(k, "-"))
            for k in ("connect", "read", "write", "timeout"))),
        (f"wrk {c}: latency p99, ms", lambda L, c=c: ms(load(L, f"wrk-{c}").get("latency_ms", {}).get("p99"))),
        (f"wrk {c}: resident memory before -> after, MB", lambda L, c=c: "%s -> %s" % tuple(
            "-" if load(L, f"wrk-{c}").get(k) is None else f"{load(L, f'wrk-{c}')[k] / 1024:.0f}"
            for k in ("rss_before_kb", "rss_after_kb"))),
        (f"wrk {c}: seeded requests equal to gpt2 alone", lambda L, c=c: "%s of %s" % (
            load(L, f"wrk-{c}").get("seeded", {}).get("equal_to_gpt2_alone", "-"),
            load(L, f"wrk-{c}").get("seeded", {}).get("checked", "-"))),
    ]
rows += [
    ("idle connections held (open gauge)", lambda L: "%s (%s)" % (
        load(L, "idle-10000").get("connections", "-"), load(L, "idle-10000").get("open_gauge", "-"))),
    ("server's resident memory per idle connection, kB",
     lambda L: ms(load(L, "idle-10000").get("kb_per_connection"))),
    ("the kernel's TCP buffers per idle connection (both ends), kB",
     lambda L: ms(load(L, "idle-10000").get("kernel_tcp_kb_per_connection"))),
    ("/health with them open, ms", lambda L: ms(load(L, "idle-10000").get("health_ms"))),
]
labels = [s.split("=", 1)[0] for s in specs]
print("| | " + " | ".join(labels) + " |")
print("| --- |" + " ---: |" * len(labels))
for name, f in rows:
    print(f"| {name} | " + " | ".join(f(L) for L in labels) + " |")
EOF
