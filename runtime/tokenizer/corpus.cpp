#include "runtime/tokenizer/corpus.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "runtime/paths.h"
#include "runtime/tokenizer/tokenizer.h"

namespace gpt2 {
namespace {

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw TokenizerError(path.string() + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  return std::move(text).str();
}

}  // namespace

std::filesystem::path tokenizer_corpus_dir() {
  return datasets_dir() / "tokenizer" / "corpus";
}

std::vector<std::string> corpus_set_names(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    if (file.ends_with(".ids") && !file.ends_with(".allowed.ids")) {
      names.push_back(file.substr(0, file.size() - 4));
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

CorpusSet read_corpus_set(const std::filesystem::path& dir, const std::string& name,
                          const std::string& ids_suffix) {
  CorpusSet set;
  set.name = name;
  set.text = slurp(dir / (name + ".txt"));
  const std::filesystem::path ids_path = dir / (name + ids_suffix);
  const std::string ids = slurp(ids_path);
  int line_number = 0;
  for (std::size_t start = 0; start < ids.size();) {
    std::size_t end = ids.find('\n', start);
    if (end == std::string::npos) end = ids.size();
    const char* p = ids.data() + start;
    const char* const line_end = ids.data() + end;
    start = end + 1;
    line_number++;
    if (p == line_end || *p == '#') continue;
    auto fail = [&](const std::string& what) {
      throw TokenizerError(ids_path.string() + ":" + std::to_string(line_number) + ": " + what);
    };
    // Reads one non-negative integer and the space after it (if any).
    auto number = [&](long long& value) {
      const auto [q, ec] = std::from_chars(p, line_end, value);
      if (ec != std::errc() || value < 0 || (q != line_end && *q != ' ')) {
        fail("expected '<offset> <length> <id>...' of non-negative integers");
      }
      p = q == line_end ? q : q + 1;
    };
    CorpusDocument doc;
    long long offset = 0, length = 0, id = 0;
    number(offset);
    number(length);
    if (static_cast<unsigned long long>(offset + length) > set.text.size()) {
      fail("document [" + std::to_string(offset) + ", +" + std::to_string(length) +
           ") is outside " + name + ".txt (" + std::to_string(set.text.size()) + " bytes)");
    }
    doc.offset = static_cast<std::size_t>(offset);
    doc.length = static_cast<std::size_t>(length);
    while (p < line_end) {
      number(id);
      if (id >= kTokenizerVocabSize) fail("id " + std::to_string(id) + " is not a GPT-2 token");
      doc.ids.push_back(static_cast<int>(id));
    }
    set.docs.push_back(std::move(doc));
  }
  if (set.docs.empty()) throw TokenizerError(ids_path.string() + ": no documents");
  return set;
}

}  // namespace gpt2
