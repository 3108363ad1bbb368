// Helpers shared by the tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "harness/goldens.h"
#include "reference/model.h"
#include "runtime/backend_specs.h"

namespace gpt2::test {

// The tiny synthetic model (default seed), made once per test binary.
std::shared_ptr<const Model> tiny_model();

// Three prompts for the tiny model (3, 1 and 4 tokens, completed to 8, 6 and
// 12: 5 + 5 + 8 steps), and the reference's goldens of them (recompute mode).
std::vector<Prompt> prompts();
GoldenFile reference_goldens(Rule rule, Precision precision = Precision::kFloat32);

// The specs of these backends, precisions and thread counts (lists as the
// command line writes them).
std::vector<BackendSpec> specs(const std::string& backends, const std::string& precisions,
                               const std::string& threads);

// A fresh empty folder under the system temp dir, removed at exit.
std::filesystem::path temp_dir();

// A file's whole contents ("" when it cannot be read).
std::string slurp(const std::filesystem::path& p);

// Whether two float arrays hold the same bits.
bool same_bits(std::span<const float> a, std::span<const float> b);

// Waits for an event the test caused (polled every 2 ms); the bound only turns
// a hang into a failure, it never decides the result.
bool wait_for(const std::function<bool()>& event,
              std::chrono::seconds bound = std::chrono::seconds(60));

// A raw TCP connection to 127.0.0.1:port (a client that misbehaves), its reads
// bounded by `recv_timeout_s` seconds where that is above 0; -1 on failure.
int connect_loopback(int port, int recv_timeout_s = 0);

// Runs a shell command; returns its exit status and what it wrote.
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};
CommandResult run_command(const std::string& command);

// A small random model configuration's parameters (bell-shaped, seed given).
std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale = 1.0f);

// A backend that keeps its sessions' caches, it says, on a GPU with `free`
// bytes free (Device::kCuda, device_memory_free), while `inner` computes: the
// runtime's GPU paths (host threads, memory checks) on any machine.
class SmallDevice final : public Backend {
 public:
  SmallDevice(std::unique_ptr<Backend> inner, std::size_t free)
      : inner_(std::move(inner)), info_(inner_->info()), free_(free) {
    info_.device = Device::kCuda;
  }
  const BackendInfo& info() const override { return info_; }
  const Model& model() const override { return inner_->model(); }
  std::unique_ptr<Session> open_session(int capacity) const override {
    return inner_->open_session(capacity);
  }
  std::optional<std::size_t> device_memory_free() const override { return free_; }
  void copy_caches(std::span<const CacheCopy> copies) const override {
    inner_->copy_caches(copies);
  }

 private:
  std::unique_ptr<Backend> inner_;
  BackendInfo info_;
  std::size_t free_;
};

}  // namespace gpt2::test
