// cuda-tp across processes: `mpirun -n N gpt2-bench --backend cuda-tp ...`
// runs one rank per process (a process per GPU, on one host or several). Rank
// 0 runs the tool; the others run worker(): rank 0 broadcasts each backend it
// makes (the model's weights, the precision, the rank count, NCCL's unique
// id) and then each op (ops.h) over MPI, and every rank runs it on its GPU
// (its node-local rank's device). Without MPI in the build these say so.
#pragma once

#include <memory>
#include <optional>

#include "backends/backend.h"

namespace gpt2::tp {

// The MPI world's size when this process was started by an MPI launcher
// (Open MPI's or PMI's environment), else 1.
int mpi_world_size();

// Call first in a tool's main: under an MPI launch it initializes MPI; rank 0
// gets nullopt and goes on (MPI ends at its exit, releasing the workers), the
// other ranks run the worker and get its exit status. Without a launch: nullopt.
std::optional<int> mpi_enter(int argc, char** argv);

// Rank 0's backend of spec.devices.size() ranks, one per process (at most the
// world's size). Throws std::invalid_argument with one line otherwise.
std::unique_ptr<Backend> make_mpi_backend(std::shared_ptr<const Model> model,
                                          const BackendSpec& spec, BackendInfo info);

// Whether this build can launch across processes ("Open MPI 4.1.4").
bool mpi_built();

}  // namespace gpt2::tp
