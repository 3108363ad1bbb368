#include "runtime/tokenizer/pretokenize.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "runtime/tokenizer/utf8.h"
#include "tests/runtime/tokenizer/tokenizer_fixture.h"

namespace gpt2 {
namespace {

std::vector<std::string> pieces(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view p : pretokenize(text)) out.emplace_back(p);
  return out;
}
using Pieces = std::vector<std::string>;

TEST(PretokenizeTest, WordsTakeTheSpaceBeforeThem) {
  EXPECT_EQ(pieces("Hello, my dog is cute"), (Pieces{"Hello", ",", " my", " dog", " is", " cute"}));
  EXPECT_EQ(pieces("abc123def !?x"), (Pieces{"abc", "123", "def", " !?", "x"}));
  EXPECT_EQ(pieces(" 2024 年"), (Pieces{" 2024", " 年"}));
  EXPECT_EQ(pieces("x²Ⅻ٣a"), (Pieces{"x", "²Ⅻ٣", "a"}));
  EXPECT_EQ(pieces("cafe\u0301s"), (Pieces{"cafe", "\u0301", "s"}));  // a mark is not a letter
  EXPECT_EQ(pieces(""), Pieces{});
}

TEST(PretokenizeTest, ContractionsAreLowerCaseAsciiOnly) {
  EXPECT_EQ(pieces("it's they're we've I'm you'll he'd don't"),
            (Pieces{"it", "'s", " they", "'re", " we", "'ve", " I", "'m", " you", "'ll", " he",
                    "'d", " don", "'t"}));
  EXPECT_EQ(pieces("DON'T YOU'LL"), (Pieces{"DON", "'", "T", " YOU", "'", "LL"}));
  EXPECT_EQ(pieces("it’s"), (Pieces{"it", "’", "s"}));  // a curly apostrophe is a symbol
  EXPECT_EQ(pieces("'sss"), (Pieces{"'s", "ss"}));
  EXPECT_EQ(pieces(" 's"), (Pieces{" '", "s"}));  // the space goes with the symbol run
  EXPECT_EQ(pieces("''s"), (Pieces{"''", "s"}));  // the run swallows the second quote
  EXPECT_EQ(pieces("!'s"), (Pieces{"!'", "s"}));
  EXPECT_EQ(pieces("'"), (Pieces{"'"}));
  EXPECT_EQ(pieces("'l"), (Pieces{"'", "l"}));
}

TEST(PretokenizeTest, WhitespaceLeavesItsLastCharacterToTheNextWord) {
  EXPECT_EQ(pieces("a  b"), (Pieces{"a", " ", " b"}));
  EXPECT_EQ(pieces("a    b"), (Pieces{"a", "   ", " b"}));
  EXPECT_EQ(pieces("a   "), (Pieces{"a", "   "}));  // at the end: the whole run
  EXPECT_EQ(pieces("   "), (Pieces{"   "}));
  EXPECT_EQ(pieces(" "), (Pieces{" "}));
  EXPECT_EQ(pieces("  x"), (Pieces{" ", " x"}));
  EXPECT_EQ(pieces("a\n\nb"), (Pieces{"a", "\n", "\n", "b"}));
  EXPECT_EQ(pieces("a \tb"), (Pieces{"a", " ", "\t", "b"}));
  EXPECT_EQ(pieces("a\t b"), (Pieces{"a", "\t", " b"}));
  EXPECT_EQ(pieces("a \n"), (Pieces{"a", " \n"}));
  EXPECT_EQ(pieces("x\r\n\r\ny"), (Pieces{"x", "\r\n\r", "\n", "y"}));
  EXPECT_EQ(pieces("x\u3000y"), (Pieces{"x", "\u3000", "y"}));  // only U+0020 joins a word
  EXPECT_EQ(pieces("x \u3000 y"), (Pieces{"x", " \u3000", " y"}));
  EXPECT_EQ(pieces("x\u00A0\u00A0!"), (Pieces{"x", "\u00A0", "\u00A0", "!"}));
  EXPECT_EQ(pieces("x\u0085y"), (Pieces{"x", "\u0085", "y"}));  // NEL is a symbol in JS
  EXPECT_EQ(pieces("\uFEFFx"), (Pieces{"\uFEFF", "x"}));        // and U+FEFF is a space
}

TEST(PretokenizeTest, InvalidBytesAreSymbols) {
  EXPECT_EQ(pieces("a\x80z"), (Pieces{"a", "\x80", "z"}));
  EXPECT_EQ(pieces(" \xFF\xFE!x"), (Pieces{" \xFF\xFE!", "x"}));
  EXPECT_EQ(pieces("'\x80s"), (Pieces{"'\x80", "s"}));
  EXPECT_EQ(pieces("\xE2\x82 x"), (Pieces{"\xE2\x82", " x"}));
  EXPECT_EQ(pieces("caf\xE9s"), (Pieces{"caf", "\xE9", "s"}));
}

// The pieces of any bytes are those of its TextDecoder text, piece for piece,
// and they always add up to the input.
TEST(PretokenizeTest, PiecesOfBytesMatchThePiecesOfTheirDecodedText) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 5000; ++i) {
    const std::string bytes = test::random_bytes(rng, 40);
    const std::vector<std::string_view> raw = pretokenize(bytes);
    const std::string text = replace_invalid_utf8(bytes);
    const std::vector<std::string_view> decoded = pretokenize(text);
    std::string joined;
    for (std::string_view p : raw) {
      ASSERT_FALSE(p.empty());
      joined += p;
    }
    ASSERT_EQ(joined, bytes);
    ASSERT_EQ(raw.size(), decoded.size()) << ::testing::PrintToString(bytes);
    for (std::size_t k = 0; k < raw.size(); ++k) {
      ASSERT_EQ(replace_invalid_utf8(raw[k]), decoded[k]) << ::testing::PrintToString(bytes);
    }
  }
}

}  // namespace
}  // namespace gpt2
