// Device and pinned host memory, owned: allocated once (per backend or
// session), freed when the owner goes. An allocation that does not fit says
// what it was for and how much it needed.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>
#include <utility>

#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"

namespace gpt2::cuda {

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  // `what` names the buffer in an error ("the weights", "the key cache").
  DeviceBuffer(std::size_t count, const std::string& what) : count_(count) {
    if (count == 0) return;
    require_free_memory(count * sizeof(T), what);
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, count * sizeof(T));
    if (status != cudaSuccess) {
      cudaGetLastError();
      throw CudaError("cudaMalloc(" + what + ", " + std::to_string((count * sizeof(T)) >> 20) +
                      " MiB): " + cudaGetErrorString(status));
    }
    data_ = static_cast<T*>(p);
  }
  ~DeviceBuffer() {
    if (data_ != nullptr) cudaFree(data_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      if (data_ != nullptr) cudaFree(data_);
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return data_; }
  std::size_t size() const { return count_; }
  std::size_t bytes() const { return count_ * sizeof(T); }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

// Page-locked host memory: copies from the device into it run at full speed
// and can be captured in a CUDA graph.
template <typename T>
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  explicit PinnedBuffer(std::size_t count) : count_(count) {
    void* p = nullptr;
    GPT2_CUDA(cudaMallocHost(&p, count * sizeof(T)));
    data_ = static_cast<T*>(p);
  }
  ~PinnedBuffer() {
    if (data_ != nullptr) cudaFreeHost(data_);
  }
  PinnedBuffer(PinnedBuffer&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), count_(std::exchange(o.count_, 0)) {}
  PinnedBuffer& operator=(PinnedBuffer&& o) noexcept {
    if (this != &o) {
      if (data_ != nullptr) cudaFreeHost(data_);
      data_ = std::exchange(o.data_, nullptr);
      count_ = std::exchange(o.count_, 0);
    }
    return *this;
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  T* get() const { return data_; }
  std::size_t size() const { return count_; }

 private:
  T* data_ = nullptr;
  std::size_t count_ = 0;
};

}  // namespace gpt2::cuda
