-- wrk's script for the serving study (scripts/serve-attack.sh): every request a
-- completion of 16 greedy tokens of "Ladies and" (ignore_eos: always 16), and a
-- tally of the statuses answered. Prints one JSON object when wrk ends:
--   wrk -t2 -c64 -d60s --timeout 10s -s scripts/wrk_completions.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v1/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"prompt": "Ladies and", "max_tokens": 16, "rule": "greedy", "ignore_eos": true}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    table.insert(parts, string.format('"%d": %d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %.3f, "requests_per_s": %.1f, "statuses": {%s}, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d}, ' ..
    '"latency_ms": {"p50": %.1f, "p99": %.1f, "max": %.1f}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    table.concat(parts, ", "), e.connect, e.read, e.write, e.timeout,
    latency:percentile(50) / 1e3, latency:percentile(99) / 1e3, latency.max / 1e3))
end
