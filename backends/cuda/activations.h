// The activations of a batched step on one GPU, shared by the cuda backend
// and each cuda-tp rank (its share of the heads and of the MLP's hidden layer,
// and the buffers of its all-reduce and its logits' all-gather).
#pragma once

#include <cuda_runtime_api.h>

#include "backends/cuda/buffers.h"
#include "reference/config.h"

namespace gpt2::cuda {

// What one GPU's activations hold for each row, output row and decoding
// sequence of a step.
struct ActivationShape {
  int channels = 0;          // C: the residual stream
  int vocab = 0;             // V: the logits and probabilities
  int max_seq_len = 0;       // the decode attention's scratch
  int head_channels = 0;     // its heads' channels: C, or a rank's Cr
  int heads = 0;             // its heads: NH, or a rank's
  int hidden = 0;            // its columns of the MLP's hidden layer: 4C, or a rank's
  int ranks = 1;             // more than 1: the all-reduce and all-gather buffers
  int vocab_chunk = 0;       // a rank's rows of the gathered logits (ranks > 1)
  bool host_outputs = true;  // the logits and probabilities copied to pinned host memory
};

// A whole model's on one GPU: every head, the whole hidden layer, no ranks.
ActivationShape whole_model_shape(const ModelConfig& config);

// The activations of a step of R rows, O <= R output rows and D decoding
// sequences, grown as steps need. A growth allocates everything new before
// it replaces anything, so a step that does not fit leaves the old buffers
// (and the graphs that hold their addresses) as they were.
struct Activations {
  explicit Activations(const ActivationShape& s) : shape(s) {}

  ActivationShape shape;
  int rows = 0, outs = 0, decodes = 0;
  DeviceBuffer<float> x;            // (R, C)
  DeviceBuffer<float> qkv;          // (R, 3 * head_channels)
  DeviceBuffer<float> atty;         // (R, head_channels)
  DeviceBuffer<float> fch;          // (R, hidden)
  DeviceBuffer<float> sum;          // (R, C), ranks > 1: a projection's partial sums
  DeviceBuffer<float> partial;      // D decode attention scratches
  DeviceBuffer<float> logits_part;  // (O, vocab_chunk), ranks > 1: this rank's logits
  DeviceBuffer<float> gathered;     // (ranks, O, vocab_chunk), ranks > 1
  DeviceBuffer<float> logits;       // (O, V)
  DeviceBuffer<float> softmax_partial;
  DeviceBuffer<float> probs;                    // (O, V)
  PinnedBuffer<float> host_logits, host_probs;  // (O, V) each where host_outputs

  // Room for R rows, O output rows and D decoding sequences (the attention
  // scratch prepared on `stream`); returns true when a buffer moved (the
  // graphs must go).
  bool ensure(int R, int O, int D, cudaStream_t stream);
};

}  // namespace gpt2::cuda
