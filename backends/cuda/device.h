// The GPUs this process can see: how many, what each is, and a clear error
// when there is none, the driver is too old, or memory runs short.
#pragma once

#include <cstddef>
#include <string>

#include "backends/backend.h"

namespace gpt2::cuda {

// The number of CUDA devices; 0 with `why` set when there is none usable
// (no driver, no device, a driver older than this build's runtime).
int device_count(std::string* why);

// Facts about device `index` for reports. Throws CudaError.
GpuInfo gpu_info(int index);

// Makes `index` the calling thread's device; throws std::runtime_error with
// one line ("no CUDA device: ...", "CUDA device 3 does not exist (2 found)").
void use_device(int index);

// The one GPU of a single-GPU backend's spec: its first device (0 when it
// lists none). Throws std::invalid_argument "backend cuda runs on one GPU,
// not 2" when it lists more.
int single_device(const BackendSpec& spec);

// The bytes free on device `index` now. Throws CudaError.
std::size_t free_memory(int index);

// Throws std::runtime_error "not enough GPU memory: <what> needs X MiB, Y MiB
// free of Z on <name>" when `bytes` more would not fit on the current device.
void require_free_memory(std::size_t bytes, const std::string& what);

}  // namespace gpt2::cuda
