// gpt2-microbench's CUDA part (built with the CUDA backends): each op of the
// forward pass per variant of the ladder (cuda-naive and cuda-tiled: the
// bit-exact kernels; cuda: the fast ones, float32 and bfloat16 weights;
// cublas, cublas-bf16: cuBLASLt's products) at the model's shapes,
// whole prefills and decode steps through the backends, and the GPU's own
// ceilings (copy bandwidth, cuBLAS float32 and bfloat16 peaks) in the same run.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "reference/model.h"

namespace gpt2::microbench {

// Registers the CUDA benchmarks for T in `rows` (nothing, with a note on
// stderr, when no GPU can run them). Names: <op>/<variant>/T:<T>/real_time,
// variants cuda-naive, cuda-tiled, cuda, cuda-bf16, cublas, cublas-bf16
// (products only).
void register_cuda_benchmarks(std::shared_ptr<const Model> model, const std::vector<int>& rows);

}  // namespace gpt2::microbench
