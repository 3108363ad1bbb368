// gpt2-serve's HTTP side: the OpenAI-compatible endpoints over an Engine,
// authentication, bounds and timeouts, and a graceful shutdown, on the
// event-driven transport of server/http.h (a waiting connection holds no
// thread; /health and /metrics are answered on its loop).
//
//   POST /v1/completions   (server/api.h; "stream": server-sent events)
//   GET  /v1/models
//   GET  /health           503 while loading or shutting down, 200 when ready
//   GET  /metrics          Prometheus text
//   POST /tokenize, POST /detokenize
//   GET|POST /dev/engine   --dev-mode only: the engine's steps, held or free
//   /v1/chat/completions   404: GPT-2 is not a chat model
// Every error is an OpenAI-style error object (server/api.h's ApiError).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "backends/backend.h"
#include "runtime/tokenizer/tokenizer.h"
#include "server/api.h"
#include "server/engine.h"

namespace gpt2::server {

namespace http {
class Server;
}

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (port() says which)
  std::string api_key;  // empty: no authentication
  std::size_t max_body_bytes = 1 << 20;
  int read_timeout_s = 10;         // a whole request, headers and body, from its first byte
  int write_timeout_s = 10;        // a reply the client stops reading
  int max_connections = 10000;     // open at once; past it: 503 + Retry-After
  int max_connections_per_client = 0;  // open from one address; 0: no cap
  double request_timeout_s = 300;  // a completion's deadline, queueing included
  int http_threads = 0;            // 0: max_batch + max_queue + 8
  bool log = false;                // one line per request on stderr
  bool dev_mode = false;           // GET/POST /dev/engine: hold the engine's steps (tests)
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds (/health answers 503 from then on). Throws std::runtime_error with
  // one line when the address cannot be bound.
  void bind();
  int port() const { return port_; }
  // Serves until shutdown(); returns once every request has been answered.
  void listen();
  // Ready: the model and its engine (the backend, tokenizer and engine outlive
  // the server's listen()).
  void ready(const Backend& backend, const Tokenizer& tokenizer, Engine& engine,
             std::string model_name, Limits limits);
  // Refuses new completions (503), waits for those in flight, then ends
  // listen(). Safe from any thread; a second call does nothing more.
  void shutdown();

 private:
  void routes();
  bool authorized(const std::string& header) const;

  const ServerOptions options_;
  std::unique_ptr<http::Server> http_;
  int port_ = 0;
  std::atomic<bool> ready_{false}, draining_{false};
  const Backend* backend_ = nullptr;
  const Tokenizer* tokenizer_ = nullptr;
  Engine* engine_ = nullptr;
  std::string model_name_;
  Limits limits_;
  long created_ = 0;
  std::atomic<long> next_id_{0};
  std::atomic<int> active_{0};  // completion handlers running
  std::once_flag shutdown_once_;
};

// Constant-time equality of two secrets (their lengths may differ).
bool same_secret(const std::string& a, const std::string& b);

}  // namespace gpt2::server
