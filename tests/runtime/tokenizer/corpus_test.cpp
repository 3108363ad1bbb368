// The whole corpus (datasets/tokenizer/corpus/, about 1.3 MB) against the ids of
// js-tiktoken, which gpt-3-encoder agrees with (scripts/tokenizer/make_expected.mjs).
#include "runtime/tokenizer/corpus.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "runtime/tokenizer/pretokenize.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/utf8.h"
#include "tests/runtime/tokenizer/tokenizer_fixture.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::tok;

// The first difference, for a readable failure.
std::string first_difference(const std::vector<int>& got, const std::vector<int>& want,
                             std::string_view doc) {
  std::size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) i++;
  std::string out = "first difference at id " + std::to_string(i) + " of " +
                    std::to_string(want.size()) + ": got";
  for (std::size_t k = i; k < got.size() && k < i + 5; ++k) (out += ' ') += std::to_string(got[k]);
  out += ", want";
  for (std::size_t k = i; k < want.size() && k < i + 5; ++k)
    (out += ' ') += std::to_string(want[k]);
  std::vector<int> prefix(want.begin(), want.begin() + static_cast<std::ptrdiff_t>(i));
  const std::size_t at = tok().decode(prefix).size();
  out += "; text there: ";
  out += ::testing::PrintToString(std::string(doc.substr(std::min(at, doc.size()), 40)));
  return out;
}

TEST(TokenizerCorpusTest, EveryDocumentHasJsTiktokensIds) {
  const auto dir = tokenizer_corpus_dir();
  const std::vector<std::string> names = corpus_set_names(dir);
  EXPECT_GE(names.size(), 10u);
  std::size_t bytes = 0, docs = 0, invalid = 0;
  for (const std::string& name : names) {
    const CorpusSet set = read_corpus_set(dir, name);
    for (const CorpusDocument& doc : set.docs) {
      const std::string_view text = set.document(doc);
      SCOPED_TRACE(name + ".txt at byte " + std::to_string(doc.offset));
      const std::vector<int> ids = tok().encode(text);
      ASSERT_EQ(tok().decode(ids), text);
      if (is_valid_utf8(text)) {
        ASSERT_EQ(ids, doc.ids) << first_difference(ids, doc.ids, text);
        ASSERT_EQ(tok().decode(doc.ids), text);
      } else {
        // The JS ids are those of the TextDecoder text; ours keep the bytes, and
        // differ only in the pieces that hold invalid bytes (pretokenize_test).
        const std::string replaced = replace_invalid_utf8(text);
        const std::vector<int> of_replaced = tok().encode(replaced);
        ASSERT_EQ(of_replaced, doc.ids) << first_difference(of_replaced, doc.ids, replaced);
        ASSERT_EQ(pretokenize(text).size(), pretokenize(replaced).size());
        invalid++;
      }
      bytes += text.size();
      docs++;
    }
  }
  EXPECT_GE(bytes, 1'000'000u);
  EXPECT_GE(docs, 4000u);
  EXPECT_GE(invalid, 500u);
}

TEST(TokenizerCorpusTest, EndOfTextAllowedHasJsTiktokensIds) {
  const CorpusSet set = read_corpus_set(tokenizer_corpus_dir(), "special", ".allowed.ids");
  int with_token = 0;
  for (const CorpusDocument& doc : set.docs) {
    const std::string_view text = set.document(doc);
    EXPECT_EQ(tok().encode(text, SpecialTokens::kAllowed), doc.ids) << text;
    EXPECT_EQ(tok().decode(doc.ids), text);
    with_token += std::count(doc.ids.begin(), doc.ids.end(), kEndOfTextToken) > 0;
  }
  EXPECT_GE(with_token, 15);
}

TEST(TokenizerCorpusTest, MalformedIdsFilesNameTheLine) {
  const auto dir = test::temp_dir();
  std::ofstream(dir / "s.txt") << "hello world";
  auto expect_error = [&](const std::string& ids, const std::string& what) {
    std::ofstream(dir / "s.ids") << ids;
    try {
      read_corpus_set(dir, "s");
      FAIL() << ids;
    } catch (const TokenizerError& e) {
      EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    }
  };
  expect_error("# header\n0 5 31373\n6 x 995\n", "s.ids:3: expected '<offset> <length> <id>...'");
  expect_error("0 50 31373\n", "s.ids:1: document [0, +50) is outside s.txt (11 bytes)");
  expect_error("0 5 50257\n", "s.ids:1: id 50257 is not a GPT-2 token");
  expect_error("# nothing\n", "s.ids: no documents");
  std::ofstream(dir / "s.ids") << "0 5 31373\n6 5 6894\n";
  const CorpusSet set = read_corpus_set(dir, "s");
  ASSERT_EQ(set.docs.size(), 2u);
  EXPECT_EQ(set.document(set.docs[1]), "world");
  EXPECT_EQ(set.docs[1].ids, std::vector<int>{6894});
}

}  // namespace
}  // namespace gpt2
