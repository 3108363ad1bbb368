// NCCL's communicators (communicator.h): a group made in one process, or one
// rank of a group spread over processes (an MPI launch) from rank 0's unique id.
#pragma once

#include <nccl.h>

#include <memory>

#include "backends/cuda_tp/communicator.h"

namespace gpt2::tp {

// Rank `rank` of `ranks` on CUDA device `device`, joining the group of `id`
// (every rank with the same id). Blocks until all have joined.
std::unique_ptr<Communicator> make_nccl_rank(const ncclUniqueId& id, int ranks, int rank,
                                             int device);

// A new group's id (rank 0 makes it and sends it to the others).
ncclUniqueId nccl_unique_id();

}  // namespace gpt2::tp
