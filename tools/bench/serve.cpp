// gpt2-bench serve: load scenarios against running servers.
//   gpt2-bench serve --url http://127.0.0.1:8080 --rate 1,2,4
// Any OpenAI-compatible completions server that streams (gpt2-serve,
// llama-server): offline, poisson or concurrency load; TTFT, TPOT, ITL and
// E2E percentiles, throughput, goodput under the SLOs, and with --search the
// highest rate meeting them. Exit 1 when a request failed.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <optional>
#include <stdexcept>

#include "harness/load.h"
#include "harness/load_report.h"
#include "harness/machine.h"
#include "harness/report.h"
#include "runtime/lists.h"
#include "tools/bench/commands.h"
#include "tools/bench/common.h"

namespace gpt2::bench {
namespace {

struct ServeCli {
  std::vector<std::string> urls = {"http://127.0.0.1:8080"};
  std::string api_key;
  std::string scenario = "poisson";
  std::string rates = "1,2,4,8";
  std::string concurrency = "1,4,16";
  int requests = 64;
  double duration_s = 0;
  std::string prompts = "synthetic";
  int input_len = 128, output_len = 64;
  std::uint64_t seed = 0;
  std::string rule = "greedy";
  double slo_ttft_ms = 0, slo_tpot_ms = 0;
  bool search = false;
  double search_max = 1024;
  int search_steps = 6;
  double timeout_s = 300;
  std::string label;
  std::filesystem::path out = reports_dir() / "runs";
};

CLI::App* add_serve_command(CLI::App& app, ServeCli& s) {
  CLI::App* serve = app.add_subcommand(
      "serve",
      "Load scenarios against running servers (gpt2-serve, llama-server, any OpenAI-compatible "
      "completions server that streams): offline (every request at once), poisson (seeded "
      "arrivals at each --rate) or concurrency (a fixed number in flight); TTFT, TPOT, ITL and "
      "E2E percentiles, throughput, goodput under the SLOs, and with --search the highest "
      "rate meeting them");
  serve
      ->add_option("--url", s.urls,
                   "Server URL http://host:port (repeat, or commas: requests "
                   "go to each in turn)")
      ->delimiter(',')
      ->capture_default_str();
  serve->add_option("--api-key", s.api_key, "Sent as Authorization: Bearer <key>");
  serve->add_option("--scenario", s.scenario, "offline, poisson or concurrency")
      ->capture_default_str();
  serve->add_option("--rate", s.rates, "Poisson: requests/s, comma-separated, a run each")
      ->capture_default_str();
  serve->add_option("--concurrency", s.concurrency, "Concurrency: in flight, comma-separated")
      ->capture_default_str();
  serve->add_option("--requests", s.requests, "Requests per run")->capture_default_str();
  serve
      ->add_option("--duration", s.duration_s,
                   "Poisson: seconds per run (rate x duration requests, at least 8; 0: "
                   "--requests)")
      ->capture_default_str();
  serve
      ->add_option("--prompts", s.prompts,
                   "synthetic (--input-len random token ids) or set (datasets/prompts.txt)")
      ->capture_default_str();
  serve->add_option("--input-len", s.input_len, "Synthetic prompts' tokens")->capture_default_str();
  serve
      ->add_option("--output-len", s.output_len,
                   "New tokens per request (max_tokens, with ignore_eos)")
      ->capture_default_str();
  serve->add_option("--seed", s.seed, "Arrivals' and prompts' seed")->capture_default_str();
  serve
      ->add_option("--rule", s.rule,
                   "Each request's rule (greedy, median, sample-...; sample: "
                   "seed + request index)")
      ->capture_default_str();
  serve->add_option("--slo-ttft", s.slo_ttft_ms, "SLO on TTFT, ms (goodput, --search)");
  serve->add_option("--slo-tpot", s.slo_tpot_ms, "SLO on TPOT, ms (goodput, --search)");
  serve->add_flag("--search", s.search,
                  "Find the highest Poisson rate whose p99 TTFT and TPOT meet the SLOs");
  serve->add_option("--search-max", s.search_max, "The search's highest rate (requests/s)")
      ->capture_default_str();
  serve->add_option("--search-steps", s.search_steps, "Bisections after the bracket")
      ->capture_default_str();
  serve->add_option("--timeout", s.timeout_s, "Seconds per request")->capture_default_str();
  serve->add_option("--label", s.label, "What the report calls the servers");
  serve->add_option("--out", s.out, "Folder for the report files")->capture_default_str();
  return serve;
}

int run_serve_command(const ServeCli& s, const std::string& command) {
  LoadOptions o;
  o.urls = s.urls;
  for (const std::string& u : o.urls) parse_url(u);
  o.api_key = s.api_key;
  if (s.scenario == "offline") {
    o.scenario = Scenario::kOffline;
  } else if (s.scenario == "poisson") {
    o.scenario = Scenario::kPoisson;
  } else if (s.scenario == "concurrency") {
    o.scenario = Scenario::kConcurrency;
  } else {
    throw_unknown_item("scenario", s.scenario, "offline, poisson, concurrency");
  }
  if (o.scenario == Scenario::kPoisson) {
    o.rates = parse_value_list<double>(
        s.rates, "rate",
        [](const std::string& r) -> std::optional<double> {
          char* end = nullptr;
          const double v = std::strtod(r.c_str(), &end);
          if (*end != '\0' || !(v > 0)) return std::nullopt;
          return v;
        },
        "requests/s above 0, e.g. 0.5,2,8");
  }
  if (o.scenario == Scenario::kConcurrency) {
    static constexpr NumberListKind kConcurrencyList{"concurrency", "concurrency level",
                                                     "requests in flight", 1, 4096};
    o.concurrency = parse_number_list(s.concurrency, kConcurrencyList);
  }
  o.requests = s.requests;
  o.duration_s = s.duration_s;
  o.seed = s.seed;
  o.rule = s.rule;
  if (o.rule != "sample" && !parse_rule(o.rule)) {
    throw std::invalid_argument("Unknown rule '" + o.rule + "'.");
  }
  o.slo_ttft_s = s.slo_ttft_ms / 1e3;
  o.slo_tpot_s = s.slo_tpot_ms / 1e3;
  o.search = s.search;
  o.search_max = s.search_max;
  o.search_steps = s.search_steps;
  o.timeout_s = s.timeout_s;
  if (o.search && o.scenario != Scenario::kPoisson) {
    throw std::invalid_argument("--search goes with --scenario poisson.");
  }
  if (s.output_len < 1 || s.output_len > 1023) {
    throw std::invalid_argument("--output-len must be in [1, 1023].");
  }
  std::vector<LoadRequest> requests;
  std::string workload;
  if (s.prompts == "synthetic") {
    if (s.input_len < 1 || s.input_len + s.output_len > 1024) {
      throw std::invalid_argument(
          "--input-len must be at least 1, and --input-len + "
          "--output-len at most 1024.");
    }
    requests = synthetic_requests(std::max(1, s.requests), s.input_len, s.output_len, s.seed);
    workload = "synthetic-" + std::to_string(s.input_len) + "+" + std::to_string(s.output_len);
  } else if (s.prompts == "set") {
    for (const Prompt& p : read_prompts(datasets_dir() / "prompts.txt")) {
      if (long(p.tokens.size()) + s.output_len <= 1024)
        requests.push_back({p.tokens, s.output_len});
    }
    workload = "prompt-set+" + std::to_string(s.output_len);
  } else {
    throw_unknown_item("prompts", s.prompts, "synthetic, set");
  }
  check_output_folder(s.out);
  ReportContext ctx;
  ctx.command = command;
  ctx.timestamp = utc_timestamp();
  ctx.machine = machine_info();
  const LoadResult result =
      run_load(o, requests, [](const std::string& line) { std::cerr << line << "\n"; });
  LoadReportInfo info{o, workload, s.label.empty() ? result.model : s.label};
  std::cout << load_table(info, result) << "\n";
  const ReportFiles files =
      write_load_report(s.out, report_stem(s.out, "serve", {}), ctx, info, result);
  std::cerr << "report: " << files.md.string() << " (also .json, .csv, .svg)\n";
  int failed = 0;
  for (const LoadRun& r : result.runs) failed += r.failed;
  return failed == 0 ? 0 : 1;
}

}  // namespace

Command register_serve(CLI::App& app) {
  auto s = std::make_shared<ServeCli>();
  CLI::App* serve = add_serve_command(app, *s);
  return {serve, [s](const std::string& command) { return run_serve_command(*s, command); }};
}

}  // namespace gpt2::bench
