// Megatron's tensor-parallel layout of GPT-2 over N ranks, as FasterTransformer
// uses it, on the host and without CUDA (so that CI tests it on any machine):
// which heads, channels, MLP columns and vocabulary rows each rank holds, and
// each rank's shard of the block weights cut from the model's.
//
//   qkv   (3C, C) split by output rows, whole heads per rank: rank r's queries,
//         keys and values of its heads, (3 Cr, C), bias (3 Cr)
//   attproj (C, C) split by input columns (its heads' channels): (C, Cr); the
//         ranks' partial outputs summed by an all-reduce, the bias added once after it
//   fc    (4C, C) split by output rows: (4C / N, C), bias (4C / N)
//   fcproj (C, 4C) split by input columns: (C, 4C / N), all-reduced, bias after it
//   wte   (V, C) for the logits split by rows in chunks of ceil(V / N) (the last
//         rank's may be shorter), gathered; the embedding lookup, layernorms,
//         residuals and the other biases replicated
#pragma once

#include <string>
#include <vector>

#include "reference/config.h"
#include "reference/model.h"

namespace gpt2::tp {

// [begin, end) of some index.
struct Range {
  int begin = 0;
  int end = 0;
  int size() const { return end - begin; }
  bool operator==(const Range&) const = default;
};

// Part `part` of `parts` of [0, n) when n is cut into `chunk`-sized pieces:
// [part * chunk, min(n, (part + 1) * chunk)), empty past n.
Range chunk_range(int n, int chunk, int part);
// ceil(n / parts): the chunk of an all-gathered dimension (every rank sends as much).
int gather_chunk(int n, int parts);

// What rank `rank` of `ranks` holds of a model.
struct RankShape {
  int rank = 0, ranks = 1;
  Range heads;          // its heads
  Range channels;       // heads * head size: its part of qkv's thirds and of attproj's inputs
  Range hidden;         // its columns of the MLP's 4C hidden layer
  Range vocab;          // its rows of wte for the logits (chunk vocab_chunk)
  int vocab_chunk = 0;  // gather_chunk(V, ranks): every rank's gathered size
  int heads_count() const { return heads.size(); }
  int channels_count() const { return channels.size(); }  // Cr
  int hidden_count() const { return hidden.size(); }      // 4C / N
};

// Throws std::invalid_argument with one line when `ranks` cannot split the
// model: "cuda-tp: 5 GPUs do not divide the 12 heads of this model (1, 2, 3,
// 4, 6 or 12 do)." (ranks < 1 too).
void check_split(const ModelConfig& config, int ranks);
// The counts that divide the model's heads, "1, 2, 3, 4, 6 or 12".
std::string valid_rank_counts(const ModelConfig& config);

// Where a backend's ranks run: rank r on devices[r]. Either distinct GPUs
// (NCCL) or one GPU repeated (every rank on it, the local communicator).
struct Placement {
  std::vector<int> devices;
  bool one_device = false;  // more than one rank, all on devices[0]
};
// Checks a spec's device list (empty: GPU 0) against the model and the
// `gpus_present`: throws std::invalid_argument with one line for a count that
// does not divide the heads, a device that is not there ("cuda-tp: 2 GPUs
// asked for (device 1), 1 present."), or a list that mixes the two forms.
Placement placement(const ModelConfig& config, const std::vector<int>& devices, int gpus_present);

// Rank `rank`'s shape (check_split first).
RankShape rank_shape(const ModelConfig& config, int ranks, int rank);

// A rank's shard of the block weights, float32, each tensor contiguous and
// every layer's after the one before (llm.c's order within a tensor).
struct BlockShard {
  std::vector<float> qkvw;      // (L, 3 Cr, C): rows q[channels], k[channels], v[channels]
  std::vector<float> qkvb;      // (L, 3 Cr)
  std::vector<float> attprojw;  // (L, C, Cr): columns `channels`
  std::vector<float> fcw;       // (L, H, C): rows `hidden` (H = hidden_count)
  std::vector<float> fcb;       // (L, H)
  std::vector<float> fcprojw;   // (L, C, H): columns `hidden`
};

// Cuts rank `shape`'s block weights out of `model`'s.
BlockShard shard_blocks(const Model& model, const RankShape& shape);

}  // namespace gpt2::tp
