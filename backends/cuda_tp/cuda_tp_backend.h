// cuda-tp: the cuda backend's forward pass split over several GPUs by tensor
// parallelism (Megatron's layout, as NVIDIA FasterTransformer runs GPT; split.h),
// one host thread per GPU, each rank's decode step one CUDA graph with its
// NCCL calls inside. The spec's devices say where the ranks run:
//   {0, 1, ...}  one rank per GPU, NCCL in this process
//   {0, 0, ...}  every rank on GPU 0, their partial results summed there (no
//                NCCL: the sharded math on a one-GPU machine; not captured)
// and under `mpirun -n N` (mpi_launch.h) one rank per process. The all-reduces
// reorder sums (Numerics::kReordered); a sequence's bits do not depend on the
// batch (the cuda kernels' invariance, and each all-reduce sums the same
// ranks' rows in the same order whatever the rows).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "backends/cuda_tp/communicator.h"
#include "backends/cuda_tp/ops.h"

namespace gpt2 {

std::unique_ptr<Backend> make_cuda_tp_backend(std::shared_ptr<const Model> model,
                                              const BackendSpec& spec, BackendInfo info);

namespace tp {

// A backend over the ranks of this process, their communicators made already;
// `peers` (or null) reaches the ranks of other processes (the MPI launch gives
// rank 0's communicator here, its peers run mpi_launch.h's worker).
std::unique_ptr<Backend> make_tp_backend_with(std::shared_ptr<const Model> model,
                                              const BackendSpec& spec, BackendInfo info,
                                              CommGroup local_ranks, std::unique_ptr<Peers> peers);

}  // namespace tp
}  // namespace gpt2
