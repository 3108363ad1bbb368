// UTF-8 as GPT-2's tokenizer needs it: strict decoding (the Unicode standard's
// well-formed sequences: no overlong forms, no surrogates, nothing above U+10FFFF),
// the four character classes of GPT-2's pre-tokenization pattern, and the
// helpers that keep invalid bytes visible instead of losing them.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gpt2 {

// Decodes the well-formed UTF-8 sequence that starts at p (p < end) into *cp and
// returns its length (1 to 4); returns 0 when the byte at p does not start one
// (a stray continuation byte, C0, C1, F5..FF, an overlong or surrogate form, or
// a sequence cut short by `end` or by a byte that cannot continue it).
inline int decode_utf8(const unsigned char* p, const unsigned char* end, char32_t* cp) {
  const unsigned c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  const std::ptrdiff_t avail = end - p;
  auto cont = [](unsigned b) { return (b & 0xC0u) == 0x80u; };
  if (c < 0xC2) return 0;
  if (c < 0xE0) {
    if (avail < 2 || !cont(p[1])) return 0;
    *cp = ((c & 0x1Fu) << 6) | (p[1] & 0x3Fu);
    return 2;
  }
  if (c < 0xF0) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    if (avail < 3 || p[1] < lo || p[1] > hi || !cont(p[2])) return 0;
    *cp = ((c & 0x0Fu) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
    return 3;
  }
  if (c < 0xF5) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    if (avail < 4 || p[1] < lo || p[1] > hi || !cont(p[2]) || !cont(p[3])) return 0;
    *cp = ((c & 0x07u) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
    return 4;
  }
  return 0;
}

// True when every byte of `bytes` belongs to a well-formed UTF-8 sequence.
bool is_valid_utf8(std::string_view bytes);

// `bytes` with each maximal ill-formed subpart replaced by U+FFFD (EF BF BD):
// the WHATWG Encoding Standard's UTF-8 decoder, which is what JavaScript's
// TextDecoder (and so the JS tokenizers, which work on JS strings) does to
// invalid input. Well-formed text comes back unchanged.
std::string replace_invalid_utf8(std::string_view bytes);

// The length (0 to 3) of the longest suffix of `bytes` that is an unfinished
// well-formed sequence: a lead byte followed by fewer continuation bytes than it
// needs, each in its allowed range. 0 when `bytes` ends on a complete character
// or on bytes that can no longer become one.
std::size_t incomplete_utf8_suffix(std::string_view bytes);

// The classes of GPT-2's pre-tokenization pattern (see pretokenize.h), as
// JavaScript's RegExp with the u flag defines them:
//   kLetter  \p{L}  general categories Lu Ll Lt Lm Lo
//   kNumber  \p{N}  Nd Nl No
//   kSpace   \s     ECMAScript WhiteSpace and LineTerminator: U+0009-000D, U+0020,
//                   U+00A0, U+1680, U+2000-200A, U+2028, U+2029, U+202F, U+205F,
//                   U+3000, U+FEFF (not U+0085, unlike Python's and Rust's \s)
//   kOther   everything else, and every byte that is not part of a well-formed
//            sequence (as U+FFFD, a symbol, would be)
// Letters and numbers come from utf8proc's Unicode tables (utf8proc 2.8: Unicode
// 15.0); a code point assigned later is kOther here (the README lists them).
enum class CharClass : unsigned char { kLetter, kNumber, kSpace, kOther };
CharClass char_class(char32_t cp);

// char_class for cp < 0x80.
constexpr CharClass ascii_char_class(char32_t cp) {
  if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::kLetter;
  if (cp >= '0' && cp <= '9') return CharClass::kNumber;
  if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return CharClass::kSpace;
  return CharClass::kOther;
}

}  // namespace gpt2
