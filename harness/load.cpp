#include "harness/load.h"

#include <httplib.h>
#include <sys/resource.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "harness/report_json.h"
#include "reference/random.h"

namespace gpt2 {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kOffline:
      return "offline";
    case Scenario::kPoisson:
      return "poisson";
    case Scenario::kConcurrency:
      return "concurrency";
  }
  return "?";
}

Url parse_url(const std::string& url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) {
    throw std::invalid_argument("The URL '" + url +
                                "' does not start with http:// (https is not "
                                "supported: put the servers behind a local proxy).");
  }
  std::string rest = url.substr(scheme.size());
  if (const std::size_t slash = rest.find('/'); slash != std::string::npos) {
    if (rest.substr(slash) != "/" && rest.substr(slash) != "/v1" && rest.substr(slash) != "/v1/") {
      throw std::invalid_argument("The URL '" + url +
                                  "' has a path: give the server's root, "
                                  "http://host:port.");
    }
    rest = rest.substr(0, slash);
  }
  Url u;
  const std::size_t colon = rest.rfind(':');
  u.host = colon == std::string::npos ? rest : rest.substr(0, colon);
  if (colon != std::string::npos) {
    const std::string port = rest.substr(colon + 1);
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
      throw std::invalid_argument("The URL '" + url + "' has a bad port.");
    }
    u.port = int(p);
  }
  if (u.host.empty()) throw std::invalid_argument("The URL '" + url + "' has no host.");
  return u;
}

Percentiles percentiles(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  // The nearest-rank percentile: the smallest value with at least q of them at or below it.
  auto at = [&](double q) {
    const std::size_t rank = std::size_t(std::ceil(q * double(v.size())));
    return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  p.mean = sum / double(v.size());
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

RequestResult send_completion(const std::string& url, const std::string& api_key,
                              const std::string& body, double timeout_s) {
  RequestResult r;
  Url u;
  try {
    u = parse_url(url);
  } catch (const std::exception& e) {
    r.error = e.what();
    return r;
  }
  httplib::Client client(u.host, u.port);
  const time_t secs = time_t(std::ceil(timeout_s));
  client.set_connection_timeout(std::min<time_t>(secs, 30), 0);
  client.set_read_timeout(secs, 0);
  client.set_write_timeout(30, 0);
  httplib::Request req;
  req.method = "POST";
  req.path = "/v1/completions";
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  if (!api_key.empty()) req.set_header("Authorization", "Bearer " + api_key);
  req.body = body;
  const Clock::time_point t0 = Clock::now();
  std::string pending, raw;
  double last = -1;
  bool done = false, finished = false;
  std::string server_error;
  req.content_receiver = [&](const char* data, std::size_t n, std::uint64_t, std::uint64_t) {
    const double now = std::chrono::duration<double>(Clock::now() - t0).count();
    if (raw.size() < 65536) raw.append(data, std::min<std::size_t>(n, 65536 - raw.size()));
    pending.append(data, n);
    // Server-sent events: "data: ...\n\n"; a token event carries "tokens".
    for (std::size_t end; (end = pending.find("\n\n")) != std::string::npos;) {
      const std::string event = pending.substr(0, end);
      pending.erase(0, end + 2);
      if (event.rfind("data: ", 0) != 0) continue;
      const std::string payload = event.substr(6);
      if (payload == "[DONE]") {
        done = true;
        continue;
      }
      const json j = json::parse(payload, nullptr, false);
      if (j.is_discarded()) continue;
      if (j.contains("error")) {
        server_error = j["error"].value("message", std::string("error"));
        continue;
      }
      // gpt2-serve names each chunk's tokens; other servers (llama-server) send
      // a token a chunk: a chunk with text counts as one.
      int tokens = 0;
      if (j.contains("choices") && j["choices"].is_array()) {
        for (const json& c : j["choices"]) {
          if (c.contains("tokens") && c["tokens"].is_array()) {
            tokens += int(c["tokens"].size());
          } else if (c.contains("text") && c["text"].is_string() &&
                     !c["text"].get<std::string>().empty()) {
            tokens++;
          }
          if (c.contains("finish_reason") && !c["finish_reason"].is_null()) finished = true;
        }
      }
      for (int k = 0; k < tokens; k++) {
        if (r.tokens == 0) {
          r.ttft = now;
        } else {
          r.gaps.push_back(now - last);
        }
        last = now;
        r.tokens++;
      }
    }
    return true;
  };
  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  const bool sent = client.send(req, res, error);
  r.latency = std::chrono::duration<double>(Clock::now() - t0).count();
  r.status = sent ? res.status : 0;
  if (!sent) {
    r.error = "no answer: " + httplib::to_string(error);
  } else if (res.status != 200) {
    const json j = json::parse(raw.empty() ? res.body : raw, nullptr, false);
    r.error =
        "HTTP " + std::to_string(res.status) + ": " +
        (!j.is_discarded() && j.contains("error") ? j["error"].value("message", std::string("?"))
                                                  : std::string("(no error object)"));
  } else if (!server_error.empty()) {
    r.error = server_error;
  } else if (!done && !finished) {
    r.error = "the stream ended before its last token (no finish_reason, no [DONE])";
  } else if (r.tokens == 0) {
    r.error = "no token";
  } else {
    r.ok = true;
  }
  return r;
}

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * double(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

std::string request_body(const LoadOptions& o, const LoadRequest& r, int i) {
  json body = {
      {"prompt", r.prompt}, {"max_tokens", r.max_tokens}, {"stream", true}, {"ignore_eos", true}};
  // Greedy as OpenAI's temperature 0, which every server takes; gpt2-serve's
  // other rules by name.
  if (o.rule == "sample") {
    body["seed"] = o.seed + std::uint64_t(i);
  } else if (o.rule == "greedy") {
    body["temperature"] = 0;
  } else {
    body["rule"] = o.rule;
  }
  return body.dump();
}

// One run: the requests sent at the scenario's times, each on its own thread.
LoadRun run_once(const LoadOptions& o, const std::vector<LoadRequest>& requests, Scenario scenario,
                 double rate, int concurrency) {
  LoadRun run;
  run.scenario = scenario;
  run.rate = rate;
  run.concurrency = concurrency;
  const int n = scenario == Scenario::kPoisson && o.duration_s > 0
                    ? int(std::clamp(std::ceil(rate * o.duration_s), 8.0, 20000.0))
                    : o.requests;
  run.requests = n;
  run.results.resize(std::size_t(n));
  // Arrival times (Poisson: exponential gaps from the seeded generator).
  std::vector<double> arrivals(std::size_t(n), 0.0);
  if (scenario == Scenario::kPoisson) {
    SplitMix64 rng(o.seed * 0x9E3779B97F4A7C15ull + std::uint64_t(rate * 1000));
    double t = 0;
    for (int i = 0; i < n; i++) {
      const double u = (double(rng.next() >> 11) + 0.5) * 0x1.0p-53;  // (0, 1)
      arrivals[std::size_t(i)] = t;
      t += -std::log(u) / rate;
    }
  }
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  std::vector<std::thread> threads;
  threads.reserve(std::size_t(n));
  const double cpu0 = cpu_seconds();
  const Clock::time_point t0 = Clock::now();
  std::vector<double> sent(std::size_t(n), 0.0);
  for (int i = 0; i < n; i++) {
    if (scenario == Scenario::kPoisson) {
      std::this_thread::sleep_until(t0 + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(arrivals[i])));
    } else if (scenario == Scenario::kConcurrency) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < concurrency; });
    }
    {
      std::lock_guard lock(mu);
      in_flight++;
    }
    const std::string& url = o.urls[std::size_t(i) % o.urls.size()];
    const std::string body = request_body(o, requests[std::size_t(i) % requests.size()], i);
    sent[std::size_t(i)] = std::chrono::duration<double>(Clock::now() - t0).count();
    threads.emplace_back([&, i, url, body] {
      RequestResult r = send_completion(url, o.api_key, body, o.timeout_s);
      r.start = sent[std::size_t(i)];
      run.results[std::size_t(i)] = std::move(r);
      {
        std::lock_guard lock(mu);
        in_flight--;
      }
      cv.notify_all();
    });
  }
  for (auto& t : threads) t.join();
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  run.client_cpu = (cpu_seconds() - cpu0) / std::max(wall, 1e-9);
  std::vector<double> ttft, tpot, itl, e2e;
  double end = 0;
  long tokens = 0;
  int good = 0;
  std::set<std::string> errors;
  for (const RequestResult& r : run.results) {
    if (!r.ok) {
      run.failed++;
      if (errors.size() < 5) errors.insert(r.error);
      continue;
    }
    run.completed++;
    tokens += r.tokens;
    end = std::max(end, r.start + r.latency);
    ttft.push_back(r.ttft);
    e2e.push_back(r.latency);
    const double per = r.tokens > 1 ? (r.latency - r.ttft) / double(r.tokens - 1) : 0;
    if (r.tokens > 1) tpot.push_back(per);
    itl.insert(itl.end(), r.gaps.begin(), r.gaps.end());
    if ((o.slo_ttft_s <= 0 || r.ttft <= o.slo_ttft_s) &&
        (o.slo_tpot_s <= 0 || per <= o.slo_tpot_s)) {
      good++;
    }
  }
  run.errors.assign(errors.begin(), errors.end());
  const double first = sent.empty() ? 0 : *std::min_element(sent.begin(), sent.end());
  const double last_sent = sent.empty() ? 0 : *std::max_element(sent.begin(), sent.end());
  run.duration_s = std::max(end - first, 1e-9);
  run.achieved_rate = n > 1 && last_sent > first ? double(n - 1) / (last_sent - first) : 0;
  run.ttft = percentiles(ttft);
  run.tpot = percentiles(tpot);
  run.itl = percentiles(itl);
  run.e2e = percentiles(e2e);
  run.request_throughput = run.completed / run.duration_s;
  run.output_throughput = double(tokens) / run.duration_s;
  run.goodput = good / run.duration_s;
  run.meets_slos = run.failed == 0 && (o.slo_ttft_s <= 0 || run.ttft.p99 <= o.slo_ttft_s) &&
                   (o.slo_tpot_s <= 0 || run.tpot.p99 <= o.slo_tpot_s);
  return run;
}

std::string describe(const LoadRun& r) {
  char buf[512];
  const std::string what =
      r.scenario == Scenario::kPoisson       ? "rate " + report::fmt("%.4g", r.rate) + "/s"
      : r.scenario == Scenario::kConcurrency ? "concurrency " + std::to_string(r.concurrency)
                                             : std::string("offline");
  std::snprintf(buf, sizeof buf,
                "%s: %d/%d ok, %.2f req/s, %.1f tok/s, TTFT p50 %.1f p99 %.1f ms, TPOT p50 %.2f "
                "p99 %.2f ms%s",
                what.c_str(), r.completed, r.requests, r.request_throughput, r.output_throughput,
                r.ttft.p50 * 1e3, r.ttft.p99 * 1e3, r.tpot.p50 * 1e3, r.tpot.p99 * 1e3,
                r.meets_slos ? ", meets the SLOs" : "");
  return buf;
}

}  // namespace

std::vector<LoadRequest> synthetic_requests(int count, int input_len, int output_len,
                                            std::uint64_t seed) {
  SplitMix64 rng(seed ^ 0x5EED5EEDull);
  std::vector<LoadRequest> out(static_cast<std::size_t>(count));
  for (LoadRequest& r : out) {
    r.prompt.resize(std::size_t(input_len));
    for (int& t : r.prompt) t = int(rng.next() % 50000);  // ordinary tokens, no <|endoftext|>
    r.max_tokens = output_len;
  }
  return out;
}

LoadResult run_load(const LoadOptions& o, const std::vector<LoadRequest>& requests,
                    const std::function<void(const std::string&)>& progress) {
  if (o.urls.empty()) throw std::invalid_argument("No server URL (--url).");
  if (requests.empty()) throw std::invalid_argument("No request to send.");
  if (o.requests < 1 || o.requests > 20000) {
    throw std::invalid_argument("--requests must be in [1, 20000].");
  }
  if (!(o.duration_s >= 0) || o.duration_s > 3600) {
    throw std::invalid_argument("--duration must be in [0, 3600] s.");
  }
  if (o.search && (o.slo_ttft_s <= 0 && o.slo_tpot_s <= 0)) {
    throw std::invalid_argument("--search needs an SLO: --slo-ttft and/or --slo-tpot.");
  }
  for (double r : o.rates) {
    if (!(r > 0) || r > 1e6)
      throw std::invalid_argument("A --rate must be in (0, 1e6] requests/s.");
  }
  for (int c : o.concurrency) {
    if (c < 1 || c > 4096) throw std::invalid_argument("A --concurrency must be in [1, 4096].");
  }
  LoadResult result;
  for (const std::string& url : o.urls) {
    const Url u = parse_url(url);
    httplib::Client c(u.host, u.port);
    c.set_connection_timeout(10, 0);
    c.set_read_timeout(10, 0);
    httplib::Headers h;
    if (!o.api_key.empty()) h.emplace("Authorization", "Bearer " + o.api_key);
    auto health = c.Get("/health", h);
    if (!health || health->status != 200) {
      throw std::runtime_error("The server at " + url + " is not ready (/health: " +
                               (health ? "HTTP " + std::to_string(health->status)
                                       : "no answer: " + httplib::to_string(health.error())) +
                               ").");
    }
    if (result.server.empty()) {
      if (auto models = c.Get("/v1/models", h); models && models->status == 200) {
        const json j = json::parse(models->body, nullptr, false);
        if (!j.is_discarded() && j.contains("data") && !j["data"].empty()) {
          result.model = j["data"][0].value("id", std::string());
          result.server = j["data"][0].contains("meta") ? j["data"][0]["meta"].dump() : "{}";
        }
      }
    }
  }
  auto add = [&](LoadRun run) {
    if (progress) progress(describe(run));
    result.runs.push_back(std::move(run));
    return result.runs.back().meets_slos;
  };
  switch (o.scenario) {
    case Scenario::kOffline:
      add(run_once(o, requests, Scenario::kOffline, 0, 0));
      break;
    case Scenario::kConcurrency:
      for (int c : o.concurrency) add(run_once(o, requests, Scenario::kConcurrency, 0, c));
      break;
    case Scenario::kPoisson:
      for (double r : o.rates) add(run_once(o, requests, Scenario::kPoisson, r, 0));
      break;
  }
  if (o.search) {
    // Bracket: double from the highest rate that passed (or 1/s) until one fails.
    double good = 0, bad = 0;
    for (const LoadRun& r : result.runs) {
      if (r.scenario != Scenario::kPoisson) continue;
      if (r.meets_slos) good = std::max(good, r.rate);
      if (!r.meets_slos && (bad == 0 || r.rate < bad)) bad = r.rate;
    }
    if (bad != 0 && good >= bad) good = 0;
    double probe = good > 0 ? good * 2 : (bad > 0 ? bad / 2 : 1.0);
    for (int i = 0; i < 16 && bad == 0 && probe <= o.search_max; i++, probe *= 2) {
      if (add(run_once(o, requests, Scenario::kPoisson, probe, 0))) {
        good = probe;
      } else {
        bad = probe;
      }
    }
    for (int i = 0; i < 16 && good == 0 && bad > 1e-3; i++) {
      probe = bad / 2;
      if (add(run_once(o, requests, Scenario::kPoisson, probe, 0))) {
        good = probe;
      } else {
        bad = probe;
      }
    }
    for (int i = 0; i < o.search_steps && good > 0 && bad > 0; i++) {
      probe = (good + bad) / 2;
      if (add(run_once(o, requests, Scenario::kPoisson, probe, 0))) {
        good = probe;
      } else {
        bad = probe;
      }
    }
    if (good > 0) result.max_rate = good;
    result.max_rate_is_ceiling = good > 0 && bad == 0;
  }
  return result;
}

}  // namespace gpt2
