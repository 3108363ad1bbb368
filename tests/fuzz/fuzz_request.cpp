// gpt2-serve's request parser (server/api.h) on any body: JSON text to a
// validated completion, tokenize or detokenize request, or an ApiError of
// status 400 or 413 whose message is one line and whose error object dumps.
// An accepted completion holds only what the server can run.
#include <cstdint>
#include <string_view>

#include "server/api.h"
#include "tests/fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gpt2;
  using namespace gpt2::server;
  static const Tokenizer tok = Tokenizer::load_default();
  Limits limits;
  limits.context = 64;  // small: the length checks are reached often
  limits.max_timeout_s = 10;
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto check_error = [&](const ApiError& e) {
    fuzz::check(e.status() == 400 || e.status() == 413, "an error that is not 400 or 413",
                e.what());
    fuzz::check_one_line(e);
    (void)dump(e.body());
  };
  nlohmann::json j;
  try {
    j = parse_body(body);
  } catch (const ApiError& e) {
    check_error(e);
    return 0;
  }
  try {
    const CompletionRequest r = parse_completion(j, tok, limits);
    fuzz::check(!r.prompts.empty() && r.prompts.size() == r.prompt_texts.size(),
                "a completion without prompts");
    fuzz::check(r.n >= 1 && r.n <= limits.max_n, "n out of range");
    fuzz::check(long(r.prompts.size()) * r.n <= limits.max_sequences, "too many sequences");
    fuzz::check(r.max_tokens >= 1, "max_tokens < 1");
    for (const auto& p : r.prompts) {
      fuzz::check(!p.empty(), "an empty prompt");
      fuzz::check(long(p.size()) + r.max_tokens <= limits.context, "longer than the context");
      for (int t : p) fuzz::check(t >= 0 && t < limits.vocab, "a token out of range");
    }
    fuzz::check(rule_problem(r.rule).empty(), "an invalid rule");
    fuzz::check(r.stop.size() <= limits.max_stop, "too many stop strings");
    for (const auto& s : r.stop) fuzz::check(!s.empty(), "an empty stop string");
    fuzz::check(r.logprobs >= -1 && r.logprobs <= 5, "logprobs out of range");
    fuzz::check(!r.timeout_s || (*r.timeout_s > 0 && *r.timeout_s <= limits.max_timeout_s),
                "timeout out of range");
  } catch (const ApiError& e) {
    check_error(e);
  }
  try {
    (void)parse_tokenize(j);
  } catch (const ApiError& e) {
    check_error(e);
  }
  try {
    for (int t : parse_detokenize(j, limits.vocab)) {
      fuzz::check(t >= 0 && t < limits.vocab, "a detokenize id out of range");
    }
  } catch (const ApiError& e) {
    check_error(e);
  }
  return 0;
}
