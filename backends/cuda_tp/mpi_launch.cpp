#include "backends/cuda_tp/mpi_launch.h"

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <stdexcept>
#include <string>

#include "backends/cuda/device.h"
#include "backends/cuda_tp/cuda_tp_backend.h"
#include "backends/cuda_tp/nccl_comm.h"
#include "backends/cuda_tp/ops.h"
#include "backends/cuda_tp/rank.h"

#if GPT2_WITH_MPI
#include <mpi.h>
#endif

namespace gpt2::tp {

int mpi_world_size() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && std::atoi(v) > 0) return std::atoi(v);
  }
  return 1;
}

#if GPT2_WITH_MPI

bool mpi_built() {
  return true;
}

namespace {

// What rank 0 broadcasts when it makes a backend (or ends).
struct Create {
  int quit = 0;
  int ranks = 0;
  int bf16 = 0;
  ModelConfig config{};
  long parameters = 0;
  ncclUniqueId id{};
};

int world_rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// This process's CUDA device: its rank among the processes of its host.
int local_device() {
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  int r = 0;
  MPI_Comm_rank(local, &r);
  MPI_Comm_free(&local);
  const int present = cuda::device_count(nullptr);
  return present > 0 ? r % present : 0;
}

void bcast(void* data, std::size_t bytes) {
  char* p = static_cast<char*>(data);
  constexpr std::size_t kChunk = std::size_t(1) << 30;
  for (std::size_t at = 0; at < bytes; at += kChunk) {
    const std::size_t n = std::min(kChunk, bytes - at);
    MPI_Bcast(p + at, int(n), MPI_BYTE, 0, MPI_COMM_WORLD);
  }
}

void send_bytes(std::vector<char>& bytes) {
  long n = long(bytes.size());
  MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  bytes.resize(std::size_t(n));
  bcast(bytes.data(), bytes.size());
}

// Whether the workers are inside a backend (between its Create and its kEnd):
// rank 0 leaving then (a failure) ends the job rather than leave them waiting.
bool g_in_backend = false;

class MpiPeers final : public Peers {
 public:
  void send(const Op& op) override {
    std::vector<char> bytes = encode(op);
    send_bytes(bytes);
    if (op.kind == OpKind::kEnd) g_in_backend = false;
  }
};

void quit_workers() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (g_in_backend) MPI_Abort(MPI_COMM_WORLD, 1);
  Create c;
  c.quit = 1;
  bcast(&c, sizeof c);
  MPI_Finalize();
}

// A worker's part of one backend: its rank's shard, then ops until kEnd.
void serve_backend(const Create& c, int rank) {
  std::vector<float> params(static_cast<std::size_t>(c.parameters));
  bcast(params.data(), params.size() * sizeof(float));
  std::unique_ptr<TpRank> mine;
  if (rank < c.ranks) {
    auto model = Model::from_parameters(c.config, std::move(params), "rank 0's model");
    mine = std::make_unique<TpRank>(*model, c.bf16 != 0,
                                    make_nccl_rank(c.id, c.ranks, rank, local_device()));
  }
  for (;;) {
    std::vector<char> bytes;
    send_bytes(bytes);
    const Op op = decode(bytes);
    if (op.kind == OpKind::kEnd) return;
    if (mine != nullptr) run_op(*mine, op);
  }
}

int worker() {
  const int rank = world_rank();
  try {
    for (;;) {
      Create c;
      bcast(&c, sizeof c);
      if (c.quit) break;
      serve_backend(c, rank);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: rank " << rank << ": " << e.what() << "\n";
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
  return 0;
}

}  // namespace

std::optional<int> mpi_enter(int argc, char** argv) {
  if (mpi_world_size() <= 1) return std::nullopt;
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_SERIALIZED, &provided);
  if (world_rank() != 0) return worker();
  std::atexit(quit_workers);
  return std::nullopt;
}

std::unique_ptr<Backend> make_mpi_backend(std::shared_ptr<const Model> model,
                                          const BackendSpec& spec, BackendInfo info) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    throw std::runtime_error("cuda-tp: started by mpirun, but this tool did not join MPI");
  }
  int world = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  const int n = spec.devices.empty() ? 1 : int(spec.devices.size());
  check_split(model->config(), n);
  if (n > world) {
    throw std::invalid_argument("cuda-tp: " + std::to_string(n) + " GPUs asked for, but mpirun " +
                                "started " + std::to_string(world) +
                                " processes (one GPU each): mpirun -n " + std::to_string(n));
  }
  Create c;
  c.ranks = n;
  c.bf16 = spec.precision == Precision::kBFloat16;
  c.config = model->config();
  c.parameters = long(model->parameters().size());
  c.id = nccl_unique_id();
  g_in_backend = true;
  bcast(&c, sizeof c);
  bcast(const_cast<float*>(model->parameters().data()), model->parameters().size_bytes());
  CommGroup mine;
  mine.push_back(make_nccl_rank(c.id, n, 0, local_device()));
  return make_tp_backend_with(std::move(model), spec, std::move(info), std::move(mine),
                              std::make_unique<MpiPeers>());
}

#else  // no MPI in this build

bool mpi_built() {
  return false;
}

std::optional<int> mpi_enter(int, char**) {
  if (mpi_world_size() <= 1) return std::nullopt;
  std::cerr << "error: started by an MPI launcher, but this build has no MPI (install Open MPI: "
               "libopenmpi-dev, and configure again).\n";
  return 1;
}

std::unique_ptr<Backend> make_mpi_backend(std::shared_ptr<const Model>, const BackendSpec&,
                                          BackendInfo) {
  throw std::runtime_error("cuda-tp: this build has no MPI");
}

#endif

}  // namespace gpt2::tp
