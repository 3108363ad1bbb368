#include "runtime/tokenizer/utf8.h"

#include <utf8proc.h>

namespace gpt2 {
namespace {

// The allowed range of the byte after lead byte `c` (Unicode 15, table 3-7), and
// the sequence length; len 0 when `c` cannot start a multi-byte sequence.
struct LeadByte {
  int len = 0;
  unsigned lo = 0x80, hi = 0xBF;
};
LeadByte lead_byte(unsigned c) {
  if (c >= 0xC2 && c <= 0xDF) return {2, 0x80, 0xBF};
  if (c >= 0xE0 && c <= 0xEF) return {3, c == 0xE0 ? 0xA0u : 0x80u, c == 0xED ? 0x9Fu : 0xBFu};
  if (c >= 0xF0 && c <= 0xF4) return {4, c == 0xF0 ? 0x90u : 0x80u, c == 0xF4 ? 0x8Fu : 0xBFu};
  return {};
}

// How many bytes from p (at most `avail`, at most lead.len - 1) continue the
// sequence that lead byte `lead` starts.
int continuation_prefix(const LeadByte& lead, const unsigned char* p, std::size_t avail) {
  int n = 0;
  while (n + 1 < lead.len && static_cast<std::size_t>(n) < avail) {
    const unsigned b = p[n];
    const bool ok = n == 0 ? (b >= lead.lo && b <= lead.hi) : (b & 0xC0u) == 0x80u;
    if (!ok) break;
    n++;
  }
  return n;
}

}  // namespace

bool is_valid_utf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = p + bytes.size();
  while (p < end) {
    char32_t cp;
    const int len = decode_utf8(p, end, &cp);
    if (len == 0) return false;
    p += len;
  }
  return true;
}

std::string replace_invalid_utf8(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  const auto* begin = reinterpret_cast<const unsigned char*>(bytes.data());
  const auto* end = begin + bytes.size();
  for (const unsigned char* p = begin; p < end;) {
    char32_t cp;
    int len = decode_utf8(p, end, &cp);
    if (len > 0) {
      out.append(reinterpret_cast<const char*>(p), len);
    } else {
      // One U+FFFD for the lead byte and the continuation bytes that fit it.
      const LeadByte lead = lead_byte(*p);
      len = 1 + (lead.len ? continuation_prefix(lead, p + 1, end - p - 1) : 0);
      out += "\xEF\xBF\xBD";
    }
    p += len;
  }
  return out;
}

std::size_t incomplete_utf8_suffix(std::string_view bytes) {
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  for (std::size_t k = 1; k <= 3 && k <= n; ++k) {
    const unsigned c = data[n - k];
    if ((c & 0xC0u) == 0x80u) continue;  // a continuation byte: look further back
    const LeadByte lead = lead_byte(c);
    if (lead.len == 0 || static_cast<int>(k) >= lead.len) return 0;
    return continuation_prefix(lead, data + n - k + 1, k - 1) == static_cast<int>(k) - 1 ? k : 0;
  }
  return 0;
}

CharClass char_class(char32_t cp) {
  if (cp < 0x80) return ascii_char_class(cp);
  switch (cp) {
    case 0x00A0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
    case 0xFEFF:
      return CharClass::kSpace;
    default:
      if (cp >= 0x2000 && cp <= 0x200A) return CharClass::kSpace;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
      return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return CharClass::kNumber;
    default:
      return CharClass::kOther;
  }
}

}  // namespace gpt2
