#include "harness/load_report.h"

#include <algorithm>
#include <cmath>

#include "harness/goldens.h"
#include "harness/report_json.h"

namespace gpt2 {

using report::fmt;
using report::json;

namespace {

json percentiles_json(const Percentiles& p) {
  return {{"mean", p.mean}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}, {"max", p.max}};
}

std::string load_of(const LoadRun& r) {
  return r.scenario == Scenario::kPoisson       ? fmt("%.3g/s", r.rate)
         : r.scenario == Scenario::kConcurrency ? "c=" + std::to_string(r.concurrency)
                                                : std::string("offline");
}

std::string ms(double s) {
  return fmt("%.1f", s * 1e3);
}

}  // namespace

std::string load_table(const LoadReportInfo& info, const LoadResult& result) {
  const LoadOptions& o = info.options;
  std::string md;
  md +=
      "| load | ok | req/s | tok/s | goodput | TTFT p50 | TTFT p90 | TTFT p99 | TPOT p50 | "
      "TPOT p90 | TPOT p99 | ITL p99 | E2E p50 | E2E p99 | client CPU | SLOs |\n";
  md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const LoadRun& r : result.runs) {
    md += "| " + load_of(r) + " | " + std::to_string(r.completed) + "/" +
          std::to_string(r.requests) + " | " + fmt("%.2f", r.request_throughput) + " | " +
          fmt("%.1f", r.output_throughput) + " | " + fmt("%.2f", r.goodput) + " | " +
          ms(r.ttft.p50) + " | " + ms(r.ttft.p90) + " | " + ms(r.ttft.p99) + " | " +
          fmt("%.2f", r.tpot.p50 * 1e3) + " | " + fmt("%.2f", r.tpot.p90 * 1e3) + " | " +
          fmt("%.2f", r.tpot.p99 * 1e3) + " | " + fmt("%.2f", r.itl.p99 * 1e3) + " | " +
          ms(r.e2e.p50) + " | " + ms(r.e2e.p99) + " | " + fmt("%.0f%%", r.client_cpu * 100) +
          " | " + (o.slo_ttft_s > 0 || o.slo_tpot_s > 0 ? (r.meets_slos ? "met" : "missed") : "") +
          " |\n";
  }
  md +=
      "\nTimes in ms. TTFT: send to the first token; TPOT: (latency - TTFT) / (tokens - 1) "
      "per request; ITL: the gaps between tokens; E2E: send to the last byte; goodput: "
      "requests/s within the SLOs; client CPU: the load generator's CPU time over wall time.\n";
  if (o.search) {
    md +=
        result.max_rate
            ? "\n**The highest Poisson rate meeting p99 TTFT <= " + ms(o.slo_ttft_s) +
                  " ms and p99 TPOT <= " + fmt("%.1f", o.slo_tpot_s * 1e3) +
                  " ms: " + (result.max_rate_is_ceiling ? "at least " : "") +
                  fmt("%.3g", *result.max_rate) + " requests/s" +
                  (result.max_rate_is_ceiling ? " (no rate up to --search-max missed them)" : "") +
                  ".**\n"
            : std::string("\n**No rate tried met the SLOs.**\n");
  }
  for (const LoadRun& r : result.runs) {
    for (const std::string& e : r.errors) md += "\n- " + load_of(r) + " error: " + e;
  }
  return md;
}

std::string load_svg(const LoadReportInfo& info, const LoadResult& result) {
  // x: the offered load (rate, or concurrency), y: milliseconds (log scale).
  std::vector<const LoadRun*> runs;
  for (const LoadRun& r : result.runs) {
    if (r.scenario != Scenario::kOffline && r.completed > 0) runs.push_back(&r);
  }
  auto x_of = [](const LoadRun* r) {
    return r->scenario == Scenario::kPoisson ? r->rate : double(r->concurrency);
  };
  std::sort(runs.begin(), runs.end(), [&](auto a, auto b) { return x_of(a) < x_of(b); });
  const double W = 720, H = 440, L = 70, R = 170, T = 40, B = 60;
  double xmax = 1, ymin = 1e9, ymax = 0;
  struct Series {
    const char* name;
    const char* color;
    double (*get)(const LoadRun&);
  };
  const std::vector<Series> series = {
      {"TTFT p50", "#1f77b4", [](const LoadRun& r) { return r.ttft.p50; }},
      {"TTFT p99", "#aec7e8", [](const LoadRun& r) { return r.ttft.p99; }},
      {"TPOT p50", "#d62728", [](const LoadRun& r) { return r.tpot.p50; }},
      {"TPOT p99", "#ff9896", [](const LoadRun& r) { return r.tpot.p99; }},
  };
  for (const LoadRun* r : runs) {
    xmax = std::max(xmax, x_of(r));
    for (const Series& s : series) {
      const double v = s.get(*r) * 1e3;
      if (v > 0) {
        ymin = std::min(ymin, v);
        ymax = std::max(ymax, v);
      }
    }
  }
  if (ymax <= 0) ymin = 1, ymax = 10;
  const double lo = std::pow(10, std::floor(std::log10(ymin))),
               hi = std::pow(10, std::ceil(std::log10(ymax * 1.01)));
  auto px = [&](double x) { return L + (W - L - R) * x / (xmax * 1.05); };
  auto py = [&](double y) {
    return T +
           (H - T - B) * (1 - (std::log10(y) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)));
  };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + fmt("%.0f", W) +
                    "\" height=\"" + fmt("%.0f", H) +
                    "\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" "
                    "height=\"100%\" fill=\"white\"/>\n";
  svg += "<text x=\"" + fmt("%.0f", L) + "\" y=\"22\" font-size=\"14\">" + info.label + ": " +
         info.workload + ", latency against offered load</text>\n";
  for (double y = lo; y <= hi * 1.001; y *= 10) {
    svg += "<line x1=\"" + fmt("%.1f", L) + "\" x2=\"" + fmt("%.1f", W - R) + "\" y1=\"" +
           fmt("%.1f", py(y)) + "\" y2=\"" + fmt("%.1f", py(y)) + "\" stroke=\"#ddd\"/>\n";
    svg += "<text x=\"" + fmt("%.1f", L - 6) + "\" y=\"" + fmt("%.1f", py(y) + 4) +
           "\" text-anchor=\"end\">" + fmt("%g", y) + "</text>\n";
  }
  for (int i = 0; i <= 5; i++) {
    const double x = xmax * 1.05 * i / 5;
    svg += "<text x=\"" + fmt("%.1f", px(x)) + "\" y=\"" + fmt("%.1f", H - B + 18) +
           "\" text-anchor=\"middle\">" + fmt("%.3g", x) + "</text>\n";
  }
  const bool poisson = !runs.empty() && runs[0]->scenario == Scenario::kPoisson;
  svg += "<text x=\"" + fmt("%.1f", (L + W - R) / 2) + "\" y=\"" + fmt("%.1f", H - 18) +
         "\" text-anchor=\"middle\">" +
         (poisson ? "offered load (requests/s, Poisson)" : "concurrency (requests in flight)") +
         "</text>\n";
  svg += "<text x=\"16\" y=\"" + fmt("%.1f", (T + H - B) / 2) + "\" transform=\"rotate(-90 16 " +
         fmt("%.1f", (T + H - B) / 2) + ")\" text-anchor=\"middle\">ms (log)</text>\n";
  auto hline = [&](double s, const char* color, const std::string& text) {
    if (s <= 0) return;
    const double y = py(std::clamp(s * 1e3, lo, hi));
    svg += "<line x1=\"" + fmt("%.1f", L) + "\" x2=\"" + fmt("%.1f", W - R) + "\" y1=\"" +
           fmt("%.1f", y) + "\" y2=\"" + fmt("%.1f", y) + "\" stroke=\"" + color +
           "\" stroke-dasharray=\"6 4\"/>\n<text x=\"" + fmt("%.1f", W - R + 4) + "\" y=\"" +
           fmt("%.1f", y + 4) + "\" fill=\"" + color + "\">" + text + "</text>\n";
  };
  hline(info.options.slo_ttft_s, "#1f77b4", "TTFT SLO");
  hline(info.options.slo_tpot_s, "#d62728", "TPOT SLO");
  for (std::size_t k = 0; k < series.size(); k++) {
    std::string points;
    for (const LoadRun* r : runs) {
      const double v = series[k].get(*r) * 1e3;
      if (v > 0) points += fmt("%.1f", px(x_of(r))) + "," + fmt("%.1f", py(v)) + " ";
    }
    svg += "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" + std::string(series[k].color) +
           "\" points=\"" + points + "\"/>\n";
    svg += "<text x=\"" + fmt("%.1f", W - R + 4) + "\" y=\"" + fmt("%.1f", T + 16 + 18.0 * k) +
           "\" fill=\"" + series[k].color + "\">" + series[k].name + "</text>\n";
  }
  svg += "</svg>\n";
  return svg;
}

ReportFiles write_load_report(const std::filesystem::path& dir, const std::string& stem,
                              const ReportContext& ctx, const LoadReportInfo& info,
                              const LoadResult& result) {
  const LoadOptions& o = info.options;
  json j = report::context_json(ctx);
  j["kind"] = "serve";
  j["label"] = info.label;
  j["workload"] = info.workload;
  j["server"] = {
      {"urls", o.urls},
      {"model", result.model},
      {"meta", json::parse(result.server.empty() ? "{}" : result.server, nullptr, false)}};
  j["settings"] = {
      {"requests", o.requests}, {"duration_s", o.duration_s}, {"seed", o.seed},
      {"rule", o.rule},         {"slo_ttft_s", o.slo_ttft_s}, {"slo_tpot_s", o.slo_tpot_s},
      {"search", o.search}};
  j["max_rate"] = result.max_rate ? json(*result.max_rate) : json(nullptr);
  j["max_rate_is_ceiling"] = result.max_rate_is_ceiling;
  j["runs"] = json::array();
  for (const LoadRun& r : result.runs) {
    j["runs"].push_back({{"scenario", scenario_name(r.scenario)},
                         {"rate", r.rate},
                         {"concurrency", r.concurrency},
                         {"requests", r.requests},
                         {"completed", r.completed},
                         {"failed", r.failed},
                         {"duration_s", r.duration_s},
                         {"achieved_rate", r.achieved_rate},
                         {"request_throughput", r.request_throughput},
                         {"output_throughput", r.output_throughput},
                         {"goodput", r.goodput},
                         {"client_cpu", r.client_cpu},
                         {"meets_slos", r.meets_slos},
                         {"ttft_s", percentiles_json(r.ttft)},
                         {"tpot_s", percentiles_json(r.tpot)},
                         {"itl_s", percentiles_json(r.itl)},
                         {"e2e_s", percentiles_json(r.e2e)},
                         {"errors", r.errors}});
  }
  ReportFiles files;
  const std::string base = (dir / stem).string();
  files.json = base + ".json";
  write_file_atomically(files.json, j.dump(2) + "\n");
  std::string md = "# " + info.label + ": " + info.workload + "\n\n" +
                   report::context_markdown(ctx) + "- servers: ";
  for (std::size_t i = 0; i < o.urls.size(); i++) md += (i ? ", " : "") + o.urls[i];
  md += " (" + result.model + ", " + (result.server.empty() ? "{}" : result.server) + ")\n\n" +
        load_table(info, result);
  files.md = base + ".md";
  write_file_atomically(files.md, md);
  files.svg = base + ".svg";
  write_file_atomically(files.svg, load_svg(info, result));
  std::string csv =
      report::csv_line({"label",      "workload",    "scenario",    "rate",        "concurrency",
                        "requests",   "completed",   "failed",      "req_per_s",   "tok_per_s",
                        "goodput",    "ttft_p50_ms", "ttft_p99_ms", "tpot_p50_ms", "tpot_p99_ms",
                        "itl_p99_ms", "e2e_p50_ms",  "e2e_p99_ms",  "client_cpu",  "meets_slos"});
  for (const LoadRun& r : result.runs) {
    csv += report::csv_line({info.label,
                             info.workload,
                             scenario_name(r.scenario),
                             report::num(r.rate),
                             std::to_string(r.concurrency),
                             std::to_string(r.requests),
                             std::to_string(r.completed),
                             std::to_string(r.failed),
                             report::num(r.request_throughput),
                             report::num(r.output_throughput),
                             report::num(r.goodput),
                             report::num(r.ttft.p50 * 1e3),
                             report::num(r.ttft.p99 * 1e3),
                             report::num(r.tpot.p50 * 1e3),
                             report::num(r.tpot.p99 * 1e3),
                             report::num(r.itl.p99 * 1e3),
                             report::num(r.e2e.p50 * 1e3),
                             report::num(r.e2e.p99 * 1e3),
                             report::num(r.client_cpu),
                             r.meets_slos ? "yes" : "no"});
  }
  files.csv = base + ".csv";
  write_file_atomically(files.csv, csv);
  return files;
}

}  // namespace gpt2
