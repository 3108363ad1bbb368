#include "backends/backend.h"

#include <stdexcept>
#include <string>

namespace gpt2 {

const char* numerics_name(Numerics n) {
  switch (n) {
    case Numerics::kBitExact:
      return "bit-exact";
    case Numerics::kReordered:
      return "reordered";
    case Numerics::kNone:
      return "none";
  }
  return "?";
}

const char* precision_name(Precision p) {
  return p == Precision::kFloat32 ? "float32" : "bfloat16";
}

std::string threads_text(int threads) {
  return std::to_string(threads) + (threads == 1 ? " thread" : " threads");
}

void check_forward_args(const ModelConfig& config, std::span<const int> tokens, int pos, int cached,
                        int capacity, std::span<float> logits, std::span<float> probs) {
  const int n = int(tokens.size());
  if (n < 1 || pos < 0 || pos > cached || pos + n > capacity) {
    throw std::invalid_argument("forward: " + std::to_string(n) + " tokens at position " +
                                std::to_string(pos) + " do not fit (cached " +
                                std::to_string(cached) + ", capacity " + std::to_string(capacity) +
                                ")");
  }
  if (int(logits.size()) < config.vocab_size || int(probs.size()) < config.vocab_size) {
    throw std::invalid_argument("forward: logits and probs need " +
                                std::to_string(config.vocab_size) + " floats each");
  }
  for (int token : tokens) {
    if (token < 0 || token >= config.vocab_size) {
      throw std::invalid_argument("forward: token " + std::to_string(token) + " is outside [0, " +
                                  std::to_string(config.vocab_size) + ")");
    }
  }
}

}  // namespace gpt2
