// gpt2-microbench's collectives (built with cuda-tp): the all-reduce a
// tensor-parallel step calls twice a layer, at the sizes it uses (R rows of C
// floats), and the logits' all-gather, over the GPUs present (NCCL) and over N
// ranks on GPU 0 (the local communicator), each call's latency on its own.
#pragma once

#include <vector>

#include "reference/config.h"

namespace gpt2::microbench {

// Names: allreduce/<comm>/ranks:<N>/R:<rows>/C:<C>/real_time and
// allgather/<comm>/ranks:<N>/O:<rows>/real_time, comm nccl or one-gpu.
void register_collective_benchmarks(const ModelConfig& config, const std::vector<int>& rows);

}  // namespace gpt2::microbench
