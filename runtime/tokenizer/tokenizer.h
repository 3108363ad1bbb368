// GPT-2's byte-level BPE tokenizer: OpenAI's vocabulary (encoder.json) and merges
// (vocab.bpe), its pre-tokenization pattern (pretokenize.h), merges by rank
// (bpe.h), and <|endoftext|>. Any byte string encodes, and decodes back to the
// same bytes; on well-formed UTF-8 the ids are those of OpenAI's tokenizer
// (tested against js-tiktoken and gpt-3-encoder on datasets/tokenizer/corpus/).
//
//   const gpt2::Tokenizer tok = gpt2::Tokenizer::load_default();
//   std::vector<int> ids = tok.encode("Hello, my dog is cute");  // 15496 11 616 3290 318 13779
//   std::string text = tok.decode(ids);                          // the same bytes
//
// See runtime/tokenizer/README.md for how invalid UTF-8 and <|endoftext|> are
// treated and how that compares with the JavaScript implementations.
#pragma once

#include <array>
#include <filesystem>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

inline constexpr int kTokenizerVocabSize = 50257;  // 256 bytes, 50000 merges, <|endoftext|>
inline constexpr int kEndOfTextToken = 50256;
inline constexpr std::string_view kEndOfTextText = "<|endoftext|>";

// A missing or malformed tokenizer file: "<file>: <what>" or "<file>:<line>: <what>".
class TokenizerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// What encode() makes of the text "<|endoftext|>".
enum class SpecialTokens {
  kAsText,   // ordinary text, "<|" "endoftext" "|>" = 27 91 437 1659 5239 91 29, like
             // gpt-3-encoder and OpenAI's encoder.py (tiktoken: disallowed_special=())
  kAllowed,  // the special token 50256; the text on either side is encoded on its own,
             // like tiktoken's and js-tiktoken's encode(text, allowed_special="all")
};

class Tokenizer {
 public:
  // Reads <dir>/encoder.json and <dir>/vocab.bpe and checks them (50257 distinct
  // tokens, each byte a token, <|endoftext|> = 50256, 50000 merges where merge r
  // makes token 256 + r from tokens made before it). Throws TokenizerError.
  static Tokenizer load(const std::filesystem::path& dir);
  // load(datasets_dir() / "tokenizer"), i.e. the committed datasets/tokenizer/.
  static Tokenizer load_default();

  // GPT-2's ids for any bytes. Bytes that are not well-formed UTF-8 are kept, as
  // byte tokens (possibly merged with neighbours in the same piece), so that
  // decode(encode(x)) == x for every x.
  std::vector<int> encode(std::string_view bytes,
                          SpecialTokens special = SpecialTokens::kAsText) const;
  // The same, appended to `out` (reuses its capacity).
  void encode_append(std::string_view bytes, std::vector<int>& out,
                     SpecialTokens special = SpecialTokens::kAsText) const;

  // The bytes of the tokens, concatenated (50256 gives "<|endoftext|>"). Throws
  // std::out_of_range for an id outside [0, 50257).
  std::string decode(std::span<const int> ids) const;
  // The bytes of one token; throws std::out_of_range like decode().
  std::string_view token_bytes(int id) const;

  int vocab_size() const { return kTokenizerVocabSize; }

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;  // immutable: copies share it, across threads too
};

// Decodes a stream of ids into text that can be printed as it comes: push()
// returns the bytes that are ready, holding back an unfinished UTF-8 character
// until the ids that complete it arrive, so a multi-byte character is never
// split between two outputs. Bytes that can no longer become part of a valid
// character are released as they are. The outputs of push() and then flush()
// concatenate to decode() of the same ids.
class DecodeStream {
 public:
  explicit DecodeStream(Tokenizer tokenizer) : tokenizer_(std::move(tokenizer)) {}
  // Throws std::out_of_range for a bad id (and keeps its state).
  std::string push(int id);
  // Whatever is held back (an unfinished character at the end of the stream).
  std::string flush();
  std::size_t pending() const { return pending_.size(); }

 private:
  Tokenizer tokenizer_;
  std::string pending_;  // at most 3 bytes between calls
};

// GPT-2's bytes_to_unicode(): the printable code point that stands for each byte
// in encoder.json and vocab.bpe (printable Latin-1 bytes for themselves, the
// other 68 for U+0100 upwards, in byte order).
std::array<char32_t, 256> bytes_to_unicode();

}  // namespace gpt2
