// The tokenizer's encode on any bytes, both ways of reading <|endoftext|>, with
// the round trip checked: decode(encode(x)) == x, and a streamed decode gives
// the same bytes. The tokenizer's own files are read once, at start-up.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  static const Tokenizer tok = Tokenizer::load_default();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (SpecialTokens special : {SpecialTokens::kAsText, SpecialTokens::kAllowed}) {
    const std::vector<int> ids = tok.encode(text, special);
    for (int id : ids) {
      fuzz::check(id >= 0 && id < kTokenizerVocabSize, "encode made an id out of range");
      fuzz::check(special == SpecialTokens::kAllowed || id != kEndOfTextToken,
                  "encode made <|endoftext|> from text while special tokens are off");
    }
    fuzz::check(ids.size() <= size, "more tokens than bytes");
    fuzz::check(tok.decode(ids) == text, "decode(encode(x)) != x");
    DecodeStream stream(tok);
    std::string streamed;
    for (int id : ids) streamed += stream.push(id);
    streamed += stream.flush();
    fuzz::check(streamed == text, "the streamed decode differs from the text");
  }
  return 0;
}
