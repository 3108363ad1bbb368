// cuBLASLt's matrix products, for gpt2-microbench's cublas rungs (no backend
// runs them: their sums change with the row count, so a batch's rows would
// not keep their bits):
// out (T, OC) = epilogue(inp (T, C) @ weight (OC, C)^T), float32 compute
// (CUBLAS_COMPUTE_32F: no TF32), float32 or bfloat16 inputs (the tensor
// cores), the bias, GELU and residual fused as cuBLASLt epilogues. The plan
// cuBLASLt's heuristic picks for a shape and epilogue is kept.
#pragma once

#include <cublasLt.h>

#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "backends/cuda/buffers.h"
#include "backends/cuda/fast_kernels.h"

namespace gpt2::cuda {

class Gemm {
 public:
  explicit Gemm(bool bf16_inputs);
  ~Gemm();
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  // out float32 (T, OC); inp (T, C) and weight (OC, C) float32 or, with
  // bf16_inputs, bfloat16; bias (OC) float32. kBiasResidual adds into out.
  // Sessions of one backend may call it from several host threads: one
  // product is enqueued at a time.
  void run(float* out, const void* inp, const void* weight, const float* bias,
           fast::Epilogue epilogue, int T, int C, int OC, cudaStream_t stream);
  std::string version() const;  // cuBLASLt's, "13.0.0"

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  const Plan& plan_for(fast::Epilogue epilogue, int T, int C, int OC);

  bool bf16_;
  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer<char> workspace_;
  std::mutex mutex_;
  std::map<std::tuple<int, int, int, int>, Plan> plans_;
};

}  // namespace gpt2::cuda
