#include "runtime/tokenizer/tokenizer.h"

#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "runtime/paths.h"
#include "runtime/tokenizer/bpe.h"
#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer/utf8.h"

namespace gpt2 {

std::array<char32_t, 256> bytes_to_unicode() {
  std::array<char32_t, 256> out{};
  char32_t next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    out[b] = printable ? static_cast<char32_t>(b) : next++;
  }
  return out;
}

namespace {

constexpr int kMergeCount = kTokenizerVocabSize - 256 - 1;

// bytes -> token id, open addressing on an XXH3 hash; compares the bytes on a
// match of the hash's upper half.
class TokenTable {
 public:
  TokenTable() : slots_(std::size_t{1} << kBits) {}
  // The token's bytes live in `all_bytes` at [offsets[id], offsets[id + 1]).
  // False when a token with the same bytes is already there (`*existing` = its id).
  bool insert(int id, std::string_view bytes, const std::string& all_bytes,
              const std::vector<std::uint32_t>& offsets, int* existing) {
    const std::uint64_t h = XXH3_64bits(bytes.data(), bytes.size());
    for (std::size_t i = h & kMask;; i = (i + 1) & kMask) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {static_cast<std::uint32_t>(h >> 32), id};
        return true;
      }
      if (s.tag == static_cast<std::uint32_t>(h >> 32) &&
          token(s.id, all_bytes, offsets) == bytes) {
        *existing = s.id;
        return false;
      }
    }
  }
  // The id of the token with these bytes, or -1.
  int find(std::string_view bytes, const std::string& all_bytes,
           const std::vector<std::uint32_t>& offsets) const {
    const std::uint64_t h = XXH3_64bits(bytes.data(), bytes.size());
    const auto tag = static_cast<std::uint32_t>(h >> 32);
    for (std::size_t i = h & kMask;; i = (i + 1) & kMask) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.tag == tag && token(s.id, all_bytes, offsets) == bytes) return s.id;
    }
  }

 private:
  static constexpr int kBits = 17;  // 131072 slots for 50257 tokens
  static constexpr std::size_t kMask = (std::size_t{1} << kBits) - 1;
  struct Slot {
    std::uint32_t tag = 0;
    std::int32_t id = -1;
  };
  static std::string_view token(int id, const std::string& all_bytes,
                                const std::vector<std::uint32_t>& offsets) {
    return std::string_view(all_bytes).substr(offsets[id], offsets[id + 1] - offsets[id]);
  }
  std::vector<Slot> slots_;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw TokenizerError(path.string() + ": cannot read: " + std::strerror(errno));
  return std::move(text).str();
}

// A token as JSON (quoted, escaped), for messages.
std::string json_quoted(std::string_view text) {
  return nlohmann::json(std::string(text))
      .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

struct Tokenizer::Impl {
  std::string bytes;                   // every token's bytes, by id
  std::vector<std::uint32_t> offsets;  // (V + 1) token id's bytes: [offsets[id], offsets[id + 1])
  ByteTokens byte_tokens{};            // byte -> its token
  MergeTable merges;                   // (left, right) -> merged token = rank
  TokenTable whole;                    // bytes -> token, for pieces that are one token
  std::size_t longest_token = 0;       // in bytes

  std::string_view token(int id) const {
    return std::string_view(bytes).substr(offsets[id], offsets[id + 1] - offsets[id]);
  }
  void load_encoder(const std::filesystem::path& path);
  void load_merges(const std::filesystem::path& path);
  void encode_ordinary(std::string_view text, std::vector<int>& out) const;
};

void Tokenizer::Impl::load_encoder(const std::filesystem::path& path) {
  const std::string where = path.string() + ": ";
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(read_file(path));
  } catch (const nlohmann::json::exception& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    throw TokenizerError(where + "not valid JSON: " + what);
  }
  if (!json.is_object()) throw TokenizerError(where + "expected a JSON object of token -> id");
  if (json.size() != kTokenizerVocabSize) {
    throw TokenizerError(where + "has " + std::to_string(json.size()) + " tokens, expected " +
                         std::to_string(kTokenizerVocabSize));
  }
  // The code point that stands for each byte, inverted.
  std::vector<int> byte_of(512, -1);
  const std::array<char32_t, 256> symbols = bytes_to_unicode();
  for (int b = 0; b < 256; ++b) byte_of[symbols[b]] = b;

  std::vector<std::string> by_id(kTokenizerVocabSize);
  std::vector<bool> seen(kTokenizerVocabSize, false);
  for (const auto& [key, value] : json.items()) {
    if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
        value.get<std::int64_t>() >= kTokenizerVocabSize) {
      throw TokenizerError(where + "token " + json_quoted(key) + " has id " + value.dump() +
                           ", expected an integer in [0, " + std::to_string(kTokenizerVocabSize) +
                           ")");
    }
    const int id = value.get<int>();
    if (seen[id]) throw TokenizerError(where + "id " + std::to_string(id) + " is used twice");
    seen[id] = true;
    if (id == kEndOfTextToken || key == kEndOfTextText) {
      if (id != kEndOfTextToken || key != kEndOfTextText) {
        throw TokenizerError(where + "expected \"<|endoftext|>\": 50256, found " +
                             json_quoted(key) + ": " + std::to_string(id));
      }
      by_id[id] = key;
      continue;
    }
    // Each character stands for one byte.
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    const auto* end = p + key.size();
    std::string& out = by_id[id];
    while (p < end) {
      char32_t cp = 0;
      const int len = decode_utf8(p, end, &cp);
      if (len == 0 || cp >= byte_of.size() || byte_of[cp] < 0) {
        throw TokenizerError(where + "token " + json_quoted(key) +
                             " has a character that stands for no byte (GPT-2's "
                             "bytes_to_unicode)");
      }
      out += static_cast<char>(byte_of[cp]);
      p += len;
    }
    if (out.empty())
      throw TokenizerError(where + "has an empty token (id " + std::to_string(id) + ")");
  }
  offsets.assign(1, 0);
  for (const std::string& token : by_id) {
    bytes += token;
    offsets.push_back(static_cast<std::uint32_t>(bytes.size()));
    longest_token = std::max(longest_token, token.size());
  }
  for (int id = 0; id < kEndOfTextToken; ++id) {
    int existing = -1;
    if (!whole.insert(id, token(id), bytes, offsets, &existing)) {
      throw TokenizerError(where + "tokens " + std::to_string(existing) + " and " +
                           std::to_string(id) + " are the same bytes " + json_quoted(token(id)));
    }
  }
  for (int b = 0; b < 256; ++b) {
    const char byte = static_cast<char>(b);
    byte_tokens[b] = whole.find(std::string_view(&byte, 1), bytes, offsets);
    if (byte_tokens[b] < 0) {
      throw TokenizerError(where + "has no token for byte " + std::to_string(b));
    }
  }
}

void Tokenizer::Impl::load_merges(const std::filesystem::path& path) {
  const std::string where = path.string() + ":";
  const std::string text = read_file(path);
  std::size_t line_start = 0;
  int line_number = 0, rank = 0;
  auto fail = [&](const std::string& what) {
    throw TokenizerError(where + std::to_string(line_number) + ": " + what);
  };
  // Each merge's two halves as bytes, through the same symbols as encoder.json.
  const std::array<char32_t, 256> symbols = bytes_to_unicode();
  std::vector<int> byte_of(512, -1);
  for (int b = 0; b < 256; ++b) byte_of[symbols[b]] = b;
  auto to_bytes = [&](std::string_view half) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(half.data());
    const auto* end = p + half.size();
    while (p < end) {
      char32_t cp = 0;
      const int len = decode_utf8(p, end, &cp);
      if (len == 0 || cp >= byte_of.size() || byte_of[cp] < 0) {
        fail(json_quoted(half) + " has a character that stands for no byte");
      }
      out += static_cast<char>(byte_of[cp]);
      p += len;
    }
    return out;
  };
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) line_end = text.size();
    const std::string_view line = std::string_view(text).substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    line_number++;
    if (line_number == 1) {
      if (!line.starts_with("#version")) fail("expected a first line '#version: 0.2'");
      continue;
    }
    const std::size_t space = line.find(' ');
    if (line.empty() || space == 0 || space == std::string_view::npos || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      fail("expected a merge '<token> <token>', found " + json_quoted(line));
    }
    if (rank == kMergeCount) fail("more than " + std::to_string(kMergeCount) + " merges");
    const std::string left_bytes = to_bytes(line.substr(0, space));
    const std::string right_bytes = to_bytes(line.substr(space + 1));
    const int left = whole.find(left_bytes, bytes, offsets);
    const int right = whole.find(right_bytes, bytes, offsets);
    const int merged = whole.find(left_bytes + right_bytes, bytes, offsets);
    if (left < 0 || right < 0 || merged < 0) {
      fail("merge " + json_quoted(line) + " names or makes a token that encoder.json lacks");
    }
    // The merged id is the rank (bpe.h relies on it), and a merge only joins
    // tokens that earlier merges made.
    if (merged != 256 + rank) {
      fail("merge " + json_quoted(line) + " makes token " + std::to_string(merged) + ", expected " +
           std::to_string(256 + rank) + " (merge r makes token 256 + r)");
    }
    if (left >= merged || right >= merged) {
      fail("merge " + json_quoted(line) + " joins a token that a later merge makes");
    }
    if (!merges.insert(left, right, merged)) fail("merge " + json_quoted(line) + " appears twice");
    rank++;
  }
  if (rank != kMergeCount) {
    throw TokenizerError(path.string() + ": has " + std::to_string(rank) + " merges, expected " +
                         std::to_string(kMergeCount));
  }
  // A piece that is one whole token encodes as that token without merging (a
  // shortcut) only when merging its bytes does make that token; drop any token
  // for which it does not (none of GPT-2's, but the check costs milliseconds).
  std::vector<int> tokens;
  std::vector<int> unreachable;
  for (int id = 256; id < kEndOfTextToken; ++id) {
    const std::string_view t = token(id);
    tokens.clear();
    bpe_merge({reinterpret_cast<const unsigned char*>(t.data()), t.size()}, byte_tokens, merges,
              tokens);
    if (tokens.size() != 1 || tokens[0] != id) unreachable.push_back(id);
  }
  if (!unreachable.empty()) {
    whole = TokenTable();
    int existing = -1;
    for (int id = 0; id < kEndOfTextToken; ++id) {
      if (!std::binary_search(unreachable.begin(), unreachable.end(), id)) {
        whole.insert(id, token(id), bytes, offsets, &existing);
      }
    }
  }
}

void Tokenizer::Impl::encode_ordinary(std::string_view text, std::vector<int>& out) const {
  const auto* data = reinterpret_cast<const unsigned char*>(text.data());
  for (std::size_t i = 0; i < text.size();) {
    const std::size_t end = next_piece_end(text, i);
    const std::size_t n = end - i;
    if (n == 1) {
      out.push_back(byte_tokens[data[i]]);
    } else if (const int id =
                   n <= longest_token ? whole.find(text.substr(i, n), bytes, offsets) : -1;
               id >= 0) {
      out.push_back(id);
    } else {
      bpe_merge({data + i, n}, byte_tokens, merges, out);
    }
    i = end;
  }
}

Tokenizer Tokenizer::load(const std::filesystem::path& dir) {
  auto impl = std::make_shared<Impl>();
  impl->load_encoder(dir / "encoder.json");
  impl->load_merges(dir / "vocab.bpe");
  return Tokenizer(std::move(impl));
}

Tokenizer Tokenizer::load_default() {
  return load(datasets_dir() / "tokenizer");
}

std::vector<int> Tokenizer::encode(std::string_view bytes, SpecialTokens special) const {
  std::vector<int> out;
  encode_append(bytes, out, special);
  return out;
}

void Tokenizer::encode_append(std::string_view bytes, std::vector<int>& out,
                              SpecialTokens special) const {
  out.reserve(out.size() + bytes.size() / 3 + 16);
  if (special == SpecialTokens::kAsText) {
    impl_->encode_ordinary(bytes, out);
    return;
  }
  for (;;) {
    const std::size_t at = bytes.find(kEndOfTextText);
    impl_->encode_ordinary(bytes.substr(0, at), out);
    if (at == std::string_view::npos) return;
    out.push_back(kEndOfTextToken);
    bytes.remove_prefix(at + kEndOfTextText.size());
  }
}

std::string_view Tokenizer::token_bytes(int id) const {
  if (id < 0 || id >= kTokenizerVocabSize) {
    throw std::out_of_range("token id " + std::to_string(id) +
                            " is outside GPT-2's vocabulary [0, " +
                            std::to_string(kTokenizerVocabSize) + ")");
  }
  return impl_->token(id);
}

std::string Tokenizer::decode(std::span<const int> ids) const {
  std::size_t size = 0;
  for (const int id : ids) size += token_bytes(id).size();
  std::string out;
  out.reserve(size);
  for (const int id : ids) out += impl_->token(id);
  return out;
}

std::string DecodeStream::push(int id) {
  pending_ += tokenizer_.token_bytes(id);
  const std::size_t ready = pending_.size() - incomplete_utf8_suffix(pending_);
  std::string out = pending_.substr(0, ready);
  pending_.erase(0, ready);
  return out;
}

std::string DecodeStream::flush() {
  return std::exchange(pending_, std::string());
}

}  // namespace gpt2
