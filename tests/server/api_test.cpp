// The request parser: every field's types and ranges, and the errors naming them.
#include "server/api.h"
#include "tests/runtime/tokenizer/tokenizer_fixture.h"

#include <gtest/gtest.h>

namespace gpt2::server {
namespace {

using nlohmann::json;

using test::tok;

CompletionRequest parse(const std::string& body, Limits limits = {}) {
  return parse_completion(parse_body(body), tok(), limits);
}

// Expects an ApiError of `status` naming `param`, its message holding `text`.
void expect_error(const std::string& body, int status, const std::string& param,
                  const std::string& text = "", Limits limits = {}) {
  try {
    parse(body, limits);
    ADD_FAILURE() << "no error for " << body;
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), status) << body << ": " << e.what();
    EXPECT_EQ(e.param(), param) << body << ": " << e.what();
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    const json b = e.body();
    EXPECT_EQ(b["error"]["message"], e.what());
    EXPECT_EQ(b["error"]["param"], param.empty() ? json(nullptr) : json(param));
  }
}

TEST(ApiTest, TextPromptAndDefaults) {
  const CompletionRequest r = parse(R"({"prompt": "Hello, my dog is cute"})");
  ASSERT_EQ(r.prompts.size(), 1u);
  EXPECT_EQ(r.prompts[0], (std::vector<int>{15496, 11, 616, 3290, 318, 13779}));
  EXPECT_EQ(r.prompt_texts[0], "Hello, my dog is cute");
  EXPECT_EQ(r.max_tokens, 16);
  EXPECT_EQ(r.n, 1);
  EXPECT_EQ(r.rule, Rule(Rule::kMedian));  // gpt2's default rule
  EXPECT_FALSE(r.stream);
  EXPECT_EQ(r.logprobs, -1);
}

TEST(ApiTest, PromptForms) {
  EXPECT_EQ(parse(R"({"prompt": [15496, 11]})").prompts,
            (std::vector<std::vector<int>>{{15496, 11}}));
  const CompletionRequest r = parse(R"({"prompt": ["Hello", [11, 616]]})");
  EXPECT_EQ(r.prompts, (std::vector<std::vector<int>>{{15496}, {11, 616}}));
  EXPECT_EQ(r.prompt_texts[1], ", my");
  // An empty text starts after <|endoftext|>, as gpt2 --prompt "" does.
  EXPECT_EQ(parse(R"({"prompt": ""})").prompts[0], std::vector<int>{kEndOfTextToken});
  expect_error(R"({"max_tokens": 3})", 400, "prompt", "required");
  expect_error(R"({"prompt": 5})", 400, "prompt", "not an integer");
  expect_error(R"({"prompt": []})", 400, "prompt", "empty");
  expect_error(R"({"prompt": [[]]})", 400, "prompt", "empty");
  expect_error(R"({"prompt": ["a", 3]})", 400, "prompt");
  expect_error(R"({"prompt": [1, 50257]})", 400, "prompt", "out of range [0, 50257)");
  expect_error(R"({"prompt": [-1]})", 400, "prompt", "out of range");
  expect_error(R"({"prompt": [18446744073709551615]})", 400, "prompt", "out of range");
  Limits few;
  few.max_prompts = 2;
  expect_error(R"({"prompt": ["a", "b", "c"]})", 400, "prompt", "at most 2", few);
}

TEST(ApiTest, LengthsAgainstTheContext) {
  Limits small;
  small.context = 8;
  EXPECT_EQ(parse(R"({"prompt": [1, 2, 3], "max_tokens": 5})", small).max_tokens, 5);
  expect_error(R"({"prompt": [1, 2, 3], "max_tokens": 6})", 400, "max_tokens", "max_tokens <= 5",
               small);
  expect_error(R"({"prompt": [1, 2, 3, 4, 5, 6, 7, 8], "max_tokens": 1})", 413, "prompt", "no room",
               small);
  expect_error(R"({"prompt": "x", "max_tokens": 0})", 400, "max_tokens", "[1, 1024]");
  expect_error(R"({"prompt": "x", "max_tokens": 2.5})", 400, "max_tokens", "an integer");
  expect_error(R"({"prompt": "x", "max_tokens": "8"})", 400, "max_tokens", "a string");
  EXPECT_EQ(parse(R"({"prompt": "x", "max_tokens": 8.0})").max_tokens, 8);
  // A text far longer than the context: refused before it is encoded.
  expect_error(json{{"prompt", std::string(1 << 20, 'a')}}.dump(), 413, "prompt", "bytes long");
}

TEST(ApiTest, Rules) {
  EXPECT_EQ(parse(R"({"prompt": "x", "temperature": 0})").rule, Rule(Rule::kGreedy));
  EXPECT_EQ(parse(R"({"prompt": "x", "rule": "greedy"})").rule, Rule(Rule::kGreedy));
  EXPECT_EQ(parse(R"({"prompt": "x", "rule": "median"})").rule, Rule(Rule::kMedian));
  EXPECT_EQ(
      parse(R"({"prompt": "x", "temperature": 0.8, "top_k": 40, "top_p": 0.95, "seed": 7})").rule,
      Rule::sample(0.8f, 40, 0.95f, 7));
  EXPECT_EQ(parse(R"({"prompt": "x", "rule": "sample-t0.8-k40-p0.95-seed7"})").rule,
            Rule::sample(0.8f, 40, 0.95f, 7));
  EXPECT_EQ(parse(R"({"prompt": "x", "seed": 3})").rule, Rule::sample(1, 0, 1, 3));
  const CompletionRequest r = parse(R"({"prompt": "x", "seed": 3, "n": 3})");
  EXPECT_EQ(r.choice_rule(2), Rule::sample(1, 0, 1, 5));
  EXPECT_EQ(parse(R"({"prompt": "x", "rule": "greedy", "n": 2})").choice_rule(1),
            Rule(Rule::kGreedy));
  expect_error(R"({"prompt": "x", "rule": "beam"})", 400, "rule", "Unknown rule \"beam\"");
  expect_error(R"({"prompt": "x", "rule": "greedy", "temperature": 1})", 400, "rule");
  expect_error(R"({"prompt": "x", "temperature": 3})", 400, "temperature", "[0, 2]");
  expect_error(R"({"prompt": "x", "temperature": -1})", 400, "temperature");
  expect_error(R"({"prompt": "x", "top_p": 0})", 400, "top_p", "> 0");
  expect_error(R"({"prompt": "x", "top_p": 1.5})", 400, "top_p");
  expect_error(R"({"prompt": "x", "top_k": -1})", 400, "top_k");
  expect_error(R"({"prompt": "x", "seed": "7"})", 400, "seed");
}

TEST(ApiTest, OtherFields) {
  const CompletionRequest r = parse(
      R"({"prompt": "x", "n": 2, "stop": ["\n", "end"], "stream": true,
          "stream_options": {"include_usage": true}, "echo": true, "ignore_eos": true,
          "timeout": 2.5, "model": "gpt2", "user": "u", "presence_penalty": 0,
          "frequency_penalty": 0, "best_of": 1, "logit_bias": {}, "suffix": null})");
  EXPECT_EQ(r.n, 2);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "end"}));
  EXPECT_TRUE(r.stream && r.include_usage && r.echo && r.ignore_eos);
  EXPECT_EQ(r.timeout_s, 2.5);
  EXPECT_EQ(parse(R"({"prompt": "x", "stop": "a", "logprobs": 5})").logprobs, 5);
  expect_error(R"({"prompt": "x", "max_token": 3})", 400, "max_token", "Unknown field");
  expect_error(R"({"prompt": "x", "n": 0})", 400, "n");
  expect_error(R"({"prompt": "x", "n": 17})", 400, "n");
  Limits few;
  few.max_sequences = 4;
  expect_error(R"({"prompt": ["a", "b", "c"], "n": 2})", 400, "n", "6 sequences", few);
  expect_error(R"({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]})", 400, "stop", "at most 4");
  expect_error(R"({"prompt": "x", "stop": [""]})", 400, "stop", "empty");
  expect_error(R"({"prompt": "x", "stop": 3})", 400, "stop");
  expect_error(R"({"prompt": "x", "stream": "yes"})", 400, "stream", "a boolean");
  expect_error(R"({"prompt": "x", "stream_options": {"include_usage": true}})", 400,
               "stream_options");
  expect_error(R"({"prompt": "x", "stream": true, "stream_options": {"x": 1}})", 400,
               "stream_options.x");
  expect_error(R"({"prompt": "x", "logprobs": 6})", 400, "logprobs");
  expect_error(R"({"prompt": "x", "logprobs": 1, "echo": true})", 400, "logprobs");
  expect_error(R"({"prompt": "x", "presence_penalty": 0.5})", 400, "presence_penalty");
  expect_error(R"({"prompt": "x", "logit_bias": {"1": 5}})", 400, "logit_bias");
  expect_error(R"({"prompt": "x", "suffix": "y"})", 400, "suffix");
  expect_error(R"({"prompt": "x", "best_of": 3})", 400, "best_of");
  expect_error(R"({"prompt": "x", "timeout": 0})", 400, "timeout");
  expect_error(R"({"prompt": "x", "timeout": 1000})", 400, "timeout", "[0, 300]");
  expect_error(R"({"prompt": "x", "model": 3})", 400, "model");
}

TEST(ApiTest, Bodies) {
  EXPECT_THROW(parse_body("{"), ApiError);
  EXPECT_THROW(parse_body("[1]"), ApiError);
  EXPECT_THROW(parse_body(""), ApiError);
  try {
    parse_body("{\"a\": tru}");
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_STREQ(e.what(), "The request body is not valid JSON.");
  }
  EXPECT_EQ(parse_tokenize(parse_body(R"({"content": "Hello"})")).content, "Hello");
  EXPECT_TRUE(parse_tokenize(parse_body(R"({"content": "a", "with_pieces": true})")).with_pieces);
  EXPECT_THROW(parse_tokenize(parse_body(R"({"content": 1})")), ApiError);
  EXPECT_THROW(parse_tokenize(parse_body(R"({"text": "a"})")), ApiError);
  EXPECT_EQ(parse_detokenize(parse_body(R"({"tokens": [15496, 11]})"), 50257),
            (std::vector<int>{15496, 11}));
  EXPECT_THROW(parse_detokenize(parse_body(R"({"tokens": [50257]})"), 50257), ApiError);
  EXPECT_THROW(parse_detokenize(parse_body(R"({"tokens": "a"})"), 50257), ApiError);
  // Invalid UTF-8 in a reply is written as U+FFFD, not thrown on.
  EXPECT_EQ(dump(json{{"t", std::string("a\xe2\x82")}}), "{\"t\":\"a\xef\xbf\xbd\"}");
}

}  // namespace
}  // namespace gpt2::server
