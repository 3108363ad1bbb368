#include "backends/cuda/cuda_check.h"

#include "backends/cuda/cublas_api.h"

namespace gpt2::cuda {

namespace {
// "cudaMalloc(&p, bytes)" -> "cudaMalloc": the function, not its arguments.
std::string call_name(const char* call) {
  std::string s = call;
  const auto paren = s.find('(');
  return paren == std::string::npos ? s : s.substr(0, paren);
}
}  // namespace

void throw_cuda_error(const char* call, cudaError_t status) {
  throw CudaError(call_name(call) + ": " + cudaGetErrorString(status) + " (" +
                  cudaGetErrorName(status) + ")");
}

void throw_cublas_error(const char* call, cublasStatus_t status) {
  // A cuBLAS status comes from a call through cublas_api(), which is open.
  const CublasApi& api = cublas_api();
  throw CudaError(call_name(call) + ": " + api.status_string(status) + " (" +
                  api.status_name(status) + ")");
}

void check_launch(const char* kernel) {
  const cudaError_t status = cudaGetLastError();
  if (status != cudaSuccess) {
    throw CudaError(std::string("launch of ") + kernel + ": " + cudaGetErrorString(status));
  }
}

}  // namespace gpt2::cuda
