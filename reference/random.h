// The project's own random numbers: the same bits on every machine and
// standard library. The synthetic models' weights (synthetic.h), the sampler's
// draws (runtime/decide.h) and the null backend's logits all come from here.
#pragma once

#include <cstdint>

namespace gpt2 {

// Sebastiano Vigna's SplitMix64: a 64-bit state, one add and a mix per draw.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

 private:
  std::uint64_t state_;
};

// A bell-shaped value of mean 0 and variance 1 from 64 random bits: the sum of
// four 16-bit uniform integers (Irwin-Hall), centred, times a constant. Exact
// integer arithmetic and one rounding, so it is the same everywhere. |z| < 3.47.
float bell_from_bits(std::uint64_t bits);

}  // namespace gpt2
