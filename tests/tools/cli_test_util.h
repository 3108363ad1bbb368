// Shared by the command-line tests: the built tools and shell quoting.
#pragma once

#include <string>

namespace gpt2::test {

// The gpt2 binary (GPT2_BIN_DIR: tests/CMakeLists.txt).
inline const std::string kGpt2 = std::string(GPT2_BIN_DIR) + "/gpt2";

// `s` as one word of a POSIX shell command line.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace gpt2::test
