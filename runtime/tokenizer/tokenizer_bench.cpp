// Microbenchmarks of gpt2::Tokenizer on the test corpus (datasets/tokenizer/corpus/),
// one thread: encode throughput (bytes/s, tokens/s) per set and on all of it,
// decode, and loading the vocabulary.
//
//   build/bin/gpt2-tokenizer-bench --benchmark_repetitions=5
//
// The text is every well-formed UTF-8 document of the corpus (the JavaScript
// side of scripts/tokenizer/bench_side_by_side.mjs times js-tiktoken on exactly
// these documents); each document is one encode() call.
#include <benchmark/benchmark.h>

#include <map>
#include <string>
#include <vector>

#include "runtime/tokenizer/corpus.h"
#include "runtime/tokenizer/tokenizer.h"
#include "runtime/tokenizer/utf8.h"

namespace gpt2 {
namespace {

const Tokenizer& tokenizer() {
  static const Tokenizer tok = Tokenizer::load_default();
  return tok;
}

struct BenchText {
  std::vector<std::string> docs;
  std::size_t bytes = 0;
};

// "all" or one set's name: its well-formed documents.
const BenchText& bench_text(const std::string& which) {
  static std::map<std::string, BenchText> cache;
  auto [it, fresh] = cache.try_emplace(which);
  if (fresh) {
    const auto dir = tokenizer_corpus_dir();
    for (const std::string& name : corpus_set_names(dir)) {
      if (which != "all" && which != name) continue;
      const CorpusSet set = read_corpus_set(dir, name);
      for (const CorpusDocument& doc : set.docs) {
        const std::string_view text = set.document(doc);
        if (!is_valid_utf8(text)) continue;
        it->second.docs.emplace_back(text);
        it->second.bytes += text.size();
      }
    }
  }
  return it->second;
}

void BM_Encode(benchmark::State& state, const std::string& which) {
  const Tokenizer& tok = tokenizer();
  const BenchText& text = bench_text(which);
  std::size_t tokens = 0;
  for (auto _ : state) {
    for (const std::string& doc : text.docs) {
      std::vector<int> ids = tok.encode(doc);
      tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  const double passes = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(passes * text.bytes));
  state.counters["MB/s"] =
      benchmark::Counter(passes * text.bytes / 1e6, benchmark::Counter::kIsRate);
  state.counters["tokens/s"] =
      benchmark::Counter(static_cast<double>(tokens), benchmark::Counter::kIsRate);
  state.counters["bytes"] = static_cast<double>(text.bytes);
}
BENCHMARK_CAPTURE(BM_Encode, all, std::string("all"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, prose_en, std::string("prose-en"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, code, std::string("code"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, multilingual, std::string("multilingual"))
    ->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  const Tokenizer& tok = tokenizer();
  std::vector<std::vector<int>> ids;
  std::size_t bytes = 0;
  for (const std::string& doc : bench_text("all").docs) {
    ids.push_back(tok.encode(doc));
    bytes += doc.size();
  }
  for (auto _ : state) {
    for (const auto& d : ids) benchmark::DoNotOptimize(tok.decode(d));
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_Load(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(Tokenizer::load_default());
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gpt2

BENCHMARK_MAIN();
