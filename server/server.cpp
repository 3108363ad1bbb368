#include "server/server.h"

#include "server/http.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

namespace gpt2::server {

using nlohmann::json;

bool same_secret(const std::string& a, const std::string& b) {
  const std::size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < n; i++) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

namespace {

using http::Request;
using http::Response;

void reply(Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(dump(body) + "\n", "application/json");
}

void reply_error(Response& res, const ApiError& e) {
  if (e.status() == 429 || e.status() == 503) res.set_header("Retry-After", "1");
  reply(res, e.status(), e.body());
}

const char* status_type(int status) {
  return status == 401   ? "authentication_error"
         : status == 404 ? "not_found_error"
         : status == 429 ? "rate_limit_error"
         : status >= 500 ? "server_error"
                         : "invalid_request_error";
}

// What a choice has so far.
struct Choice {
  std::string text;
  std::vector<int> tokens;
  json token_strings = json::array(), token_logprobs = json::array(), top_logprobs = json::array(),
       text_offset = json::array();
  std::string finish;
};

json top_object(const Tokenizer& tok, const std::vector<std::pair<int, float>>& top) {
  json o = json::object();
  for (const auto& [id, lp] : top) o[std::string(tok.token_bytes(id))] = lp;
  return o;
}

// A piece's log-probabilities as OpenAI's completions write them.
json piece_logprobs(const Tokenizer& tok, const Piece& p, std::size_t offset) {
  return {{"tokens", {std::string(tok.token_bytes(p.token))}},
          {"token_logprobs", {p.logprob}},
          {"top_logprobs", {top_object(tok, p.top)}},
          {"text_offset", {offset}}};
}

// Adds a piece to its choice.
void add_piece(const Tokenizer& tok, bool logprobs, Choice& c, const Piece& p) {
  if (p.token >= 0) {
    c.tokens.push_back(p.token);
    if (logprobs) {
      c.token_strings.push_back(std::string(tok.token_bytes(p.token)));
      c.token_logprobs.push_back(p.logprob);
      c.top_logprobs.push_back(top_object(tok, p.top));
      c.text_offset.push_back(c.text.size());
    }
  }
  c.text += p.text;
  if (!p.finish.empty()) c.finish = p.finish;
}

json usage(const CompletionRequest& r, long completion_tokens) {
  long prompt = 0;
  for (const auto& p : r.prompts) prompt += long(p.size());
  return {{"prompt_tokens", prompt},
          {"completion_tokens", completion_tokens},
          {"total_tokens", prompt + completion_tokens}};
}

// The transport's part of /metrics (server/http.h's Counters).
std::string transport_metrics(const http::Counters& c) {
  std::string out;
  auto metric = [&out](const char* name, const char* type, const char* help,
                       const std::string& samples) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           samples;
  };
  const std::string open = std::to_string(c.open), accepted = std::to_string(c.accepted),
                    refused = std::to_string(c.refused);
  metric("gpt2_http_open_connections", "gauge", "HTTP connections open now.",
         "gpt2_http_open_connections " + open + "\n");
  metric("gpt2_http_connections_accepted_total", "counter", "HTTP connections accepted.",
         "gpt2_http_connections_accepted_total " + accepted + "\n");
  metric("gpt2_http_connections_refused_total", "counter",
         "Connections refused at --max-connections or --max-connections-per-client (503).",
         "gpt2_http_connections_refused_total " + refused + "\n");
  metric("gpt2_http_requests_cut_total", "counter",
         "Requests cut: not whole within --read-timeout (408), or a reply the client stopped "
         "reading for --write-timeout.",
         "gpt2_http_requests_cut_total{reason=\"read_deadline\"} " +
             std::to_string(c.deadline_cut) +
             "\ngpt2_http_requests_cut_total{reason=\"write_timeout\"} " +
             std::to_string(c.write_timeouts) + "\n");
  return out;
}

// Counts the completion handlers running (shutdown waits for them).
struct Active {
  std::atomic<int>& n;
  explicit Active(std::atomic<int>& c) : n(c) { n++; }
  ~Active() { n--; }
};

}  // namespace

namespace {
http::Limits transport_limits(const ServerOptions& o) {
  http::Limits l;
  l.threads = o.http_threads > 0 ? o.http_threads : 64;
  l.max_connections = o.max_connections;
  l.max_connections_per_client = o.max_connections_per_client;
  l.read_timeout_s = o.read_timeout_s;
  l.write_timeout_s = o.write_timeout_s;
  l.keep_alive_s = std::min(5, o.read_timeout_s);
  l.max_body_bytes = o.max_body_bytes;
  return l;
}
}  // namespace

HttpServer::HttpServer(ServerOptions options)
    : options_(std::move(options)),
      http_(std::make_unique<http::Server>(transport_limits(options_))) {
  created_ = long(std::time(nullptr));
  routes();
}

HttpServer::~HttpServer() = default;

void HttpServer::bind() { port_ = http_->bind(options_.host, options_.port); }

void HttpServer::listen() {
  http_->listen();
}

void HttpServer::ready(const Backend& backend, const Tokenizer& tokenizer, Engine& engine,
                       std::string model_name, Limits limits) {
  backend_ = &backend;
  tokenizer_ = &tokenizer;
  engine_ = &engine;
  model_name_ = std::move(model_name);
  limits_ = limits;
  ready_ = true;
}

void HttpServer::shutdown() {
  std::call_once(shutdown_once_, [this] {
    draining_ = true;
    if (engine_ != nullptr) engine_->drain();
    // The handlers still writing their last bytes.
    for (int i = 0; i < 100 * 60 && active_.load() > 0; i++) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    http_->stop();
  });
}

bool HttpServer::authorized(const std::string& header) const {
  return same_secret(header, "Bearer " + options_.api_key);
}

void HttpServer::routes() {
  http::Server& s = *http_;

  s.set_pre_routing([this](const Request& req, Response& res) {
    if (!options_.api_key.empty() && req.path != "/health" &&
        !authorized(req.get_header_value("Authorization"))) {
      res.set_header("WWW-Authenticate", "Bearer");
      reply_error(res, ApiError(401, "A valid API key is required: Authorization: Bearer <key>.",
                                {}, "authentication_error", "invalid_api_key"));
      return true;
    }
    return false;
  });
  s.set_error_handler([this](const Request& req, Response& res) {
    if (!res.body.empty()) return;
    std::string message;
    if (res.status == 404) {
      message = "No such endpoint: " + req.method + " " + req.path + ".";
    } else if (res.status == 413) {
      message = "The request body is larger than " + std::to_string(options_.max_body_bytes) +
                " bytes (--max-body).";
    } else if (res.status == 400) {
      message = "Malformed HTTP request.";
    } else if (res.status == 408) {
      message = "The request did not arrive whole within " +
                std::to_string(options_.read_timeout_s) + " s (--read-timeout).";
    } else if (res.status == 411) {
      message = "A request body needs a Content-Length (chunked bodies are not accepted).";
    } else if (res.status == 431) {
      message = "The request's headers are too large.";
    } else {
      message = "HTTP " + std::to_string(res.status) + ".";
    }
    reply(res, res.status, ApiError(res.status, message, {}, status_type(res.status)).body());
  });
  s.set_exception_handler([](const Request&, Response& res, std::exception_ptr ep) {
    std::string what = "internal error";
    try {
      if (ep) std::rethrow_exception(ep);
    } catch (const std::exception& e) {
      what = e.what();
    } catch (...) {
    }
    reply_error(res, ApiError(500, "Internal error: " + what + ".", {}, "server_error"));
  });
  s.set_logger([this](const Request& req, const Response& res) {
    static const char* known[] = {"/v1/completions", "/v1/models", "/health",
                                  "/metrics",        "/tokenize",  "/detokenize"};
    std::string endpoint = "other";
    for (const char* k : known) {
      if (req.path == k) endpoint = k;
    }
    if (engine_ != nullptr) engine_->metrics().request(endpoint, res.status);
    if (options_.log) {
      std::fprintf(stderr, "gpt2-serve: %s %s %d\n", req.method.c_str(), req.path.c_str(),
                   res.status);
    }
  });

  // Not ready, or shutting down: the one answer of every endpoint but /health.
  auto unavailable = [this](Response& res) {
    if (!ready_) {
      reply_error(res, ApiError(503, "The model is loading.", {}, "server_error", "loading"));
      return true;
    }
    if (draining_) {
      reply_error(
          res, ApiError(503, "The server is shutting down.", {}, "server_error", "shutting_down"));
      return true;
    }
    return false;
  };

  // /health and /metrics on the transport's loop: answered whatever the
  // pool's threads are doing.
  s.get(
      "/health",
      [this](const Request&, Response& res) {
        if (!ready_) return reply(res, 503, {{"status", "loading"}});
        if (draining_) return reply(res, 503, {{"status", "shutting down"}});
        reply(res, 200, {{"status", "ok"}});
      },
      http::Run::kOnLoop);

  s.get("/v1/models", [this, unavailable](const Request&, Response& res) {
    if (unavailable(res)) return;
    const BackendInfo& info = backend_->info();
    json model = {{"id", model_name_},
                  {"object", "model"},
                  {"created", created_},
                  {"owned_by", "gpt2-bench"},
                  {"meta",
                   {{"backend", info.name},
                    {"numerics", numerics_name(info.numerics)},
                    {"precision", precision_name(info.precision)},
                    {"threads", info.threads},
                    {"context", limits_.context},
                    {"vocab", limits_.vocab},
                    {"max_batch", engine_->options().max_batch}}}};
    reply(res, 200, {{"object", "list"}, {"data", {model}}});
  });

  s.get(
      "/metrics",
      [this, unavailable](const Request&, Response& res) {
        if (!ready_) return (void)unavailable(res);
        res.set_content(engine_->prometheus() + transport_metrics(http_->counters()),
                        "text/plain; version=0.0.4");
      },
      http::Run::kOnLoop);

  s.post("/tokenize", [this, unavailable](const Request& req, Response& res) {
    if (unavailable(res)) return;
    try {
      const TokenizeRequest t = parse_tokenize(parse_body(req.body));
      const std::vector<int> ids = tokenizer_->encode(t.content);
      json tokens = json::array();
      for (int id : ids) {
        if (t.with_pieces) {
          tokens.push_back({{"id", id}, {"piece", std::string(tokenizer_->token_bytes(id))}});
        } else {
          tokens.push_back(id);
        }
      }
      reply(res, 200, {{"tokens", tokens}});
    } catch (const ApiError& e) {
      reply_error(res, e);
    }
  });

  s.post("/detokenize", [this, unavailable](const Request& req, Response& res) {
    if (unavailable(res)) return;
    try {
      const std::vector<int> ids = parse_detokenize(parse_body(req.body), limits_.vocab);
      reply(res, 200, {{"content", tokenizer_->decode(ids)}});
    } catch (const ApiError& e) {
      reply_error(res, e);
    }
  });

  // --dev-mode: the engine's stepping, for tests and debugging (Engine::hold_after).
  if (options_.dev_mode) {
    auto state = [this] {
      const Engine::Stepping st = engine_->stepping();
      return json{{"steps", st.steps},
                  {"hold_after_steps", st.hold_after ? json(*st.hold_after) : json(nullptr)}};
    };
    s.get("/dev/engine", [this, state](const Request&, Response& res) {
      if (!ready_)
        return (void)reply_error(
            res, ApiError(503, "The model is loading.", {}, "server_error", "loading"));
      reply(res, 200, state());
    });
    s.post("/dev/engine", [this, state](const Request& req, Response& res) {
      if (!ready_)
        return (void)reply_error(
            res, ApiError(503, "The model is loading.", {}, "server_error", "loading"));
      const json body = json::parse(req.body, nullptr, false);
      const json* h = body.is_object() && body.contains("hold_after_steps")
                          ? &body["hold_after_steps"]
                          : nullptr;
      if (h == nullptr || !(h->is_null() || (h->is_number_integer() && h->get<long>() >= 0))) {
        return reply_error(res, ApiError(400,
                                         "Expected {\"hold_after_steps\": N} (N >= 0: N more "
                                         "steps, then hold) or null (run freely).",
                                         "hold_after_steps"));
      }
      engine_->hold_after(h->is_null() ? std::nullopt : std::optional<long>(h->get<long>()));
      reply(res, 200, state());
    });
  }

  for (const char* path : {"/v1/chat/completions", "/chat/completions"}) {
    s.post(path, [](const Request&, Response& res) {
      reply_error(res, ApiError(404,
                                "GPT-2 is not a chat model: it has no chat template. Use "
                                "/v1/completions with a prompt.",
                                {}, "not_found_error", "chat_not_supported"));
    });
  }

  s.post("/v1/completions", [this, unavailable](const Request& req, Response& res) {
    if (unavailable(res)) return;
    auto active = std::make_shared<Active>(active_);
    std::shared_ptr<Job> job;
    try {
      job = engine_->submit(parse_completion(parse_body(req.body), *tokenizer_, limits_));
    } catch (const ApiError& e) {
      return reply_error(res, e);
    }
    const CompletionRequest& r = job->request();
    const double timeout =
        std::min(r.timeout_s.value_or(options_.request_timeout_s), options_.request_timeout_s);
    const Clock::time_point deadline =
        job->submitted() +
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(timeout));
    const std::string id = "cmpl-" + std::to_string(created_) + "-" + std::to_string(next_id_++);
    const int choices = job->sequences();
    const bool logprobs = r.logprobs >= 0;
    const ApiError late(504,
                        "The request ran past its deadline of " + json(timeout).dump() +
                            " s (timeout, --request-timeout).",
                        {}, "timeout_error", "timeout");
    auto base = [this, id] {
      return json{{"id", id},
                  {"object", "text_completion"},
                  {"created", long(std::time(nullptr))},
                  {"model", model_name_}};
    };

    if (!r.stream) {
      std::vector<Choice> out(static_cast<std::size_t>(choices));
      for (std::size_t c = 0; c < out.size(); c++) {
        if (r.echo) out[c].text = r.prompt_texts[c / std::size_t(r.n)];
      }
      std::vector<Piece> pieces;
      bool more = true;
      while (more) {
        pieces.clear();
        more = job->wait(pieces, deadline);
        for (const Piece& p : pieces) add_piece(*tokenizer_, logprobs, out[p.choice], p);
        if (more && Clock::now() >= deadline) {
          engine_->cancel(job, CancelReason::kDeadline);
          return reply_error(res, late);
        }
      }
      if (const std::optional<ApiError> e = job->error()) return reply_error(res, *e);
      json body = base();
      body["choices"] = json::array();
      long generated = 0;
      for (std::size_t c = 0; c < out.size(); c++) {
        Choice& ch = out[c];
        generated += long(ch.tokens.size());
        json lp = nullptr;
        if (logprobs) {
          lp = {{"tokens", ch.token_strings},
                {"token_logprobs", ch.token_logprobs},
                {"top_logprobs", ch.top_logprobs},
                {"text_offset", ch.text_offset}};
        }
        body["choices"].push_back({{"index", c},
                                   {"text", ch.text},
                                   {"tokens", ch.tokens},
                                   {"logprobs", lp},
                                   {"finish_reason", ch.finish}});
      }
      body["usage"] = usage(r, generated);
      return reply(res, 200, body);
    }

    // Server-sent events: a chunk per token, then (include_usage) the usage, then [DONE].
    struct Stream {
      bool echoed = false;
      long generated = 0;
      std::vector<std::size_t> text_bytes;
    };
    auto st = std::make_shared<Stream>();
    st->text_bytes.assign(std::size_t(choices), 0);
    res.set_header("Cache-Control", "no-cache");
    res.set_header("X-Accel-Buffering", "no");
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, job, st, base, late, deadline, logprobs, active](std::size_t,
                                                                httplib::DataSink& sink) {
          const CompletionRequest& r = job->request();
          auto send = [&](const json& j) {
            const std::string event = "data: " + dump(j) + "\n\n";
            return sink.write(event.data(), event.size());
          };
          if (!st->echoed) {
            st->echoed = true;
            if (r.echo) {
              for (int c = 0; c < job->sequences(); c++) {
                json chunk = base();
                const std::string& text = r.prompt_texts[std::size_t(c / r.n)];
                st->text_bytes[std::size_t(c)] = text.size();
                chunk["choices"] = {{{"index", c},
                                     {"text", text},
                                     {"logprobs", nullptr},
                                     {"finish_reason", nullptr}}};
                if (!send(chunk)) return engine_->cancel(job, CancelReason::kClientGone), false;
              }
            }
          }
          std::vector<Piece> pieces;
          // At most a second between writes: a client gone is seen by then.
          const Clock::time_point until =
              std::min(deadline, Clock::now() + std::chrono::seconds(1));
          const bool more = job->wait(pieces, until);
          for (const Piece& p : pieces) {
            json chunk = base();
            std::size_t& offset = st->text_bytes[std::size_t(p.choice)];
            chunk["choices"] = {
                {{"index", p.choice},
                 {"text", p.text},
                 {"tokens", {p.token}},
                 {"logprobs", logprobs ? piece_logprobs(*tokenizer_, p, offset) : json(nullptr)},
                 {"finish_reason", p.finish.empty() ? json(nullptr) : json(p.finish)}}};
            offset += p.text.size();
            st->generated++;
            if (!send(chunk)) return engine_->cancel(job, CancelReason::kClientGone), false;
          }
          if (more) {
            if (Clock::now() >= deadline) {
              engine_->cancel(job, CancelReason::kDeadline);
              send(late.body());
            } else {
              if (pieces.empty()) {
                static const char ping[] = ": waiting\n\n";
                if (!sink.write(ping, sizeof ping - 1))
                  return engine_->cancel(job, CancelReason::kClientGone), false;
              }
              return true;
            }
          } else if (const std::optional<ApiError> e = job->error()) {
            send(e->body());
          } else if (r.include_usage) {
            json chunk = base();
            chunk["choices"] = json::array();
            chunk["usage"] = usage(r, st->generated);
            send(chunk);
          }
          static const char done[] = "data: [DONE]\n\n";
          sink.write(done, sizeof done - 1);
          sink.done();
          return true;
        },
        [this, job](bool success) {
          if (!success) engine_->cancel(job, CancelReason::kClientGone);
        });
  });
}

}  // namespace gpt2::server
