#include "harness/microbench/collectives.h"

#include <benchmark/benchmark.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "backends/cuda/buffers.h"
#include "backends/cuda/device.h"
#include "backends/cuda_tp/communicator.h"

namespace gpt2::microbench {

namespace {

constexpr int kCalls = 100;  // collectives per timed round, on every rank at once

// Each rank's thread runs kCalls of `op` on its stream, then waits for it;
// an iteration's time is the round's over kCalls.
void bm_collective(benchmark::State& state, std::vector<int> devices, bool gather,
                   std::size_t count) {
  tp::CommGroup group = devices.size() > 1 && devices[0] == devices[1]
                            ? tp::make_local_group(devices[0], int(devices.size()))
                            : tp::make_nccl_group(devices);
  const int n = int(group.size());
  std::vector<cuda::DeviceBuffer<float>> in(n), out(n);
  std::vector<cudaStream_t> streams(n);
  for (int r = 0; r < n; r++) {
    cuda::use_device(group[r]->device());
    in[r] = cuda::DeviceBuffer<float>(count, "collective input");
    out[r] = cuda::DeviceBuffer<float>(gather ? count * n : 1, "collective output");
    cudaMemset(in[r].get(), 0, count * sizeof(float));
    cudaStreamCreateWithFlags(&streams[r], cudaStreamNonBlocking);
  }
  auto round = [&](int calls) {
    std::vector<std::thread> threads;
    for (int r = 0; r < n; r++) {
      threads.emplace_back([&, r] {
        cuda::use_device(group[r]->device());
        for (int k = 0; k < calls; k++) {
          if (gather) {
            group[r]->all_gather(in[r].get(), out[r].get(), count, streams[r]);
          } else {
            group[r]->all_reduce_sum(in[r].get(), count, streams[r]);
          }
        }
        group[r]->wait(streams[r]);
      });
    }
    for (auto& t : threads) t.join();
  };
  round(10);  // warm-up: NCCL's connections made
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    round(kCalls);
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(s / kCalls);
  }
  state.counters["bytes"] = double(count * sizeof(float));
  state.counters["GB/s"] = benchmark::Counter(double(count * sizeof(float)) * state.iterations(),
                                              benchmark::Counter::kIsRate);
  for (int r = 0; r < n; r++) {
    cudaSetDevice(group[r]->device());
    cudaStreamDestroy(streams[r]);
  }
}

}  // namespace

void register_collective_benchmarks(const ModelConfig& config, const std::vector<int>& rows) {
  const int gpus = cuda::device_count(nullptr);
  if (gpus == 0) return;
  auto add = [&](const std::string& comm, std::vector<int> devices) {
    const int n = int(devices.size());
    if (config.num_heads % n != 0) return;
    for (int R : rows) {
      const std::string ranks = "/ranks:" + std::to_string(n);
      benchmark::RegisterBenchmark(("allreduce/" + comm + ranks + "/R:" + std::to_string(R) +
                                    "/C:" + std::to_string(config.channels))
                                       .c_str(),
                                   bm_collective, devices, false, std::size_t(R) * config.channels)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
      const std::size_t chunk = (config.vocab_size + n - 1) / n;
      benchmark::RegisterBenchmark(
          ("allgather/" + comm + ranks + "/O:" + std::to_string(R)).c_str(), bm_collective, devices,
          true, std::size_t(R) * chunk)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  };
  for (int n = 1; n <= gpus; n *= 2) {
    std::vector<int> devices;
    for (int d = 0; d < n; d++) devices.push_back(d);
    add("nccl", devices);
  }
  for (int n : {2, 4}) add("one-gpu", std::vector<int>(n, 0));
}

}  // namespace gpt2::microbench
