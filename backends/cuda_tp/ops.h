// What the tensor-parallel backend asks of every rank, as values: run on the
// rank threads of this process and, under an MPI launch, sent as bytes to the
// ranks of the other processes (mpi_launch.h), which run the same.
#pragma once

#include <span>
#include <vector>

#include "backends/cuda_tp/rank.h"

namespace gpt2::tp {

enum class OpKind : int { kOpen, kClose, kForward, kCopy, kEnd };

struct Op {
  OpKind kind = OpKind::kEnd;
  int id = 0;                  // kOpen, kClose: the session
  int capacity = 0;            // kOpen
  TpStep step;                 // kForward
  std::vector<TpCopy> copies;  // kCopy
};

std::vector<char> encode(const Op& op);
// Throws std::runtime_error on bytes encode() did not make.
Op decode(std::span<const char> bytes);

// Runs `op` on `rank` (kEnd does nothing).
void run_op(TpRank& rank, const Op& op);

// The ranks of other processes (an MPI launch): send() hands them an op
// before this process's ranks run it.
class Peers {
 public:
  virtual ~Peers() = default;
  virtual void send(const Op& op) = 0;
};

}  // namespace gpt2::tp
