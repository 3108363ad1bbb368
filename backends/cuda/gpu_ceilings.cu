#include "backends/cuda/gpu_ceilings.h"

#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "backends/cuda/buffers.h"
#include "backends/cuda/cublas_api.h"
#include "backends/cuda/cuda_check.h"
#include "backends/cuda/device.h"
#include "backends/cuda/fast_kernels.h"

namespace gpt2::cuda {

namespace {

constexpr int kTimed = 5;  // best of, after one untimed run
constexpr std::size_t kMinCopyBytes = std::size_t(1) << 30;

// Uniform in [-0.5, 0.5) from a hash of the index: random, not zero, so the
// products' time is that of real data.
__global__ void fill_random_kernel(float* out, std::size_t n, std::uint32_t seed) {
  const std::size_t stride = std::size_t(gridDim.x) * blockDim.x;
  for (std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    std::uint32_t h = std::uint32_t(i) * 0x9e3779b9u ^ std::uint32_t(i >> 32) ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    out[i] = float(h >> 8) * (1.0f / 16777216.0f) - 0.5f;
  }
}

constexpr int kFillBlocks = 1024, kFillThreads = 256;

void fill_random(float* out, std::size_t n, std::uint32_t seed, cudaStream_t stream) {
  fill_random_kernel<<<kFillBlocks, kFillThreads, 0, stream>>>(out, n, seed);
  check_launch("fill_random_kernel");
}

// The CUDA objects of one measurement, released however it ends.
struct Stream {
  cudaStream_t s = nullptr;
  Stream() { GPT2_CUDA(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking)); }
  ~Stream() { cudaStreamDestroy(s); }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
};

struct Event {
  cudaEvent_t e = nullptr;
  Event() { GPT2_CUDA(cudaEventCreate(&e)); }
  ~Event() { cudaEventDestroy(e); }
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
};

struct Cublas {
  const CublasApi& api = cublas_api();
  cublasHandle_t h = nullptr;
  Cublas() { GPT2_CUDA(api.create(&h)); }
  ~Cublas() { api.destroy(h); }
  Cublas(const Cublas&) = delete;
  Cublas& operator=(const Cublas&) = delete;
};

// Puts the calling thread's device back as it was.
struct DeviceGuard {
  int previous = 0;
  DeviceGuard() { GPT2_CUDA(cudaGetDevice(&previous)); }
  ~DeviceGuard() { cudaSetDevice(previous); }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
};

// The shortest of kTimed runs of `enqueue` on `stream`, in seconds, after one
// untimed run.
template <typename Enqueue>
double best_seconds(cudaStream_t stream, Enqueue enqueue) {
  Event start, stop;
  enqueue();
  GPT2_CUDA(cudaStreamSynchronize(stream));
  float best_ms = 0;
  for (int r = 0; r < kTimed; r++) {
    GPT2_CUDA(cudaEventRecord(start.e, stream));
    enqueue();
    GPT2_CUDA(cudaEventRecord(stop.e, stream));
    GPT2_CUDA(cudaEventSynchronize(stop.e));
    float ms = 0;
    GPT2_CUDA(cudaEventElapsedTime(&ms, start.e, stop.e));
    if (r == 0 || ms < best_ms) best_ms = ms;
  }
  return double(best_ms) / 1e3;
}

// max(1 GiB, 4 x L2), at most a quarter of the free memory (source and
// destination then take half), in whole MiB.
std::size_t copy_bytes(std::size_t l2_bytes) {
  std::size_t free = 0, total = 0;
  GPT2_CUDA(cudaMemGetInfo(&free, &total));
  const std::size_t bytes = std::min(std::max(kMinCopyBytes, 4 * l2_bytes), free / 4);
  return bytes >> 20 << 20;
}

double copy_gb_s(std::size_t bytes, cudaStream_t stream) {
  DeviceBuffer<char> src(bytes, "the copy bandwidth's source");
  DeviceBuffer<char> dst(bytes, "the copy bandwidth's destination");
  GPT2_CUDA(cudaMemsetAsync(src.get(), 1, bytes, stream));
  const double s = best_seconds(stream, [&] {
    GPT2_CUDA(cudaMemcpyAsync(dst.get(), src.get(), bytes, cudaMemcpyDeviceToDevice, stream));
  });
  return 2.0 * double(bytes) / s / 1e9;  // read and written
}

// C (n, n) = A (n, n) B (n, n), column-major, all float32 (type CUDA_R_32F)
// or A and B bfloat16 (CUDA_R_16BF) and C float32; accumulated in float32.
double gemm_gflops(const Cublas& cublas, cudaStream_t stream, int n, cudaDataType in_type,
                   const void* a, const void* b, float* c) {
  const float alpha = 1.0f, beta = 0.0f;
  const double s = best_seconds(stream, [&] {
    GPT2_CUDA(cublas.api.gemm_ex(cublas.h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &alpha, a, in_type,
                                 n, b, in_type, n, &beta, c, CUDA_R_32F, n, CUBLAS_COMPUTE_32F,
                                 CUBLAS_GEMM_DEFAULT));
  });
  return 2.0 * double(n) * double(n) * double(n) / s / 1e9;
}

}  // namespace

GpuCeilings measure_gpu_ceilings(int device, int gemm_n) {
  const auto t0 = std::chrono::steady_clock::now();
  if (std::string why; device_count(&why) == 0) throw std::runtime_error("no CUDA device: " + why);
  DeviceGuard guard;
  use_device(device);
  const GpuInfo info = gpu_info(device);
  GpuCeilings g;
  g.device = device;
  g.name = info.name;
  g.gemm_n = gemm_n;
  Stream stream;

  // The products first: they also bring the clocks up before the copy.
  {
    const std::size_t count = std::size_t(gemm_n) * std::size_t(gemm_n);
    DeviceBuffer<float> a(count, "the fp32 peak's A"), b(count, "the fp32 peak's B"),
        c(count, "the products' C");
    fill_random(a.get(), count, 1, stream.s);
    fill_random(b.get(), count, 2, stream.s);
    Cublas cublas;
    GPT2_CUDA(cublas.api.set_stream(cublas.h, stream.s));
    // Float32 stays float32: no TF32 (CUBLAS_TF32_TENSOR_OP_MATH would let
    // CUBLAS_COMPUTE_32F round the inputs to TF32).
    GPT2_CUDA(cublas.api.set_math_mode(cublas.h, CUBLAS_DEFAULT_MATH));
    cublasMath_t mode = CUBLAS_TF32_TENSOR_OP_MATH;
    GPT2_CUDA(cublas.api.get_math_mode(cublas.h, &mode));
    if (mode != CUBLAS_DEFAULT_MATH) throw CudaError("cuBLAS math mode is not CUBLAS_DEFAULT_MATH");
    g.fp32_gflops = gemm_gflops(cublas, stream.s, gemm_n, CUDA_R_32F, a.get(), b.get(), c.get());

    DeviceBuffer<__nv_bfloat16> a16(count, "the bf16 peak's A"), b16(count, "the bf16 peak's B");
    fast::to_bf16(a16.get(), a.get(), long(count), stream.s);
    fast::to_bf16(b16.get(), b.get(), long(count), stream.s);
    g.bf16_gflops =
        gemm_gflops(cublas, stream.s, gemm_n, CUDA_R_16BF, a16.get(), b16.get(), c.get());
    GPT2_CUDA(cudaStreamSynchronize(stream.s));
  }

  g.copy_bytes = copy_bytes(info.l2_bytes);
  g.copy_gb_s = copy_gb_s(g.copy_bytes, stream.s);
  g.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return g;
}

}  // namespace gpt2::cuda
