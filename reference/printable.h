// Outside text quoted in an error message, kept on one line: control characters
// (bytes below 0x20, and 0x7f) become \xNN, so that a name read from a file or a
// command line cannot break the project's one-line errors. Other bytes are kept.
#pragma once

#include <string>
#include <string_view>

namespace gpt2 {

inline std::string printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace gpt2
