// Helpers for the CUDA tests: device buffers filled from and read back to
// host vectors.
#pragma once

#include <cuda_runtime_api.h>

#include <vector>

#include "backends/cuda/buffers.h"

namespace gpt2::test {

template <typename T>
cuda::DeviceBuffer<T> to_device(const std::vector<T>& host) {
  cuda::DeviceBuffer<T> d(host.size(), "a test input");
  GPT2_CUDA(cudaMemcpy(d.get(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d;
}

// A device buffer of n values, filled with NaN bits so an output that is not
// written shows.
inline cuda::DeviceBuffer<float> poisoned(std::size_t n) {
  cuda::DeviceBuffer<float> d(n, "a test output");
  GPT2_CUDA(cudaMemset(d.get(), 0xff, n * sizeof(float)));
  return d;
}

template <typename T>
std::vector<T> to_host(const cuda::DeviceBuffer<T>& d, std::size_t n) {
  GPT2_CUDA(cudaDeviceSynchronize());
  std::vector<T> host(n);
  GPT2_CUDA(cudaMemcpy(host.data(), d.get(), n * sizeof(T), cudaMemcpyDeviceToHost));
  return host;
}

}  // namespace gpt2::test
