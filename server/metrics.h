// The server's counters and latency histograms, written as Prometheus text
// (GET /metrics). Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace gpt2::server {

// A cumulative histogram with fixed upper bounds (seconds).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double value);
  // "<name>_bucket{le=...} ...", "<name>_sum", "<name>_count".
  void write(const std::string& name, const std::string& help, std::string& out) const;

 private:
  std::vector<double> bounds_;
  std::vector<std::uint64_t> counts_;  // per bound, and one more for +Inf
  double sum_ = 0;
  std::uint64_t count_ = 0;
};

class Metrics {
 public:
  Metrics();
  void request(const std::string& endpoint, int status);  // an HTTP answer
  void prompt_tokens(long n);
  void generated_tokens(long n);
  void ttft(double seconds);  // submission to a request's first token
  void tpot(double seconds);  // (latency - TTFT) / (tokens - 1), a request of 2+ tokens
  void latency(double seconds);
  void queue(double seconds);            // submission to the start of the step that ran its prompt
  void prefill(double seconds);          // that step's time (its prompt among the others' decodes)
  void step(int batch, double seconds);  // one scheduler step: its sequences, its time
  void cancelled(const std::string& reason, long sequences);  // sequences freed by a cancel
  // Everything, then `gauges` (name -> value, help) as Prometheus gauges.
  struct Gauge {
    std::string name, help;
    double value;
  };
  std::string prometheus(const std::vector<Gauge>& gauges) const;

 private:
  void observe(Histogram& h, double seconds);
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, std::uint64_t> requests_;
  std::map<std::string, std::uint64_t> cancelled_;  // by reason
  std::uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, steps_ = 0, step_sequences_ = 0;
  Histogram ttft_, tpot_, latency_, step_, queue_, prefill_;
};

}  // namespace gpt2::server
