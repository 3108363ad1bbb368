// Shared by the tokenizer tests.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "runtime/tokenizer/tokenizer.h"

namespace gpt2::test {

// The committed GPT-2 tokenizer (datasets/tokenizer/), loaded once per test binary.
inline const Tokenizer& tok() {
  static const Tokenizer t = Tokenizer::load_default();
  return t;
}

// Random bytes for round trips: a third fully random bytes, a third picked from
// well-formed UTF-8 of every length with spaces and apostrophes, a third that
// with some bytes knocked out (so, often, ill-formed).
inline std::string random_bytes(std::mt19937_64& rng, std::size_t max_len) {
  static const char* const kPieces[] = {
      " ",  " ", "  ",     "\t",     "\n",         "\r\n",        "'",      "'s",
      "s",  "a", "Z",      "7",      "!",          "é",           "\u00A0", "\u3000",
      "中", "😀", "\u0301", "\u200D", "\U0001F3FD", "\xEF\xBB\xBF"};
  const std::size_t len = rng() % (max_len + 1);
  std::string s;
  switch (rng() % 3) {
    case 0:
      for (std::size_t i = 0; i < len; ++i) s += static_cast<char>(rng() & 0xFF);
      break;
    case 1:
    case 2:
      while (s.size() < len) s += kPieces[rng() % std::size(kPieces)];
      if (s.size() > 0 && rng() % 3 == 0) {
        for (int k = 0; k < 3; ++k) s[rng() % s.size()] = static_cast<char>(rng() & 0xFF);
      }
      break;
  }
  return s;
}

}  // namespace gpt2::test
