#include "backends/cuda/activations.h"

#include <cstddef>
#include <utility>

#include "backends/cuda/fast_kernels.h"

namespace gpt2::cuda {

ActivationShape whole_model_shape(const ModelConfig& c) {
  ActivationShape s;
  s.channels = c.channels;
  s.vocab = c.vocab_size;
  s.max_seq_len = c.max_seq_len;
  s.head_channels = c.channels;
  s.heads = c.num_heads;
  s.hidden = 4 * c.channels;
  return s;
}

bool Activations::ensure(int R, int O, int D, cudaStream_t stream) {
  const std::size_t C = shape.channels, V = shape.vocab, Ch = shape.head_channels;
  const std::size_t H = shape.hidden, N = shape.ranks, chunk = shape.vocab_chunk;
  bool moved = false;
  if (R > rows) {
    DeviceBuffer<float> x2(R * C, "the residual stream");
    DeviceBuffer<float> qkv2(R * 3 * Ch, "the queries, keys and values");
    DeviceBuffer<float> atty2(R * Ch, "the attention output");
    DeviceBuffer<float> fch2(R * H, "the MLP's hidden layer");
    DeviceBuffer<float> sum2(N > 1 ? R * C : 0, "the all-reduce buffer");
    x = std::move(x2), qkv = std::move(qkv2), atty = std::move(atty2), fch = std::move(fch2);
    sum = std::move(sum2);
    rows = R;
    moved = true;
  }
  if (D > decodes) {
    DeviceBuffer<float> partial2(
        D * fast::attention_decode_scratch(int(Ch), shape.heads, shape.max_seq_len),
        "attention scratch");
    fast::attention_decode_rows_init(partial2.get(), D, int(Ch), shape.heads, shape.max_seq_len,
                                     stream);
    partial = std::move(partial2);
    decodes = D;
    moved = true;
  }
  if (O > outs) {
    DeviceBuffer<float> part2(N > 1 ? O * chunk : 0, "the rank's logits");
    DeviceBuffer<float> gathered2(N > 1 ? N * O * chunk : 0, "the gathered logits");
    DeviceBuffer<float> logits2(O * V, "the logits");
    DeviceBuffer<float> softmax2(fast::softmax_scratch(O, int(V)), "softmax scratch");
    DeviceBuffer<float> probs2(O * V, "the probabilities");
    const std::size_t host = shape.host_outputs ? O * V : 0;
    PinnedBuffer<float> host_logits2(host), host_probs2(host);
    logits_part = std::move(part2), gathered = std::move(gathered2);
    logits = std::move(logits2), softmax_partial = std::move(softmax2);
    probs = std::move(probs2);
    host_logits = std::move(host_logits2), host_probs = std::move(host_probs2);
    outs = O;
    moved = true;
  }
  return moved;
}

}  // namespace gpt2::cuda
