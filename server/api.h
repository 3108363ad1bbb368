// The server's requests: a JSON body to a validated request, or an ApiError
// naming the field that is wrong. Pure functions of the body (no HTTP, no
// model): the request parser that tests/fuzz/fuzz_request.cpp drives.
//
// POST /v1/completions, following OpenAI's API (and llama-server where it
// extends it):
//   prompt       text, token ids, or a list of either (each a prompt of its own)
//   max_tokens   new tokens at most (default 16); prompt + max_tokens <= context
//   temperature  0: greedy; > 0: sampling (with top_p, top_k, seed)
//   top_p, top_k (extension), seed
//   rule         (extension) median, greedy or sample-t..-k..-p..-seed..: the
//                runtime's rule names (runtime/decide.h); not with the above
//   n            choices per prompt; choice j samples with seed + j
//   stop         a string or up to 4; never part of the text
//   stream       server-sent events; stream_options.include_usage
//   echo         the prompt's text before the continuation
//   logprobs     0 to 5: each token's log-probability and the top alternatives
//   ignore_eos   (extension) go on past <|endoftext|>
//   timeout      (extension) seconds before the request is abandoned (at most
//                the server's --request-timeout)
// With none of temperature, top_p, top_k, seed and rule, a request gets the
// runtime's default rule, median (the lab's), as `gpt2` does.
// OpenAI's fields that change nothing at their neutral values (user,
// presence_penalty 0, frequency_penalty 0, best_of 1, logit_bias {}, suffix
// null, model) are accepted; any other value of them, and any unknown field,
// is a 400 naming it, so that a misspelt field never silently means a default.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/decide.h"
#include "runtime/tokenizer/tokenizer.h"

namespace gpt2::server {

// An error answered with an OpenAI-style error object:
//   {"error": {"message": ..., "type": ..., "param": ..., "code": ...}}
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, std::string message, std::string param = {},
           std::string type = "invalid_request_error", std::string code = {});
  int status() const { return status_; }
  const std::string& param() const { return param_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }
  nlohmann::json body() const;

 private:
  int status_;
  std::string param_, type_, code_;
};

// What the parser checks a request against: the model's and the server's bounds.
struct Limits {
  int context = 1024;          // the model's max_seq_len
  int vocab = 50257;           // token ids in [0, vocab)
  int max_prompts = 64;        // prompts in one request
  int max_n = 16;              // choices per prompt
  int max_sequences = 64;      // prompts x n
  double max_timeout_s = 300;  // the server's --request-timeout
  std::size_t max_stop = 4;    // stop strings
  std::size_t max_stop_bytes = 256;
};

struct CompletionRequest {
  std::vector<std::vector<int>> prompts;  // each prompt's tokens (at least one)
  std::vector<std::string> prompt_texts;  // each prompt's text (decoded, for echo)
  int max_tokens = 16;
  int n = 1;
  Rule rule = Rule::kMedian;  // choice j: the same rule, a sampler's seed + j
  bool stream = false;
  bool include_usage = false;
  bool echo = false;
  bool ignore_eos = false;
  int logprobs = -1;  // -1: none
  std::vector<std::string> stop;
  std::optional<double> timeout_s;
  std::string model;  // as given (any name is this server's model)

  // The rule of choice j (its seed advanced by j for sampling).
  Rule choice_rule(int j) const;
};

// Parses a body (JSON text) to its object: ApiError 400 for malformed JSON or
// anything but an object.
nlohmann::json parse_body(std::string_view body);

// POST /v1/completions. Prompts longer than the context allows are 413
// ("prompt_too_long"); every other problem is 400.
CompletionRequest parse_completion(const nlohmann::json& body, const Tokenizer& tokenizer,
                                   const Limits& limits);

// POST /tokenize: {"content": text, "add_special": false, "with_pieces": false}
// (llama-server's names; "prompt" is taken for "content" too).
struct TokenizeRequest {
  std::string content;
  bool with_pieces = false;
};
TokenizeRequest parse_tokenize(const nlohmann::json& body);

// POST /detokenize: {"tokens": [ids]}, each in [0, vocab).
std::vector<int> parse_detokenize(const nlohmann::json& body, int vocab);

// A reply's JSON text: invalid UTF-8 (a token's bytes may end inside a
// character) written as U+FFFD rather than thrown on.
std::string dump(const nlohmann::json& j);

}  // namespace gpt2::server
