#include "server/metrics.h"

#include <cmath>
#include <cstdio>

namespace gpt2::server {

namespace {

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void header(const std::string& name, const std::string& help, const char* type, std::string& out) {
  out += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

std::vector<double> latency_bounds() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::observe(double v) {
  std::size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) i++;
  counts_[i]++;
  sum_ += v;
  count_++;
}

void Histogram::write(const std::string& name, const std::string& help, std::string& out) const {
  header(name, help, "histogram", out);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds_.size(); i++) {
    cumulative += counts_[i];
    const double le = i < bounds_.size() ? bounds_[i] : INFINITY;
    out += name + "_bucket{le=\"" + number(le) + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += name + "_sum " + number(sum_) + "\n";
  out += name + "_count " + std::to_string(count_) + "\n";
}

Metrics::Metrics()
    : ttft_(latency_bounds()),
      tpot_(latency_bounds()),
      latency_(latency_bounds()),
      step_(latency_bounds()),
      queue_(latency_bounds()),
      prefill_(latency_bounds()) {}

void Metrics::observe(Histogram& h, double s) {
  std::lock_guard lock(mu_);
  h.observe(s);
}

void Metrics::request(const std::string& endpoint, int status) {
  std::lock_guard lock(mu_);
  requests_[{endpoint, status}]++;
}
void Metrics::prompt_tokens(long n) {
  std::lock_guard lock(mu_);
  prompt_tokens_ += std::uint64_t(n);
}
void Metrics::generated_tokens(long n) {
  std::lock_guard lock(mu_);
  generated_tokens_ += std::uint64_t(n);
}
void Metrics::ttft(double s) {
  observe(ttft_, s);
}
void Metrics::tpot(double s) {
  observe(tpot_, s);
}
void Metrics::latency(double s) {
  observe(latency_, s);
}
void Metrics::queue(double s) {
  observe(queue_, s);
}
void Metrics::prefill(double s) {
  observe(prefill_, s);
}
void Metrics::step(int batch, double s) {
  std::lock_guard lock(mu_);
  steps_++;
  step_sequences_ += std::uint64_t(batch);
  step_.observe(s);
}

void Metrics::cancelled(const std::string& reason, long sequences) {
  std::lock_guard lock(mu_);
  cancelled_[reason] += std::uint64_t(sequences);
}

std::string Metrics::prometheus(const std::vector<Gauge>& gauges) const {
  std::lock_guard lock(mu_);
  std::string out;
  header("gpt2_requests_total", "HTTP requests answered, by endpoint and status.", "counter", out);
  for (const auto& [key, count] : requests_) {
    out += "gpt2_requests_total{endpoint=\"" + key.first + "\",status=\"" +
           std::to_string(key.second) + "\"} " + std::to_string(count) + "\n";
  }
  header("gpt2_prompt_tokens_total", "Prompt tokens of the completions admitted.", "counter", out);
  out += "gpt2_prompt_tokens_total " + std::to_string(prompt_tokens_) + "\n";
  header("gpt2_generation_tokens_total", "Tokens generated.", "counter", out);
  out += "gpt2_generation_tokens_total " + std::to_string(generated_tokens_) + "\n";
  header("gpt2_steps_total", "Scheduler steps (one forward_batch each).", "counter", out);
  out += "gpt2_steps_total " + std::to_string(steps_) + "\n";
  header("gpt2_step_sequences_total", "Sequences advanced, summed over the steps.", "counter", out);
  out += "gpt2_step_sequences_total " + std::to_string(step_sequences_) + "\n";
  header("gpt2_cancelled_sequences_total",
         "Sequences freed before their end: their client left (client_gone) or their deadline "
         "passed (deadline).",
         "counter", out);
  for (const char* reason : {"client_gone", "deadline"}) {
    const auto it = cancelled_.find(reason);
    out += std::string("gpt2_cancelled_sequences_total{reason=\"") + reason + "\"} " +
           std::to_string(it == cancelled_.end() ? 0 : it->second) + "\n";
  }
  ttft_.write("gpt2_time_to_first_token_seconds", "Submission to a request's first token.", out);
  tpot_.write("gpt2_time_per_output_token_seconds",
              "(latency - TTFT) / (tokens - 1) of each request of 2 or more tokens.", out);
  latency_.write("gpt2_request_latency_seconds", "Submission to a request's last token.", out);
  step_.write("gpt2_step_seconds", "The time of one scheduler step.", out);
  queue_.write("gpt2_queue_seconds",
               "Submission to the start of the step that ran a request's prompt.", out);
  prefill_.write("gpt2_prefill_step_seconds",
                 "The time of the step that ran a request's prompt (beside the others' decodes).",
                 out);
  for (const Gauge& g : gauges) {
    header(g.name, g.help, "gauge", out);
    out += g.name + " " + number(g.value) + "\n";
  }
  return out;
}

}  // namespace gpt2::server
