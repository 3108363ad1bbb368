#include "backends/cuda_tp/tp_kernels.h"

#include "backends/cuda/cuda_check.h"

namespace gpt2::tp {

namespace {

constexpr int kBlock = 256;

int blocks(std::size_t n) {
  return int((n + kBlock - 1) / kBlock);
}

__global__ void add_bias_residual_kernel(float* x, const float* sum, const float* bias, long n,
                                         int C) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float v = sum[i];
  v += bias[i % C];
  v += x[i];
  x[i] = v;
}

__global__ void unshard_vocab_kernel(float* out, const float* gathered, int O, int V, int chunk) {
  const long i = long(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= long(O) * V) return;
  const int o = int(i / V), v = int(i % V), r = v / chunk, j = v - r * chunk;
  const int count = min(chunk, V - r * chunk);
  out[i] = gathered[long(r) * O * chunk + long(o) * count + j];
}

struct SumInputs {
  const float* in[kMaxSumInputs];
};

__global__ void sum_buffers_kernel(float* out, SumInputs ins, int n, std::size_t count) {
  const std::size_t i = std::size_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  float v = ins.in[0][i];
  for (int k = 1; k < n; k++) v += ins.in[k][i];
  out[i] = v;
}

}  // namespace

void add_bias_residual(float* x, const float* sum, const float* bias, int R, int C,
                       cudaStream_t stream) {
  const long n = long(R) * C;
  add_bias_residual_kernel<<<blocks(n), kBlock, 0, stream>>>(x, sum, bias, n, C);
  cuda::check_launch("add_bias_residual_kernel");
}

void unshard_vocab(float* out, const float* gathered, int O, int V, int chunk,
                   cudaStream_t stream) {
  unshard_vocab_kernel<<<blocks(std::size_t(O) * V), kBlock, 0, stream>>>(out, gathered, O, V,
                                                                          chunk);
  cuda::check_launch("unshard_vocab_kernel");
}

void sum_buffers(float* out, const float* const* ins, int n, std::size_t count,
                 cudaStream_t stream) {
  SumInputs s{};
  for (int k = 0; k < n; k++) s.in[k] = ins[k];
  sum_buffers_kernel<<<blocks(count), kBlock, 0, stream>>>(out, s, n, count);
  cuda::check_launch("sum_buffers_kernel");
}

}  // namespace gpt2::tp
