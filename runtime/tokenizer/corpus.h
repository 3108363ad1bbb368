// The tokenizer's test corpus, datasets/tokenizer/corpus/: sets of documents and
// the ids that an independent implementation (js-tiktoken, checked against
// gpt-3-encoder) gave them. scripts/tokenizer/ makes both; SOURCES.md there says
// what is in each set.
//
// <set>.txt holds the documents; <set>.ids (and, for the set "special",
// <set>.allowed.ids) has one line per document after '#' comments:
//   <byte offset> <byte length> <id> <id> ...
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

struct CorpusDocument {
  std::size_t offset = 0;  // in the set's text, bytes
  std::size_t length = 0;
  std::vector<int> ids;  // the expected ids
};

struct CorpusSet {
  std::string name;
  std::string text;  // all of <set>.txt
  std::vector<CorpusDocument> docs;

  std::string_view document(const CorpusDocument& doc) const {
    return std::string_view(text).substr(doc.offset, doc.length);
  }
};

// The corpus folder: datasets_dir() / "tokenizer" / "corpus".
std::filesystem::path tokenizer_corpus_dir();

// The set names in `dir` (each <name>.ids), sorted.
std::vector<std::string> corpus_set_names(const std::filesystem::path& dir);

// Reads <dir>/<name>.txt and <dir>/<name><ids_suffix>. Throws TokenizerError
// ("<file>:<line>: <what>") on a missing file, a malformed line, an id outside
// the vocabulary, or a document outside the text.
CorpusSet read_corpus_set(const std::filesystem::path& dir, const std::string& name,
                          const std::string& ids_suffix = ".ids");

}  // namespace gpt2
