#include "runtime/tokenizer/pretokenize.h"

#include <array>
#include <cassert>

#include "runtime/tokenizer/utf8.h"

namespace gpt2 {
namespace {

constexpr std::array<CharClass, 128> kAsciiClasses = [] {
  std::array<CharClass, 128> t{};
  for (char32_t c = 0; c < 128; ++c) t[c] = ascii_char_class(c);
  return t;
}();

// The class of the character at s[i] (i < n) and its length in bytes.
struct Char {
  CharClass cls;
  int len;
};
inline Char char_at(const unsigned char* s, std::size_t i, std::size_t n) {
  if (s[i] < 0x80) return {kAsciiClasses[s[i]], 1};
  char32_t cp;
  const int len = decode_utf8(s + i, s + n, &cp);
  if (len == 0) return {CharClass::kOther, 1};  // an invalid byte: a symbol, like U+FFFD
  return {char_class(cp), len};
}

// The end of the run of class `cls` that starts at i.
inline std::size_t run_end(const unsigned char* s, std::size_t i, std::size_t n, CharClass cls) {
  if (cls == CharClass::kLetter) {  // the common case: ASCII letters
    while (i < n && s[i] < 0x80 && static_cast<unsigned>((s[i] | 0x20) - 'a') < 26u) ++i;
  }
  while (i < n) {
    const Char c = char_at(s, i, n);
    if (c.cls != cls) break;
    i += c.len;
  }
  return i;
}

bool is_contraction_letter(unsigned char c) {
  return c == 's' || c == 't' || c == 'm' || c == 'd';
}

}  // namespace

std::size_t next_piece_end(std::string_view text, std::size_t begin) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t n = text.size();
  const std::size_t i = begin;
  assert(i < n);
  // 's 't 're 've 'm 'll 'd
  if (s[i] == '\'' && i + 1 < n) {
    const unsigned char a = s[i + 1];
    if (is_contraction_letter(a)) return i + 2;
    if (i + 2 < n) {
      const unsigned char b = s[i + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
    }
  }
  // " ?\p{L}+", " ?\p{N}+", " ?[^\s\p{L}\p{N}]+": a space joins the run after it.
  if (s[i] == ' ' && i + 1 < n) {
    const Char next = char_at(s, i + 1, n);
    if (next.cls != CharClass::kSpace) return run_end(s, i + 1 + next.len, n, next.cls);
  }
  const Char first = char_at(s, i, n);
  if (first.cls != CharClass::kSpace) return run_end(s, i + first.len, n, first.cls);
  // "\s+(?!\S)|\s+": whitespace. `last` is where the run's last character starts.
  std::size_t last = i, j = i + first.len;
  while (j < n) {
    const Char c = char_at(s, j, n);
    if (c.cls != CharClass::kSpace) break;
    last = j;
    j += c.len;
  }
  if (j == n) return n;       // the run ends the text: all of it
  if (last > i) return last;  // leave the last one to go with what follows
  return j;                   // a single whitespace character before a non-space
}

std::vector<std::string_view> pretokenize(std::string_view text) {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = next_piece_end(text, i);
    pieces.push_back(text.substr(i, end - i));
    i = end;
  }
  return pieces;
}

}  // namespace gpt2
