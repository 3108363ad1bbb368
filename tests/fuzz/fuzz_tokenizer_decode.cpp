// The tokenizer's decode on any ids (2 bytes each, little-endian, minus 32:
// ids from -32 to 65503, so out-of-range ones too), with the round trip
// checked: encode(decode(ids)) decodes to the same bytes.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  static const Tokenizer tok = Tokenizer::load_default();
  std::vector<int> ids;
  bool in_range = true;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    ids.push_back(int(data[i] | data[i + 1] << 8) - 32);
    in_range = in_range && ids.back() >= 0 && ids.back() < kTokenizerVocabSize;
  }
  std::string text;
  try {
    text = tok.decode(ids);
    fuzz::check(in_range, "decode took an id out of range");
  } catch (const std::out_of_range& e) {
    fuzz::check(!in_range, "decode rejected ids in range", e.what());
    fuzz::check_one_line(e);
    return 0;
  }
  DecodeStream stream(tok);
  std::string streamed;
  for (int id : ids) streamed += stream.push(id);
  streamed += stream.flush();
  fuzz::check(streamed == text, "the streamed decode differs from decode");
  for (SpecialTokens special : {SpecialTokens::kAsText, SpecialTokens::kAllowed}) {
    fuzz::check(tok.decode(tok.encode(text, special)) == text, "decode(encode(decode(ids)))");
  }
  return 0;
}
