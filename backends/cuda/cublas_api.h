// cuBLAS, opened on first use (dlopen) instead of linked. Linking it costs
// every process that loads gpt2_backends about 0.3 s of CPU before main()
// (libcublasLt's static initialisers), whether or not it touches a GPU: each
// of CTest's ~800 test processes and each `gpt2` run. Only the GPU ceilings
// call cuBLAS (its GEMM is the peak they measure).
//   const CublasApi& api = cublas_api();   // throws CudaError in one line
//   GPT2_CUDA(api.create(&handle));        // if libcublas cannot be opened
#pragma once

#include <cublas_v2.h>

namespace gpt2::cuda {

// C++ overloads cublasGemmEx (a cudaDataType compute type): the C entry's type.
using CublasGemmEx = cublasStatus_t (*)(cublasHandle_t, cublasOperation_t, cublasOperation_t, int,
                                        int, int, const void*, const void*, cudaDataType, int,
                                        const void*, cudaDataType, int, const void*, void*,
                                        cudaDataType, int, cublasComputeType_t, cublasGemmAlgo_t);

struct CublasApi {
  decltype(&cublasCreate) create;
  decltype(&cublasDestroy) destroy;
  decltype(&cublasSetStream) set_stream;
  decltype(&cublasSetMathMode) set_math_mode;
  decltype(&cublasGetMathMode) get_math_mode;
  CublasGemmEx gemm_ex;
  decltype(&cublasGetStatusString) status_string;
  decltype(&cublasGetStatusName) status_name;
};

// libcublas.so.<CUBLAS_VER_MAJOR>, opened once (the library path first, then
// the toolkit's library folder found at configure time), every entry resolved.
const CublasApi& cublas_api();

}  // namespace gpt2::cuda
