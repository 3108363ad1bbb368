#include "runtime/tokenizer/utf8.h"

#include <gtest/gtest.h>
#include <utf8proc.h>

#include <fstream>
#include <sstream>
#include <vector>

#include "runtime/tokenizer/corpus.h"

namespace gpt2 {
namespace {

std::pair<int, char32_t> decode(std::string_view s) {
  char32_t cp = 0;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const int len = decode_utf8(p, p + s.size(), &cp);
  return {len, cp};
}

TEST(Utf8Test, DecodesWellFormedSequencesAtTheirBoundaries) {
  EXPECT_EQ(decode("A"), std::make_pair(1, U'A'));
  EXPECT_EQ(decode(std::string_view("\0", 1)), std::make_pair(1, U'\0'));
  EXPECT_EQ(decode("\xC2\x80"), std::make_pair(2, char32_t{0x80}));
  EXPECT_EQ(decode("\xDF\xBF"), std::make_pair(2, char32_t{0x7FF}));
  EXPECT_EQ(decode("\xE0\xA0\x80"), std::make_pair(3, char32_t{0x800}));
  EXPECT_EQ(decode("\xED\x9F\xBF"), std::make_pair(3, char32_t{0xD7FF}));
  EXPECT_EQ(decode("\xEE\x80\x80"), std::make_pair(3, char32_t{0xE000}));
  EXPECT_EQ(decode("\xEF\xBF\xBF"), std::make_pair(3, char32_t{0xFFFF}));
  EXPECT_EQ(decode("\xF0\x90\x80\x80"), std::make_pair(4, char32_t{0x10000}));
  EXPECT_EQ(decode("\xF0\x9F\x98\x80"), std::make_pair(4, char32_t{0x1F600}));
  EXPECT_EQ(decode("\xF4\x8F\xBF\xBF"), std::make_pair(4, char32_t{0x10FFFF}));
}

TEST(Utf8Test, RejectsIllFormedSequences) {
  for (const char* bad :
       {"\x80", "\xBF", "\xC0\x80", "\xC1\xBF", "\xC2", "\xC2\x41", "\xE0\x80\x80", "\xE0\x9F\xBF",
        "\xED\xA0\x80", "\xED\xBF\xBF", "\xE2\x82", "\xF0\x8F\xBF\xBF", "\xF0\x9F\x98",
        "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xF8\x88\x80\x80", "\xFE", "\xFF"}) {
    EXPECT_EQ(decode(bad).first, 0) << ::testing::PrintToString(std::string(bad));
    EXPECT_FALSE(is_valid_utf8(bad));
  }
  EXPECT_TRUE(is_valid_utf8("plain ASCII, é, 中文, 😀"));
  EXPECT_TRUE(is_valid_utf8(""));
}

TEST(Utf8Test, ReplacesEachMaximalIllFormedSubpartLikeTextDecoder) {
  // The Unicode standard's example (chapter 3, "U+FFFD substitution of maximal subparts").
  EXPECT_EQ(replace_invalid_utf8("\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64"),
            "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd");
  EXPECT_EQ(replace_invalid_utf8("\xED\xA0\x80"), "\uFFFD\uFFFD\uFFFD");  // a surrogate
  EXPECT_EQ(replace_invalid_utf8("\xF4\x90\x80\x80"), "\uFFFD\uFFFD\uFFFD\uFFFD");
  EXPECT_EQ(replace_invalid_utf8("\xC0\xAF"), "\uFFFD\uFFFD");  // overlong
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98"), "\uFFFD");    // cut short
  EXPECT_EQ(replace_invalid_utf8("\xF0\x9F\x98 x"), "\uFFFD x");
  EXPECT_EQ(replace_invalid_utf8("\xE2\x82\xE2\x82\xAC"), "\uFFFD\u20AC");
  EXPECT_EQ(replace_invalid_utf8("caf\xE9"), "caf\uFFFD");
  EXPECT_EQ(replace_invalid_utf8("well-formed \xEF\xBB\xBF stays"),
            "well-formed \xEF\xBB\xBF stays");
}

TEST(Utf8Test, FindsAnUnfinishedCharacterAtTheEnd) {
  EXPECT_EQ(incomplete_utf8_suffix(""), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("abc"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("a\xC3"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2"), 1u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82"), 2u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82\xAC"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("x\xF0\x9F\x98"), 3u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF0\x9F\x98\x80"), 0u);
  // Beginnings that can never be completed are not held back.
  EXPECT_EQ(incomplete_utf8_suffix("\xE0\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xED\xA0"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF4\x90"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xC0"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xF5"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\x80\x80\x80"), 0u);
  EXPECT_EQ(incomplete_utf8_suffix("\xE2\x82\xAC\x82"), 0u);
}

TEST(Utf8Test, ClassesOfAsciiAndTheJavaScriptWhitespaceSet) {
  EXPECT_EQ(char_class('a'), CharClass::kLetter);
  EXPECT_EQ(char_class('Z'), CharClass::kLetter);
  EXPECT_EQ(char_class('5'), CharClass::kNumber);
  EXPECT_EQ(char_class('_'), CharClass::kOther);
  EXPECT_EQ(char_class('\''), CharClass::kOther);
  for (char32_t s : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000, 0x200A, 0x2028,
                     0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}) {
    EXPECT_EQ(char_class(s), CharClass::kSpace) << std::hex << static_cast<unsigned>(s);
  }
  // Not \s in JavaScript (NEL, ZWSP, Mongolian vowel separator, word joiner, FS..US).
  for (char32_t s : {0x85, 0x200B, 0x180E, 0x2060, 0x1C, 0x1F}) {
    EXPECT_EQ(char_class(s), CharClass::kOther) << std::hex << static_cast<unsigned>(s);
  }
  EXPECT_EQ(char_class(U'é'), CharClass::kLetter);
  EXPECT_EQ(char_class(0x0301), CharClass::kOther);  // a combining mark is not \p{L}
  EXPECT_EQ(char_class(U'中'), CharClass::kLetter);
  EXPECT_EQ(char_class(U'²'), CharClass::kNumber);     // No
  EXPECT_EQ(char_class(U'Ⅻ'), CharClass::kNumber);     // Nl
  EXPECT_EQ(char_class(U'٣'), CharClass::kNumber);     // Nd
  EXPECT_EQ(char_class(0x1D400), CharClass::kLetter);  // MATHEMATICAL BOLD CAPITAL A
  EXPECT_EQ(char_class(0x1F600), CharClass::kOther);   // an emoji
}

// Every code point against JavaScript's RegExp (scripts/tokenizer/make_expected.mjs
// wrote js-classes.txt on node with Unicode 17.0). They may differ only where
// utf8proc's Unicode 15.0 has no character yet: letters and numbers added by
// Unicode 15.1 to 17.0, which are "other" here.
TEST(Utf8Test, ClassesAgreeWithJavaScriptExceptForCharactersNewerThanUnicode15) {
  std::vector<char> js(0x110000, 'O');
  std::ifstream in(tokenizer_corpus_dir() / "js-classes.txt");
  ASSERT_TRUE(in) << "js-classes.txt is missing";
  int ranges = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    unsigned first = 0, last = 0;
    char cls = 0;
    fields >> std::hex >> first >> last >> cls;
    ASSERT_TRUE(fields && last < js.size() && first <= last) << line;
    std::fill(js.begin() + first, js.begin() + last + 1, cls);
    ranges++;
  }
  EXPECT_GT(ranges, 500);
  int newer = 0;
  for (char32_t cp = 0; cp < 0x110000; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;  // surrogates: never in UTF-8
    const CharClass ours = char_class(cp);
    const char mine = ours == CharClass::kLetter   ? 'L'
                      : ours == CharClass::kNumber ? 'N'
                      : ours == CharClass::kSpace  ? 'S'
                                                   : 'O';
    if (mine == js[cp]) continue;
    ASSERT_EQ(mine, 'O') << std::hex << "U+" << static_cast<unsigned>(cp);
    ASSERT_TRUE(js[cp] == 'L' || js[cp] == 'N') << std::hex << "U+" << static_cast<unsigned>(cp);
    ASSERT_EQ(utf8proc_category(static_cast<utf8proc_int32_t>(cp)), UTF8PROC_CATEGORY_CN)
        << std::hex << "U+" << static_cast<unsigned>(cp) << " is assigned in Unicode 15.0";
    newer++;
  }
  // Unicode 15.1 to 17.0 added 9,661 letters and numbers (CJK extensions I and J,
  // Egyptian hieroglyphs extension A, Garay, Kirat Rai, Sunuwar, Tai Yo and other
  // new scripts; runtime/tokenizer/README.md lists them). A newer utf8proc only
  // makes the gap smaller.
  EXPECT_LE(newer, 9661) << "code points that JavaScript (Unicode 17.0) classes as letters or "
                            "numbers and utf8proc (Unicode 15.0) does not know";
}

}  // namespace
}  // namespace gpt2
