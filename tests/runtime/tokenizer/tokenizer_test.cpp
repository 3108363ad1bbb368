#include "runtime/tokenizer/tokenizer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "harness/goldens.h"
#include "runtime/model_source.h"
#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer/utf8.h"
#include "tests/runtime/tokenizer/tokenizer_fixture.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using Ids = std::vector<int>;
using test::tok;

TEST(TokenizerTest, BytesToUnicodeIsGpt2s) {
  const std::array<char32_t, 256> m = bytes_to_unicode();
  EXPECT_EQ(m['!'], U'!');
  EXPECT_EQ(m['~'], U'~');
  EXPECT_EQ(m[0xA1], U'¡');
  EXPECT_EQ(m[0xFF], U'ÿ');
  EXPECT_EQ(m[0x00], U'Ā');  // U+0100: the first byte with no printable self
  EXPECT_EQ(m[' '], U'Ġ');   // U+0120
  EXPECT_EQ(m['\n'], U'Ċ');  // U+010A
  EXPECT_EQ(m[0x7F], U'ġ');  // U+0121
  EXPECT_EQ(m[0xA0], U'ł');  // U+0142
  EXPECT_EQ(m[0xAD], U'Ń');  // U+0143, the last one
  const std::set<char32_t> distinct(m.begin(), m.end());
  EXPECT_EQ(distinct.size(), 256u);
  EXPECT_EQ(std::count_if(m.begin(), m.end(), [](char32_t c) { return c >= 256; }), 68);
}

TEST(TokenizerTest, KnownSentences) {
  EXPECT_EQ(tok().encode("Hello, my dog is cute"), (Ids{15496, 11, 616, 3290, 318, 13779}));
  EXPECT_EQ(tok().encode("hello there's also an"), (Ids{31373, 612, 338, 635, 281}));
  EXPECT_EQ(tok().encode(""), Ids{});
  EXPECT_EQ(tok().encode(" "), Ids{220});
  EXPECT_EQ(tok().encode("\n"), Ids{198});
  EXPECT_EQ(tok().encode("  Hello"), (Ids{220, 18435}));  // look-ahead: " " then " Hello"
  EXPECT_EQ(tok().encode("Hello  "), (Ids{15496, 220, 220}));
  EXPECT_EQ(tok().encode("DON'T"), (Ids{41173, 6, 51}));
  EXPECT_EQ(tok().decode(Ids{15496, 11, 616, 3290, 318, 13779}), "Hello, my dog is cute");
}

// datasets/prompts.txt was tokenized by gpt-3-encoder from datasets/prompt-texts/.
TEST(TokenizerTest, TheCommittedPromptsAreTheirTextsTokens) {
  std::map<std::string, std::vector<int>> ids;
  for (const Prompt& p : read_prompts(datasets_dir() / "prompts.txt")) ids[p.id] = p.tokens;
  std::ifstream in(datasets_dir() / "prompt-texts" / "short.txt");
  int checked = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::size_t bar = line.find('|');
    const std::string id = line.substr(0, bar), text = line.substr(bar + 1);
    ASSERT_TRUE(ids.count(id)) << id;
    EXPECT_EQ(tok().encode(text), ids[id]) << text;
    checked++;
  }
  EXPECT_GE(checked, 20);
  std::ifstream long_in(datasets_dir() / "prompt-texts" / "long.txt", std::ios::binary);
  const std::string long_text((std::istreambuf_iterator<char>(long_in)), {});
  const Ids all = tok().encode(long_text);
  for (const int n : {100, 256, 512, 900}) {
    ASSERT_GE(all.size(), static_cast<std::size_t>(n));
    EXPECT_EQ(Ids(all.begin(), all.begin() + n), ids["long-" + std::to_string(n)]) << n;
  }
  EXPECT_EQ(tok().decode(all), long_text);
}

TEST(TokenizerTest, EndOfTextIsTextUnlessAllowed) {
  const Ids as_text{27, 91, 437, 1659, 5239, 91, 29};
  EXPECT_EQ(tok().encode("<|endoftext|>"), as_text);
  EXPECT_EQ(tok().encode("<|endoftext|>", SpecialTokens::kAsText), as_text);
  EXPECT_EQ(tok().encode("<|endoftext|>", SpecialTokens::kAllowed), Ids{kEndOfTextToken});
  // The text on each side is encoded on its own: " " before it stays a lone space.
  EXPECT_EQ(tok().encode("a<|endoftext|> b", SpecialTokens::kAllowed), (Ids{64, 50256, 275}));
  EXPECT_EQ(tok().encode("a <|endoftext|>", SpecialTokens::kAllowed), (Ids{64, 220, 50256}));
  EXPECT_EQ(tok().encode("<|endoftext|><|endoftext|>", SpecialTokens::kAllowed),
            (Ids{50256, 50256}));
  EXPECT_EQ(tok().encode("<|endoftext|", SpecialTokens::kAllowed), tok().encode("<|endoftext|"));
  EXPECT_EQ(tok().token_bytes(kEndOfTextToken), "<|endoftext|>");
  EXPECT_EQ(tok().decode(Ids{64, 50256, 275}), "a<|endoftext|> b");
}

// Every token decodes to its bytes; every token that is one piece of the
// pattern encodes back to itself (all of GPT-2's tokens are reachable by merges).
TEST(TokenizerTest, EveryTokenDecodesAndEncodesBack) {
  std::set<std::string> seen;
  int single_piece = 0;
  for (int id = 0; id < kTokenizerVocabSize; ++id) {
    const std::string bytes(tok().token_bytes(id));
    ASSERT_FALSE(bytes.empty()) << id;
    ASSERT_EQ(tok().decode(Ids{id}), bytes);
    ASSERT_TRUE(seen.insert(bytes).second) << "two tokens with the bytes of " << id;
    if (id == kEndOfTextToken) continue;
    const Ids ids = tok().encode(bytes);
    ASSERT_EQ(tok().decode(ids), bytes) << id;
    if (pretokenize(bytes).size() == 1) {
      ASSERT_EQ(ids, Ids{id}) << ::testing::PrintToString(bytes);
      single_piece++;
    }
  }
  EXPECT_GT(single_piece, 49000);
  for (int b = 0; b < 256; ++b) {
    const std::string byte(1, static_cast<char>(b));
    EXPECT_EQ(tok().decode(tok().encode(byte)), byte);
    EXPECT_EQ(tok().encode(byte).size(), 1u);
  }
}

TEST(TokenizerTest, RoundTripsArbitraryBytes) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    const std::string bytes = test::random_bytes(rng, i % 100 == 0 ? 2000 : 64);
    const Ids ids = tok().encode(bytes);
    ASSERT_EQ(tok().decode(ids), bytes) << ::testing::PrintToString(bytes);
    for (const int id : ids) ASSERT_TRUE(id >= 0 && id < kEndOfTextToken);
    ASSERT_EQ(tok().decode(tok().encode(bytes, SpecialTokens::kAllowed)), bytes);
  }
  const std::string all_bytes = [] {
    std::string s;
    for (int b = 0; b < 256; ++b) s += static_cast<char>(b);
    return s + s;
  }();
  EXPECT_EQ(tok().decode(tok().encode(all_bytes)), all_bytes);
}

// How invalid UTF-8 is encoded: the pieces are those of the TextDecoder text
// (the JS tokenizers' input), and a piece with no invalid byte gets the same ids.
TEST(TokenizerTest, InvalidBytesChangeOnlyTheirOwnPieces) {
  const std::string bytes = "caf\xE9 is \xF0\x9F\x98 nice, isn't it\xFF";
  const std::string text = replace_invalid_utf8(bytes);
  const auto raw = pretokenize(bytes), decoded = pretokenize(text);
  ASSERT_EQ(raw.size(), decoded.size());
  for (std::size_t k = 0; k < raw.size(); ++k) {
    if (raw[k] == decoded[k]) {
      EXPECT_EQ(tok().encode(raw[k]), tok().encode(decoded[k]));
    }
  }
  EXPECT_EQ(tok().decode(tok().encode(bytes)), bytes);
  EXPECT_EQ(tok().encode("\xE9"), Ids{165});  // the byte's own token (U+00E9 stands for it)
}

TEST(TokenizerTest, LongPiecesEncodeAndRoundTrip) {
  // GPT-2 has no token of two spaces: a run of n spaces is n tokens.
  const Ids spaces = tok().encode(std::string(10000, ' ') + "x");
  EXPECT_EQ(spaces.size(), 10000u);
  EXPECT_EQ(spaces.back(), 2124);  // " x"
  EXPECT_EQ(std::count(spaces.begin(), spaces.end(), 220), 9999);
  for (const std::string& s :
       {std::string(5000, 'a'), std::string(3000, '7'), std::string(2000, '!')}) {
    const Ids ids = tok().encode(s);
    EXPECT_EQ(tok().decode(ids), s);
    EXPECT_LT(ids.size(), s.size());
  }
  const std::string invalid(1000, '\xFF');  // no merge joins two FF bytes
  EXPECT_EQ(tok().encode(invalid), Ids(1000, tok().encode("\xFF")[0]));
}

TEST(TokenizerTest, BadIdsAreRefused) {
  for (const int bad : {-1, kTokenizerVocabSize, 1 << 30}) {
    try {
      tok().decode(Ids{1, bad});
      FAIL() << bad;
    } catch (const std::out_of_range& e) {
      EXPECT_EQ(std::string(e.what()),
                "token id " + std::to_string(bad) + " is outside GPT-2's vocabulary [0, 50257)");
    }
    EXPECT_THROW(tok().token_bytes(bad), std::out_of_range);
  }
}

TEST(TokenizerTest, SharedAcrossThreads) {
  const std::string text = "Threads share one const tokenizer: 中文, emoji 😀, numbers 12345.";
  const Ids want = tok().encode(text);
  std::vector<Ids> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) got[t] = tok().encode(text);
    });
  }
  for (auto& th : threads) th.join();
  for (const Ids& g : got) EXPECT_EQ(g, want);
}

// ---------------------------------------------------------------------------
// DecodeStream.

TEST(DecodeStreamTest, HoldsBackAnUnfinishedCharacter) {
  // "😀" is F0 9F 98 80: GPT-2 has it as two tokens, F0 9F 98 (47249) and 80 (222).
  const Ids ids = tok().encode("a😀b");
  ASSERT_EQ(ids, (Ids{64, 47249, 222, 65}));
  ASSERT_EQ(tok().decode(ids), "a😀b");
  DecodeStream stream(tok());
  std::vector<std::string> outs;
  for (const int id : ids) outs.push_back(stream.push(id));
  outs.push_back(stream.flush());
  std::string joined;
  for (const std::string& o : outs) {
    EXPECT_TRUE(is_valid_utf8(o)) << ::testing::PrintToString(o);
    joined += o;
  }
  EXPECT_EQ(joined, "a😀b");
  EXPECT_EQ(stream.pending(), 0u);
}

TEST(DecodeStreamTest, ReleasesBytesThatCanNoLongerBecomeACharacter) {
  DecodeStream stream(tok());
  const int e2 = tok().encode("\xE2")[0], x = tok().encode("x")[0];
  EXPECT_EQ(stream.push(e2), "");
  EXPECT_EQ(stream.pending(), 1u);
  EXPECT_EQ(stream.push(x), "\xE2x");  // E2 then 'x': never a character, out as bytes
  EXPECT_EQ(stream.push(e2), "");
  EXPECT_EQ(stream.flush(), "\xE2");  // the end of the stream releases it too
  EXPECT_EQ(stream.flush(), "");
  EXPECT_EQ(stream.push(kEndOfTextToken), "<|endoftext|>");
}

TEST(DecodeStreamTest, BadIdsAreRefusedAndTheStreamGoesOn) {
  DecodeStream stream(tok());
  const int e2 = tok().encode("\xE2")[0];
  EXPECT_EQ(stream.push(e2), "");
  EXPECT_THROW(stream.push(kTokenizerVocabSize), std::out_of_range);
  EXPECT_THROW(stream.push(-5), std::out_of_range);
  EXPECT_EQ(stream.pending(), 1u);
  std::string out;
  for (const int id : tok().encode("\x82\xAC")) out += stream.push(id);
  EXPECT_EQ(out, "\xE2\x82\xAC");
  EXPECT_EQ(stream.flush(), "");
}

// Random id streams, and the tokens of random text: what comes out concatenates
// to decode(), and no output ends inside a well-formed character of the whole.
TEST(DecodeStreamTest, NeverSplitsACharacter) {
  std::mt19937_64 rng(3);
  for (int i = 0; i < 3000; ++i) {
    Ids ids;
    if (i % 2 == 0) {
      ids = tok().encode(test::random_bytes(rng, 60));
    } else {
      for (int k = 0; k < 20; ++k) ids.push_back(static_cast<int>(rng() % kEndOfTextToken));
    }
    const std::string whole = tok().decode(ids);
    // Where the well-formed characters of `whole` start and end.
    std::vector<bool> inside(whole.size() + 1, false);
    const auto* p = reinterpret_cast<const unsigned char*>(whole.data());
    for (std::size_t at = 0; at < whole.size();) {
      char32_t cp;
      const int len = decode_utf8(p + at, p + whole.size(), &cp);
      for (int k = 1; k < len; ++k) inside[at + k] = true;
      at += len > 0 ? len : 1;
    }
    DecodeStream stream(tok());
    std::string joined;
    for (const int id : ids) {
      joined += stream.push(id);
      ASSERT_FALSE(inside[joined.size()]) << "split at byte " << joined.size();
      ASSERT_LE(stream.pending(), 3u);
    }
    joined += stream.flush();
    ASSERT_EQ(joined, whole);
  }
}

// ---------------------------------------------------------------------------
// Loading: missing and damaged files get one line naming the file.

class TokenizerFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::temp_dir();
    const auto src = datasets_dir() / "tokenizer";
    encoder_ = slurp(src / "encoder.json");
    merges_ = slurp(src / "vocab.bpe");
  }
  static std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), {});
  }
  // Writes the two files (either may be left out) and expects load() to fail
  // with a one-line message that contains `file` and `what`.
  void expect_error(const std::string* encoder, const std::string* merges, const std::string& file,
                    const std::string& what) {
    std::filesystem::remove(dir_ / "encoder.json");
    std::filesystem::remove(dir_ / "vocab.bpe");
    if (encoder) std::ofstream(dir_ / "encoder.json", std::ios::binary) << *encoder;
    if (merges) std::ofstream(dir_ / "vocab.bpe", std::ios::binary) << *merges;
    try {
      Tokenizer::load(dir_);
      FAIL() << "loaded; expected: " << what;
    } catch (const TokenizerError& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find((dir_ / file).string()), std::string::npos) << message;
      EXPECT_NE(message.find(what), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  static std::string replace(std::string s, const std::string& from, const std::string& to) {
    const std::size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  }
  std::filesystem::path dir_;
  std::string encoder_, merges_;
};

TEST_F(TokenizerFilesTest, TheCommittedFilesLoad) {
  expect_error(nullptr, &merges_, "encoder.json", "cannot open");
  std::ofstream(dir_ / "encoder.json", std::ios::binary) << encoder_;
  std::ofstream(dir_ / "vocab.bpe", std::ios::binary) << merges_;
  EXPECT_EQ(Tokenizer::load(dir_).encode("Hello"), Ids{15496});
}

TEST_F(TokenizerFilesTest, MissingFiles) {
  expect_error(nullptr, &merges_, "encoder.json", "cannot open: No such file or directory");
  expect_error(&encoder_, nullptr, "vocab.bpe", "cannot open: No such file or directory");
}

TEST_F(TokenizerFilesTest, DamagedEncoderJson) {
  const std::string truncated = encoder_.substr(0, encoder_.size() / 2);
  expect_error(&truncated, &merges_, "encoder.json", "not valid JSON");
  const std::string array = "[1, 2]";
  expect_error(&array, &merges_, "encoder.json", "expected a JSON object of token -> id");
  const std::string fewer = replace(encoder_, "\"!\": 0, ", "");
  expect_error(&fewer, &merges_, "encoder.json", "has 50256 tokens, expected 50257");
  const std::string bad_id = replace(encoder_, "\"!\": 0,", "\"!\": 60000,");
  expect_error(&bad_id, &merges_, "encoder.json",
               "token \"!\" has id 60000, expected an integer in [0, 50257)");
  const std::string twice = replace(encoder_, "\"!\": 0,", "\"!\": 1,");
  expect_error(&twice, &merges_, "encoder.json", "id 1 is used twice");
  const std::string eot = replace(encoder_, "\"<|endoftext|>\": 50256", "\"<|endoftext|>\": 50255");
  expect_error(&eot, &merges_, "encoder.json", "expected \"<|endoftext|>\": 50256");
  const std::string foreign = replace(encoder_, "\"!\": 0,", "\"\\u4e2d\": 0,");
  expect_error(&foreign, &merges_, "encoder.json", "has a character that stands for no byte");
}

TEST_F(TokenizerFilesTest, DamagedVocabBpe) {
  const std::string no_header = merges_.substr(merges_.find('\n') + 1);
  expect_error(&encoder_, &no_header, "vocab.bpe", ":1: expected a first line '#version: 0.2'");
  const std::string short_file = merges_.substr(0, merges_.size() / 2);
  expect_error(&encoder_, &short_file, "vocab.bpe", "expected 50000");
  const std::string bad_line = replace(merges_, "\n\xC4\xA0 t\n", "\n\xC4\xA0t\n");
  expect_error(&encoder_, &bad_line, "vocab.bpe", ":2: expected a merge '<token> <token>'");
  const std::string swapped =
      replace(merges_, "\n\xC4\xA0 t\n\xC4\xA0 a\n", "\n\xC4\xA0 a\n\xC4\xA0 t\n");
  expect_error(&encoder_, &swapped, "vocab.bpe",
               ":2: merge \"Ġ a\" makes token 257, expected 256 (merge r makes token 256 + r)");
  const std::string unknown =
      replace(merges_, "\n\xC4\xA0 t\n", "\n\xC4\xA0 \xC4\xA0\xC4\xA0\xC4\xA0x\n");
  expect_error(&encoder_, &unknown, "vocab.bpe", ":2: merge \"Ġ ĠĠĠx\" names or makes a token");
}

}  // namespace
}  // namespace gpt2
