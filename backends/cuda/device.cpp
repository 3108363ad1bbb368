#include "backends/cuda/device.h"

#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

#include "backends/cuda/cuda_check.h"

namespace gpt2::cuda {

namespace {

// 13000 -> "13.0"
std::string version_text(int v) {
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

std::size_t mib(std::size_t bytes) {
  return bytes >> 20;
}

}  // namespace

int device_count(std::string* why) {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status == cudaSuccess && count > 0) return count;
  cudaGetLastError();  // clear the sticky status for later calls
  if (why != nullptr) {
    int driver = 0, runtime = 0;
    cudaDriverGetVersion(&driver);
    cudaRuntimeGetVersion(&runtime);
    if (driver == 0) {
      *why = "no NVIDIA driver on this machine (no GPU)";
    } else if (status == cudaErrorInsufficientDriver) {
      *why = "the NVIDIA driver (CUDA " + version_text(driver) +
             ") is older than this build's CUDA runtime " + version_text(runtime) +
             ": update the driver";
    } else if (status == cudaErrorNoDevice || (status == cudaSuccess && count == 0)) {
      *why = "no CUDA device on this machine";
    } else {
      *why = std::string("no usable CUDA device (") + cudaGetErrorString(status) + ")";
    }
  }
  return 0;
}

GpuInfo gpu_info(int index) {
  GpuInfo g;
  g.index = index;
  cudaDeviceProp p{};
  GPT2_CUDA(cudaGetDeviceProperties(&p, index));
  g.name = p.name;
  g.sm_count = p.multiProcessorCount;
  g.compute_capability = std::to_string(p.major) + "." + std::to_string(p.minor);
  g.memory_bytes = p.totalGlobalMem;
  g.l2_bytes = std::size_t(p.l2CacheSize);
  g.memory_bus_bits = p.memoryBusWidth;
  int khz = 0;
  GPT2_CUDA(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, index));
  g.sm_clock_mhz = khz / 1000;
  GPT2_CUDA(cudaDeviceGetAttribute(&khz, cudaDevAttrMemoryClockRate, index));
  g.memory_clock_mhz = khz / 1000;
  int driver = 0, runtime = 0;
  GPT2_CUDA(cudaDriverGetVersion(&driver));
  GPT2_CUDA(cudaRuntimeGetVersion(&runtime));
  g.driver_cuda_version = version_text(driver);
  g.runtime_version = version_text(runtime);
  return g;
}

void use_device(int index) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) throw std::runtime_error("no CUDA device: " + why + ".");
  if (index < 0 || index >= count) {
    throw std::runtime_error("CUDA device " + std::to_string(index) + " does not exist (" +
                             std::to_string(count) + " found: 0.." + std::to_string(count - 1) +
                             ").");
  }
  GPT2_CUDA(cudaSetDevice(index));
}

std::size_t free_memory(int index) {
  use_device(index);
  std::size_t free = 0, total = 0;
  GPT2_CUDA(cudaMemGetInfo(&free, &total));
  return free;
}

void require_free_memory(std::size_t bytes, const std::string& what) {
  std::size_t free = 0, total = 0;
  GPT2_CUDA(cudaMemGetInfo(&free, &total));
  if (bytes > free) {
    int device = 0;
    GPT2_CUDA(cudaGetDevice(&device));
    cudaDeviceProp p{};
    GPT2_CUDA(cudaGetDeviceProperties(&p, device));
    throw std::runtime_error("not enough GPU memory: " + what + " needs " +
                             std::to_string(mib(bytes)) + " MiB, " + std::to_string(mib(free)) +
                             " MiB free of " + std::to_string(mib(total)) + " on " + p.name + ".");
  }
}

int single_device(const BackendSpec& spec) {
  if (spec.devices.size() > 1) {
    throw std::invalid_argument("backend " + spec.backend + " runs on one GPU, not " +
                                std::to_string(spec.devices.size()));
  }
  return spec.devices.empty() ? 0 : spec.devices.front();
}

}  // namespace gpt2::cuda
