// The communication seam of the tensor-parallel layers, injected the way an
// Executor is injected into the CPU kernels: the layers call a rank's
// Communicator and never know which one they have.
//
//   make_nccl_group   NCCL in one process, one host thread per GPU (nccl_comm.cpp)
//   make_nccl_rank    NCCL across processes: one rank of a group whose unique id
//                     came from rank 0 (an MPI launch, mpi_launch.h)
//   make_local_group  N ranks on one GPU: each rank's partial results summed there
//                     (tests and one-GPU machines: the same sharded math, no NCCL)
//
// Every rank calls the collectives in the same order, each on its own stream.
// A rank that fails aborts its group (abort()), so that its peers' pending and
// later calls fail with an error instead of waiting for it: no hang.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace gpt2::tp {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  virtual int device() const = 0;  // the CUDA device this rank runs on
  // buf (count) = the sum over the ranks of their buf (count), in place, on `stream`.
  virtual void all_reduce_sum(float* buf, std::size_t count, cudaStream_t stream) = 0;
  // recv (ranks * count) = rank 0's send (count), then rank 1's, ... on `stream`.
  virtual void all_gather(const float* send, float* recv, std::size_t count,
                          cudaStream_t stream) = 0;
  // Whether its calls may be captured into a CUDA graph (per-thread capture mode).
  virtual bool capturable() const = 0;
  // Waits until `stream` has done its work. Throws std::runtime_error naming
  // the rank when the group was aborted or the wait outlasts the timeout
  // (GPT2_TP_TIMEOUT seconds, default 120), after aborting the group.
  virtual void wait(cudaStream_t stream) = 0;
  // Ends the group: every rank's pending and later calls fail.
  virtual void abort() = 0;
  // "NCCL 2.27.7, one process" as the backend's details say it.
  virtual std::string describe() const = 0;
};

using CommGroup = std::vector<std::unique_ptr<Communicator>>;

// Ranks 0 .. devices.size()-1 on those CUDA devices (distinct), made together
// (ncclCommInitRank inside a group). Throws std::runtime_error naming the call.
CommGroup make_nccl_group(const std::vector<int>& devices);

// `ranks` ranks on CUDA device `device`.
CommGroup make_local_group(int device, int ranks);

// The seconds a rank waits for its peers (GPT2_TP_TIMEOUT, default 120).
double comm_timeout_seconds();

}  // namespace gpt2::tp
