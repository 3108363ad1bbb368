#include "backends/cuda_tp/split.h"

#include <algorithm>
#include <cstddef>
#include <set>
#include <stdexcept>

namespace gpt2::tp {

Range chunk_range(int n, int chunk, int part) {
  const int begin = std::min(n, part * chunk);
  return {begin, std::min(n, begin + chunk)};
}

int gather_chunk(int n, int parts) {
  return (n + parts - 1) / parts;
}

std::string valid_rank_counts(const ModelConfig& c) {
  std::vector<int> counts;
  for (int n = 1; n <= c.num_heads; n++) {
    if (c.num_heads % n == 0) counts.push_back(n);
  }
  std::string out;
  for (std::size_t i = 0; i < counts.size(); i++) {
    if (i > 0) out += i + 1 == counts.size() ? " or " : ", ";
    out += std::to_string(counts[i]);
  }
  return out;
}

void check_split(const ModelConfig& c, int ranks) {
  if (ranks < 1) throw std::invalid_argument("cuda-tp: the GPU count must be at least 1.");
  if (c.num_heads % ranks != 0) {
    throw std::invalid_argument("cuda-tp: " + std::to_string(ranks) + " GPUs do not divide the " +
                                std::to_string(c.num_heads) + " heads of this model (" +
                                valid_rank_counts(c) + " do).");
  }
}

Placement placement(const ModelConfig& config, const std::vector<int>& devices, int gpus_present) {
  Placement p;
  p.devices = devices.empty() ? std::vector<int>{0} : devices;
  const int n = int(p.devices.size());
  check_split(config, n);
  const std::set<int> distinct(p.devices.begin(), p.devices.end());
  p.one_device = n > 1 && distinct.size() == 1;
  if (!p.one_device && int(distinct.size()) != n) {
    throw std::invalid_argument(
        "cuda-tp: the devices are either distinct GPUs or one GPU repeated (N ranks on it), "
        "not a mix.");
  }
  for (int d : distinct) {
    if (d < 0 || d >= gpus_present) {
      throw std::invalid_argument("cuda-tp: " + std::to_string(n) + " GPUs asked for (device " +
                                  std::to_string(d) + "), " + std::to_string(gpus_present) +
                                  " present.");
    }
  }
  return p;
}

RankShape rank_shape(const ModelConfig& c, int ranks, int rank) {
  check_split(c, ranks);
  if (rank < 0 || rank >= ranks) throw std::invalid_argument("rank_shape: rank out of range");
  RankShape s;
  s.rank = rank, s.ranks = ranks;
  const int per = c.num_heads / ranks, hs = c.head_size();
  s.heads = {rank * per, (rank + 1) * per};
  s.channels = {s.heads.begin * hs, s.heads.end * hs};
  // 4C = 4 NH hs: whole heads' worth of columns, so every rank gets as many.
  const int hidden = 4 * c.channels / ranks;
  s.hidden = {rank * hidden, (rank + 1) * hidden};
  s.vocab_chunk = gather_chunk(c.vocab_size, ranks);
  s.vocab = chunk_range(c.vocab_size, s.vocab_chunk, rank);
  return s;
}

BlockShard shard_blocks(const Model& model, const RankShape& s) {
  const ModelConfig& c = model.config();
  const ParameterTensors& p = model.params();
  const std::size_t C = c.channels, L = c.num_layers, Cr = s.channels_count();
  const std::size_t H = s.hidden_count(), c0 = s.channels.begin, h0 = s.hidden.begin;
  BlockShard out;
  out.qkvw.resize(L * 3 * Cr * C);
  out.qkvb.resize(L * 3 * Cr);
  out.attprojw.resize(L * C * Cr);
  out.fcw.resize(L * H * C);
  out.fcb.resize(L * H);
  out.fcprojw.resize(L * C * H);
  for (std::size_t l = 0; l < L; l++) {
    // qkv: each third's rows of this rank's channels.
    for (std::size_t third = 0; third < 3; third++) {
      for (std::size_t j = 0; j < Cr; j++) {
        const std::size_t from = l * 3 * C + third * C + c0 + j, to = l * 3 * Cr + third * Cr + j;
        std::copy_n(p.qkvw + from * C, C, out.qkvw.data() + to * C);
        out.qkvb[to] = p.qkvb[from];
      }
    }
    // attproj: every output row's columns of this rank's channels.
    for (std::size_t o = 0; o < C; o++) {
      std::copy_n(p.attprojw + (l * C + o) * C + c0, Cr, out.attprojw.data() + (l * C + o) * Cr);
    }
    // fc: this rank's rows of the hidden layer.
    std::copy_n(p.fcw + (l * 4 * C + h0) * C, H * C, out.fcw.data() + l * H * C);
    std::copy_n(p.fcb + l * 4 * C + h0, H, out.fcb.data() + l * H);
    // fcproj: every output row's columns of this rank's hidden layer.
    for (std::size_t o = 0; o < C; o++) {
      std::copy_n(p.fcprojw + (l * C + o) * 4 * C + h0, H, out.fcprojw.data() + (l * C + o) * H);
    }
  }
  return out;
}

}  // namespace gpt2::tp
