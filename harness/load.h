// Load scenarios against running servers (gpt2-bench serve): MLPerf-style
// Offline (every request at once) and Server (seeded Poisson arrivals at a
// target rate, or a fixed concurrency), over the prompt set or synthetic
// prompt and output lengths. Every request streams, so that each token's
// arrival is timed:
//   TTFT  send to the first token
//   TPOT  (latency - TTFT) / (tokens - 1), per request
//   ITL   the gaps between a request's tokens, all of them pooled
//   E2E   send to the last byte
// with mean, p50, p90 and p99; request and token throughput; goodput (the
// requests meeting the SLOs, per second); and the highest Poisson rate that
// meets p99 SLOs, by a search over rates. The client's own CPU use is
// measured, so that a client-bound run shows.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "harness/stats.h"

namespace gpt2 {

enum class Scenario { kOffline, kPoisson, kConcurrency };
const char* scenario_name(Scenario s);

struct LoadRequest {
  std::vector<int> prompt;  // token ids
  int max_tokens = 16;
};

struct LoadOptions {
  std::vector<std::string> urls;  // http://host:port, each request to the next in turn
  std::string api_key;
  Scenario scenario = Scenario::kPoisson;
  std::vector<double> rates;     // Poisson: requests/s, a run each
  std::vector<int> concurrency;  // Concurrency: in flight at once, a run each
  int requests = 64;             // per run (Poisson with duration_s: rate x duration)
  double duration_s = 0;         // Poisson: each run's length in seconds (0: --requests)
  std::uint64_t seed = 0;        // arrivals, and the sampling seeds (request i: seed + i)
  std::string rule = "greedy";   // each request's "rule"
  double timeout_s = 300;        // per request
  // SLOs (0: none): goodput counts the requests within both; the rate search
  // looks for the highest rate whose p99s are within them.
  double slo_ttft_s = 0, slo_tpot_s = 0;
  bool search = false;       // search for the highest rate meeting the SLOs
  double search_max = 1024;  // requests/s: the search's ceiling
  int search_steps = 6;      // bisections after the bracket is found
};

struct RequestResult {
  bool ok = false;
  int status = 0;
  std::string error;  // when not ok
  double start = 0;   // seconds since the run started: sent
  double ttft = 0, latency = 0;
  int tokens = 0;
  std::vector<double> gaps;  // between consecutive tokens
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;
};
Percentiles percentiles(std::vector<double> values);

struct LoadRun {
  Scenario scenario = Scenario::kPoisson;
  double rate = 0;      // Poisson: offered requests/s
  int concurrency = 0;  // Concurrency: in flight
  int requests = 0, completed = 0, failed = 0;
  double duration_s = 0;  // the first send to the last answer
  Percentiles ttft, tpot, itl, e2e;
  double request_throughput = 0;    // completed / duration
  double output_throughput = 0;     // tokens / duration
  double goodput = 0;               // requests within the SLOs / duration
  double achieved_rate = 0;         // sends / (last send - first send)
  double client_cpu = 0;            // the client's CPU seconds / wall seconds
  bool meets_slos = false;          // p99 TTFT and p99 TPOT within the SLOs
  std::vector<std::string> errors;  // the first few distinct errors
  std::vector<RequestResult> results;
};

struct LoadResult {
  std::vector<LoadRun> runs;         // in the order run (the search's probes included)
  std::optional<double> max_rate;    // the search: the highest rate that met the SLOs
  bool max_rate_is_ceiling = false;  // ... and no rate up to search_max missed them
  std::string server;                // what /v1/models said of the first URL
  std::string model;
};

// One request, streamed: its timings (never throws; errors are in the result).
RequestResult send_completion(const std::string& url, const std::string& api_key,
                              const std::string& body, double timeout_s);

// The runs the options ask for (and the search). `progress` (if set) gets a
// line per run. Throws std::invalid_argument for unusable options and
// std::runtime_error when a URL does not answer /health with 200.
LoadResult run_load(const LoadOptions& options, const std::vector<LoadRequest>& requests,
                    const std::function<void(const std::string&)>& progress = {});

// The request bodies' prompts: the prompt set's, or synthetic ones of
// `input_len` random token ids (seeded), each with max_tokens = output_len.
std::vector<LoadRequest> synthetic_requests(int count, int input_len, int output_len,
                                            std::uint64_t seed);

// "http://127.0.0.1:8080" -> host and port; throws std::invalid_argument.
struct Url {
  std::string host;
  int port = 80;
};
Url parse_url(const std::string& url);

}  // namespace gpt2
