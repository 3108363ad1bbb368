// A GPU's own ceilings, measured in a second or two (README: "The machine's
// ceiling in every sweep"), the products first (they also bring the clocks up):
// - copy bandwidth: one device-to-device cudaMemcpyAsync of max(1 GiB, 4 x the
//   L2) (less when memory is short), bytes read plus bytes written, best of 5
//   after a warm-up;
// - float32 peak: cuBLAS cublasGemmEx, float32 in and out, CUBLAS_COMPUTE_32F
//   with the handle's math mode CUBLAS_DEFAULT_MATH (no TF32), on n x n x n
//   random data, best of 5 after a warm-up;
// - bfloat16 peak: the same product with bfloat16 inputs, float32 accumulate
//   and output (tensor cores), as the cuda backend's bfloat16 products.
// Timed with CUDA events; every buffer is freed before it returns.
#pragma once

#include "backends/backend.h"

namespace gpt2::cuda {

// The products' size: 8192^3, 1.1 TFLOP each (tens of milliseconds in float32).
constexpr int kCeilingGemmN = 8192;

// Measures device `device` (it is the calling thread's device only meanwhile).
// Throws std::runtime_error for a device that does not exist or memory that
// does not fit, CudaError for a failed CUDA or cuBLAS call.
GpuCeilings measure_gpu_ceilings(int device, int gemm_n = kCeilingGemmN);

}  // namespace gpt2::cuda
