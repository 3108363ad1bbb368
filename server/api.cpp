#include "server/api.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

namespace gpt2::server {

using nlohmann::json;

ApiError::ApiError(int status, std::string message, std::string param, std::string type,
                   std::string code)
    : std::runtime_error(std::move(message)),
      status_(status),
      param_(std::move(param)),
      type_(std::move(type)),
      code_(std::move(code)) {}

json ApiError::body() const {
  json e = {{"message", what()}, {"type", type_}};
  e["param"] = param_.empty() ? json(nullptr) : json(param_);
  e["code"] = code_.empty() ? json(nullptr) : json(code_);
  return {{"error", e}};
}

std::string dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

json parse_body(std::string_view body) {
  json j = json::parse(body.begin(), body.end(), nullptr, false);
  if (j.is_discarded()) throw ApiError(400, "The request body is not valid JSON.");
  if (!j.is_object()) throw ApiError(400, "The request body must be a JSON object.");
  return j;
}

namespace {

// A name from the request, in a message: JSON-quoted (so one line) and cut short.
std::string quoted(const std::string& name) {
  std::string q = json(name.substr(0, 64)).dump(-1, ' ', false, json::error_handler_t::replace);
  if (name.size() > 64) q += "...";
  return q;
}

std::string type_name(const json& v) {
  return v.is_number_integer() ? "an integer"
         : v.is_number()       ? "a number"
         : v.is_string()       ? "a string"
         : v.is_boolean()      ? "a boolean"
         : v.is_array()        ? "an array"
         : v.is_object()       ? "an object"
                               : "null";
}

[[noreturn]] void wrong_type(const std::string& field, const char* want, const json& v) {
  throw ApiError(400, "'" + field + "' must be " + want + ", not " + type_name(v) + ".", field);
}

// An integer in [lo, hi] (a float with no fraction counts, as JSON has one number type).
long get_int(const json& v, const std::string& field, long lo, long hi) {
  long x = 0;
  if (v.is_number_integer()) {
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > std::uint64_t(hi)) {
      x = std::numeric_limits<long>::max();
    } else {
      x = v.get<long>();
    }
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
             std::floor(v.get<double>()) == v.get<double>() && std::fabs(v.get<double>()) < 1e15) {
    x = long(v.get<double>());
  } else {
    wrong_type(field, "an integer", v);
  }
  if (x < lo || x > hi) {
    throw ApiError(
        400,
        "'" + field + "' is " +
            (x == std::numeric_limits<long>::max() ? std::string("too large") : std::to_string(x)) +
            ": it must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "].",
        field);
  }
  return x;
}

std::string shortest(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", x);
  return buf;
}

double get_number(const json& v, const std::string& field, double lo, double hi) {
  if (!v.is_number()) wrong_type(field, "a number", v);
  const double x = v.get<double>();
  if (!(x >= lo && x <= hi)) {
    throw ApiError(400,
                   "'" + field + "' is " + v.dump() + ": it must be in [" + shortest(lo) + ", " +
                       shortest(hi) + "].",
                   field);
  }
  return x;
}

bool get_bool(const json& v, const std::string& field) {
  if (!v.is_boolean()) wrong_type(field, "a boolean", v);
  return v.get<bool>();
}

bool is_token_list(const json& v) {
  if (!v.is_array() || v.empty()) return false;
  for (const json& x : v) {
    if (!x.is_number_integer()) return false;
  }
  return true;
}

std::vector<int> token_ids(const json& v, const std::string& field, int vocab) {
  std::vector<int> ids;
  ids.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); i++) {
    const json& x = v[i];
    const bool in_range =
        x.is_number_integer() &&
        !(x.is_number_unsigned() && x.get<std::uint64_t>() >= std::uint64_t(vocab)) &&
        x.get<long>() >= 0 && x.get<long>() < vocab;
    if (!in_range) {
      throw ApiError(400,
                     "Token " + x.dump() + " of '" + field + "' is out of range [0, " +
                         std::to_string(vocab) + ").",
                     field);
    }
    ids.push_back(int(x.get<long>()));
  }
  return ids;
}

// The prompts of "prompt": a string, a token list, or a list of either.
void read_prompts(const json& v, const Tokenizer& tok, const Limits& limits, CompletionRequest& r) {
  auto add_text = [&](const std::string& text) {
    // Longer than any context can hold: refused before it is encoded.
    if (text.size() > std::size_t(limits.context) * 128) {
      throw ApiError(413,
                     "The prompt is " + std::to_string(text.size()) +
                         " bytes long: more than the model's context of " +
                         std::to_string(limits.context) + " tokens can hold.",
                     "prompt", "invalid_request_error", "prompt_too_long");
    }
    std::vector<int> ids = tok.encode(text);
    if (ids.empty()) ids = {kEndOfTextToken};  // GPT-2 starts unconditional text after it
    r.prompts.push_back(std::move(ids));
    r.prompt_texts.push_back(text);
  };
  auto add_ids = [&](const json& list) {
    r.prompts.push_back(token_ids(list, "prompt", limits.vocab));
    r.prompt_texts.push_back(tok.decode(r.prompts.back()));
  };
  if (v.is_string()) {
    add_text(v.get<std::string>());
  } else if (is_token_list(v)) {
    add_ids(v);
  } else if (v.is_array() && !v.empty()) {
    if (v.size() > std::size_t(limits.max_prompts)) {
      throw ApiError(400,
                     "'prompt' holds " + std::to_string(v.size()) + " prompts; at most " +
                         std::to_string(limits.max_prompts) + " go in one request.",
                     "prompt");
    }
    for (const json& p : v) {
      if (p.is_string()) {
        add_text(p.get<std::string>());
      } else if (is_token_list(p)) {
        add_ids(p);
      } else {
        throw ApiError(400,
                       "'prompt' must be a string, a list of token ids, or a list of strings or "
                       "of token lists; it holds " +
                           type_name(p) + (p.is_array() && p.empty() ? " that is empty" : "") + ".",
                       "prompt");
      }
    }
  } else {
    throw ApiError(400,
                   "'prompt' must be a string, a list of token ids, or a list of strings or of "
                   "token lists, not " +
                       type_name(v) + (v.is_array() ? " that is empty" : "") + ".",
                   "prompt");
  }
}

}  // namespace

Rule CompletionRequest::choice_rule(int j) const {
  Rule r = rule;
  if (r.kind == Rule::kSample) r.seed += std::uint64_t(j);
  return r;
}

CompletionRequest parse_completion(const json& body, const Tokenizer& tok, const Limits& limits) {
  CompletionRequest r;
  static const std::set<std::string> known = {"prompt",
                                              "max_tokens",
                                              "temperature",
                                              "top_p",
                                              "top_k",
                                              "seed",
                                              "rule",
                                              "n",
                                              "stop",
                                              "stream",
                                              "stream_options",
                                              "echo",
                                              "logprobs",
                                              "ignore_eos",
                                              "timeout",
                                              "model",
                                              "user",
                                              "presence_penalty",
                                              "frequency_penalty",
                                              "best_of",
                                              "logit_bias",
                                              "suffix"};
  for (const auto& [key, value] : body.items()) {
    if (!known.count(key)) {
      throw ApiError(400, "Unknown field " + quoted(key) + ".", key);
    }
  }
  auto has = [&](const char* k) { return body.contains(k) && !body.at(k).is_null(); };
  // The fields that change nothing at their neutral values.
  if (has("model") && !body.at("model").is_string()) wrong_type("model", "a string", body["model"]);
  if (has("model")) r.model = body.at("model").get<std::string>();
  if (has("user") && !body.at("user").is_string()) wrong_type("user", "a string", body["user"]);
  for (const char* k : {"presence_penalty", "frequency_penalty"}) {
    if (has(k) && get_number(body.at(k), k, -2, 2) != 0) {
      throw ApiError(400, std::string("'") + k + "' is not supported: only 0.", k);
    }
  }
  if (has("suffix"))
    throw ApiError(400, "'suffix' is not supported (GPT-2 has no insertion).", "suffix");
  if (has("logit_bias")) {
    if (!body.at("logit_bias").is_object())
      wrong_type("logit_bias", "an object", body["logit_bias"]);
    if (!body.at("logit_bias").empty()) {
      throw ApiError(400, "'logit_bias' is not supported: only {}.", "logit_bias");
    }
  }

  if (!has("prompt")) throw ApiError(400, "'prompt' is required.", "prompt");
  read_prompts(body.at("prompt"), tok, limits, r);

  if (has("max_tokens"))
    r.max_tokens = int(get_int(body.at("max_tokens"), "max_tokens", 1, limits.context));
  if (has("n")) r.n = int(get_int(body.at("n"), "n", 1, limits.max_n));
  if (has("best_of") && get_int(body.at("best_of"), "best_of", 1, limits.max_n) != r.n &&
      body.at("best_of").get<long>() != 1) {
    throw ApiError(400, "'best_of' is not supported: only 1 or n.", "best_of");
  }
  if (long(r.prompts.size()) * r.n > limits.max_sequences) {
    throw ApiError(400,
                   std::to_string(r.prompts.size()) + " prompts x n = " + std::to_string(r.n) +
                       " asks for " + std::to_string(r.prompts.size() * std::size_t(r.n)) +
                       " sequences; at most " + std::to_string(limits.max_sequences) +
                       " go in one request.",
                   "n");
  }
  for (std::size_t i = 0; i < r.prompts.size(); i++) {
    const long len = long(r.prompts[i].size());
    if (len >= limits.context) {
      throw ApiError(413,
                     "The prompt" + (r.prompts.size() > 1 ? " " + std::to_string(i) : "") + " is " +
                         std::to_string(len) + " tokens long; the model's context holds " +
                         std::to_string(limits.context) + ": no room for a new token.",
                     "prompt", "invalid_request_error", "prompt_too_long");
    }
    if (len + r.max_tokens > limits.context) {
      throw ApiError(400,
                     "The prompt" + (r.prompts.size() > 1 ? " " + std::to_string(i) : "") + " is " +
                         std::to_string(len) + " tokens long and 'max_tokens' is " +
                         std::to_string(r.max_tokens) + ": more than the model's context of " +
                         std::to_string(limits.context) +
                         " tokens (max_tokens <= " + std::to_string(limits.context - len) + ").",
                     "max_tokens", "invalid_request_error", "context_length_exceeded");
    }
  }

  // The rule: "rule" (the runtime's names), or OpenAI's sampling fields.
  const bool sampling = has("temperature") || has("top_p") || has("top_k") || has("seed");
  if (has("rule")) {
    if (!body.at("rule").is_string()) wrong_type("rule", "a string", body["rule"]);
    const std::string name = body.at("rule").get<std::string>();
    const std::optional<Rule> rule = name == "sample" ? Rule::sample(1, 0, 1, 0) : parse_rule(name);
    if (!rule) {
      throw ApiError(400,
                     "Unknown rule " + quoted(name) +
                         " (known: median, greedy, sample[-t<T>][-k<K>][-p<P>][-seed<S>]).",
                     "rule");
    }
    if (sampling) {
      throw ApiError(
          400, "'rule' names the sampling settings: leave out temperature, top_p, top_k and seed.",
          "rule");
    }
    r.rule = *rule;
  } else if (sampling) {
    const double t =
        has("temperature") ? get_number(body.at("temperature"), "temperature", 0, 2) : 1;
    const double p = has("top_p") ? get_number(body.at("top_p"), "top_p", 0, 1) : 1;
    const long k = has("top_k") ? get_int(body.at("top_k"), "top_k", 0, limits.vocab) : 0;
    const long seed = has("seed")
                          ? get_int(body.at("seed"), "seed", std::numeric_limits<long>::min(),
                                    std::numeric_limits<long>::max())
                          : 0;
    if (t == 0) {
      r.rule = Rule::kGreedy;  // OpenAI's temperature 0: the most likely token
    } else {
      if (p == 0) throw ApiError(400, "'top_p' must be > 0.", "top_p");
      r.rule = Rule::sample(float(t), int(k), float(p), std::uint64_t(seed));
    }
  }
  if (std::string problem = rule_problem(r.rule); !problem.empty()) {
    throw ApiError(400, "Bad sampling settings: " + problem + ".", "rule");
  }

  if (has("stop")) {
    const json& s = body.at("stop");
    if (s.is_string()) {
      r.stop.push_back(s.get<std::string>());
    } else if (s.is_array()) {
      if (s.size() > limits.max_stop) {
        throw ApiError(400,
                       "'stop' holds " + std::to_string(s.size()) + " strings; at most " +
                           std::to_string(limits.max_stop) + ".",
                       "stop");
      }
      for (const json& x : s) {
        if (!x.is_string()) wrong_type("stop", "a string or a list of strings", s);
        r.stop.push_back(x.get<std::string>());
      }
    } else {
      wrong_type("stop", "a string or a list of strings", s);
    }
    for (const std::string& x : r.stop) {
      if (x.empty()) throw ApiError(400, "A 'stop' string is empty.", "stop");
      if (x.size() > limits.max_stop_bytes) {
        throw ApiError(
            400,
            "A 'stop' string is longer than " + std::to_string(limits.max_stop_bytes) + " bytes.",
            "stop");
      }
    }
  }
  if (has("stream")) r.stream = get_bool(body.at("stream"), "stream");
  if (has("stream_options")) {
    const json& o = body.at("stream_options");
    if (!o.is_object()) wrong_type("stream_options", "an object", o);
    for (const auto& [key, value] : o.items()) {
      if (key != "include_usage") {
        throw ApiError(400, "Unknown field " + quoted("stream_options." + key) + ".",
                       "stream_options." + key);
      }
      r.include_usage = get_bool(value, "stream_options.include_usage");
    }
    if (!r.stream)
      throw ApiError(400, "'stream_options' goes with \"stream\": true.", "stream_options");
  }
  if (has("echo")) r.echo = get_bool(body.at("echo"), "echo");
  if (has("ignore_eos")) r.ignore_eos = get_bool(body.at("ignore_eos"), "ignore_eos");
  if (has("logprobs")) r.logprobs = int(get_int(body.at("logprobs"), "logprobs", 0, 5));
  if (r.echo && r.logprobs >= 0) {
    throw ApiError(400, "'echo' with 'logprobs' is not supported (the prompt's log-probabilities).",
                   "logprobs");
  }
  if (has("timeout")) {
    r.timeout_s = get_number(body.at("timeout"), "timeout", 0, limits.max_timeout_s);
    if (*r.timeout_s <= 0) throw ApiError(400, "'timeout' must be > 0.", "timeout");
  }
  return r;
}

TokenizeRequest parse_tokenize(const json& body) {
  TokenizeRequest r;
  for (const auto& [key, value] : body.items()) {
    if (key != "content" && key != "prompt" && key != "with_pieces" && key != "add_special") {
      throw ApiError(400, "Unknown field " + quoted(key) + ".", key);
    }
  }
  const char* field = body.contains("content") ? "content" : "prompt";
  if (!body.contains(field)) throw ApiError(400, "'content' is required.", "content");
  if (!body.at(field).is_string()) wrong_type(field, "a string", body[field]);
  r.content = body.at(field).get<std::string>();
  if (body.contains("with_pieces")) r.with_pieces = get_bool(body.at("with_pieces"), "with_pieces");
  if (body.contains("add_special") && get_bool(body.at("add_special"), "add_special")) {
    throw ApiError(400, "'add_special' is not supported: GPT-2 adds no special token.",
                   "add_special");
  }
  return r;
}

std::vector<int> parse_detokenize(const json& body, int vocab) {
  for (const auto& [key, value] : body.items()) {
    if (key != "tokens") throw ApiError(400, "Unknown field " + quoted(key) + ".", key);
  }
  if (!body.contains("tokens")) throw ApiError(400, "'tokens' is required.", "tokens");
  const json& t = body.at("tokens");
  if (!t.is_array()) wrong_type("tokens", "a list of token ids", t);
  if (t.size() > 1u << 20) throw ApiError(413, "'tokens' holds more than 2^20 ids.", "tokens");
  return token_ids(t, "tokens", vocab);
}

}  // namespace gpt2::server
