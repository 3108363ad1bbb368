#include "reference/random.h"

namespace gpt2 {

float bell_from_bits(std::uint64_t bits) {
  // Four 16-bit uniforms: each has variance (2^32 - 1) / 12, the sum 4 times that.
  const std::int64_t sum = std::int64_t(bits & 0xffff) + std::int64_t((bits >> 16) & 0xffff) +
                           std::int64_t((bits >> 32) & 0xffff) + std::int64_t(bits >> 48);
  const std::int64_t centred2 = 2 * sum - 4 * 65535;  // 2 (sum - mean), exact, |.| < 2^19
  // 1 / (2 sqrt(4 (2^32 - 1) / 12)), rounded once to float.
  constexpr float kScale = float(1.0 / 75674.00770270476);
  return float(centred2) * kScale;
}

}  // namespace gpt2
