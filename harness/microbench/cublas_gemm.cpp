#include "harness/microbench/cublas_gemm.h"

#include "backends/cuda/cuda_check.h"

namespace gpt2::cuda {

namespace {
constexpr std::size_t kWorkspaceBytes = std::size_t(32) << 20;
using fast::Epilogue;
}  // namespace

Gemm::Gemm(bool use_bf16) : bf16_(use_bf16), workspace_(kWorkspaceBytes, "cuBLASLt's workspace") {
  check(cublasLtCreate(&handle_), "cublasLtCreate");
}
Gemm::~Gemm() {
  for (auto& [key, plan] : plans_) {
    cublasLtMatmulDescDestroy(plan.desc);
    cublasLtMatrixLayoutDestroy(plan.a);
    cublasLtMatrixLayoutDestroy(plan.b);
    cublasLtMatrixLayoutDestroy(plan.c);
  }
  cublasLtDestroy(handle_);
}

void Gemm::run(float* out, const void* inp, const void* weight, const float* bias,
               Epilogue epilogue, int T, int C, int OC, cudaStream_t stream) {
  std::lock_guard lock(mutex_);
  const Plan& plan = plan_for(epilogue, T, C, OC);
  const float alpha = 1.0f, beta = epilogue == Epilogue::kBiasResidual ? 1.0f : 0.0f;
  if (epilogue != Epilogue::kNone) {
    check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias,
                                         sizeof bias),
          "cublasLtMatmulDescSetAttribute(bias)");
  }
  check(cublasLtMatmul(handle_, plan.desc, &alpha, weight, plan.a, inp, plan.b, &beta, out, plan.c,
                       out, plan.c, &plan.algo, workspace_.get(), workspace_.bytes(), stream),
        "cublasLtMatmul");
}

std::string Gemm::version() const {
  const std::size_t v = cublasLtGetVersion();
  return std::to_string(v / 10000) + "." + std::to_string(v / 100 % 100) + "." +
         std::to_string(v % 100);
}

// Row-major out (T, OC) is column-major (OC, T) = weight^T' (OC x C) times
// inp' (C x T): A = weight (stored C x OC column-major, transposed), B = inp.
const Gemm::Plan& Gemm::plan_for(Epilogue epilogue, int T, int C, int OC) {
  const auto key = std::make_tuple(int(epilogue), T, C, OC);
  if (auto it = plans_.find(key); it != plans_.end()) return it->second;
  Plan plan;
  const cudaDataType_t in_type = bf16_ ? CUDA_R_16BF : CUDA_R_32F;
  check(cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F),
        "cublasLtMatmulDescCreate");
  const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
  check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
        "cublasLtMatmulDescSetAttribute(transa)");
  check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
        "cublasLtMatmulDescSetAttribute(transb)");
  cublasLtEpilogue_t ep = CUBLASLT_EPILOGUE_DEFAULT;
  if (epilogue == Epilogue::kBias || epilogue == Epilogue::kBiasResidual) {
    ep = CUBLASLT_EPILOGUE_BIAS;
  } else if (epilogue == Epilogue::kBiasGelu) {
    ep = CUBLASLT_EPILOGUE_GELU_BIAS;
  }
  check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &ep, sizeof ep),
        "cublasLtMatmulDescSetAttribute(epilogue)");
  if (ep != CUBLASLT_EPILOGUE_DEFAULT) {
    const cudaDataType_t bias_type = CUDA_R_32F;
    check(cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type,
                                         sizeof bias_type),
          "cublasLtMatmulDescSetAttribute(bias type)");
  }
  check(cublasLtMatrixLayoutCreate(&plan.a, in_type, C, OC, C), "cublasLtMatrixLayoutCreate(A)");
  check(cublasLtMatrixLayoutCreate(&plan.b, in_type, C, T, C), "cublasLtMatrixLayoutCreate(B)");
  check(cublasLtMatrixLayoutCreate(&plan.c, CUDA_R_32F, OC, T, OC),
        "cublasLtMatrixLayoutCreate(C)");
  cublasLtMatmulPreference_t pref = nullptr;
  check(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
  const std::size_t ws = workspace_.bytes();
  check(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                             sizeof ws),
        "cublasLtMatmulPreferenceSetAttribute");
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(
      handle_, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1, &result, &found);
  cublasLtMatmulPreferenceDestroy(pref);
  if (status != CUBLAS_STATUS_SUCCESS || found == 0) {
    throw CudaError("cublasLtMatmulAlgoGetHeuristic: no algorithm for a " + std::to_string(T) +
                    " x " + std::to_string(C) + " x " + std::to_string(OC) + " product");
  }
  plan.algo = result.algo;
  return plans_.emplace(key, plan).first->second;
}

}  // namespace gpt2::cuda
