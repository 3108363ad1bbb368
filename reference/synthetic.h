// Synthetic GPT-2 checkpoints from a seed: the built-in default model, and a
// tiny one for fast tests. The generator is the project's own (random.h's
// SplitMix64 and integer arithmetic, then one float multiply per value), so a
// seed gives the same bytes on every machine and standard library.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "reference/config.h"
#include "reference/model.h"
#include "reference/random.h"

namespace gpt2 {

// The weight scales of the synthetic models. GPT-2's own initialization (std
// 0.02 everywhere) gives nearly uniform next-token probabilities and continuations
// that repeat one token: with tied embeddings a position's hidden state points at
// its own token's embedding. These scales make the blocks' outputs dominate the
// residual stream (so the next token depends on position and context, not just the
// current token) and set the final layernorm's gain so the logits spread with
// std about `logit_std` (so decisions are decisive, top-1 far from top-2).
struct SyntheticScales {
  float wte = 0.0f;        // std of token embeddings
  float wpe = 0.0f;        // std of position embeddings
  float ln_gain = 0.0f;    // std of layernorm weights around 1
  float ln_bias = 0.0f;    // std of layernorm biases
  float qkv = 0.0f;        // std of qkvw times sqrt(C)
  float attproj = 0.0f;    // std of attprojw times sqrt(C)
  float fc = 0.0f;         // std of fcw times sqrt(C)
  float fcproj = 0.0f;     // std of fcprojw times sqrt(4C)
  float bias = 0.0f;       // std of the matmul biases
  float logit_std = 0.0f;  // target std of the logits; lnfw's mean is derived from it
};
SyntheticScales default_synthetic_scales();

// Chosen among the first seeds for the most decisive goldens (README: "The
// built-in default model").
inline constexpr std::uint64_t kDefaultSyntheticSeed = 2;
// Bumped whenever the generator or the scales change what a seed produces, so
// that files cached by an older generator are not mistaken for new ones.
inline constexpr int kSyntheticGeneratorVersion = 1;

// num_parameters(config) floats in llm.c's order; wte's padding rows are zero
// (as llm.c writes them). Each tensor has its own stream, derived from the seed
// and the tensor's index.
std::vector<float> synthetic_parameters(const ModelConfig& config, std::uint64_t seed,
                                        const SyntheticScales& scales = default_synthetic_scales());

// "synthetic:<preset>:seed=<seed>", the name synthetic models carry.
std::string synthetic_name(std::string_view preset, std::uint64_t seed);

// A synthetic model in memory. Throws std::invalid_argument for an unknown preset.
std::shared_ptr<const Model> make_synthetic_model(std::string_view preset, std::uint64_t seed);

}  // namespace gpt2
