#include "backends/cuda_tp/wait.h"

#include <chrono>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda_tp/communicator.h"

namespace gpt2::tp {

double comm_timeout_seconds() {
  const char* text = std::getenv("GPT2_TP_TIMEOUT");
  if (text != nullptr) {
    char* end = nullptr;
    const double v = std::strtod(text, &end);
    if (end != text && *end == '\0' && v > 0) return v;
  }
  return 120;
}

void wait_stream(cudaStream_t stream, int rank, const std::function<bool()>& aborted,
                 const std::function<void()>& abort) {
  const auto start = std::chrono::steady_clock::now();
  const double limit = comm_timeout_seconds();
  for (;;) {
    const cudaError_t status = cudaStreamQuery(stream);
    if (status == cudaSuccess) return;
    if (status != cudaErrorNotReady) {
      abort();
      cuda::check(status, "cudaStreamQuery (the step's end)");
    }
    if (aborted()) {
      abort();
      throw std::runtime_error("cuda-tp rank " + std::to_string(rank) +
                               ": the step was stopped: another rank failed");
    }
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > limit) {
      abort();
      throw std::runtime_error("cuda-tp rank " + std::to_string(rank) +
                               ": the step did not finish within " + std::to_string(int(limit)) +
                               " s (GPT2_TP_TIMEOUT): a peer is stuck or gone");
    }
    // Spin through a step's usual length, then sleep between polls.
    if (waited > 0.02) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

}  // namespace gpt2::tp
