// Every CUDA runtime and cuBLAS call is checked; a failure throws CudaError
// naming the call, e.g. "cudaMalloc(keys): out of memory".
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <stdexcept>
#include <string>

namespace gpt2::cuda {

class CudaError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

[[noreturn]] void throw_cuda_error(const char* call, cudaError_t status);
[[noreturn]] void throw_cublas_error(const char* call, cublasStatus_t status);

inline void check(cudaError_t status, const char* call) {
  if (status != cudaSuccess) throw_cuda_error(call, status);
}
inline void check(cublasStatus_t status, const char* call) {
  if (status != CUBLAS_STATUS_SUCCESS) throw_cublas_error(call, status);
}
// After a kernel launch: the launch's own error (a bad configuration).
void check_launch(const char* kernel);

}  // namespace gpt2::cuda

// GPT2_CUDA(cudaMalloc(&p, n)): the call's text names it in the error.
#define GPT2_CUDA(call) ::gpt2::cuda::check((call), #call)
