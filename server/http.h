// gpt2-serve's HTTP/1.1 transport: one event loop (epoll) reads and writes
// every connection, and a pool of threads runs the handlers of complete
// requests only. A connection waiting for bytes, or a kept-alive one between
// requests, holds a few kB of buffers and no thread, so clients that send
// slowly (or nothing) cannot take the threads others need.
//
//   http::Server s(limits);
//   s.get("/health", handler, http::Run::kOnLoop);   // cheap: answered on the loop
//   s.post("/v1/completions", handler);             // on a pool thread
//   s.bind("127.0.0.1", 0);  s.listen();            // until s.stop()
//
// Requests and replies are cpp-httplib's Request and Response (the handlers'
// types, chunked content providers included); the parsing, the limits and
// the I/O are this file's:
// - a whole request (its headers and body) within read_timeout_s, counted from
//   its first byte (from the accept for a new connection): a trickle of bytes
//   does not renew it; past it a started request gets 408 and the connection
//   is closed (counted), an idle kept-alive one is closed after keep_alive_s;
// - at most max_connections open, and max_connections_per_client from one
//   address (0: no cap): past either, a new connection gets 503 with
//   Retry-After and is closed (counted);
// - headers larger than max_header_bytes: 431; a body larger than
//   max_body_bytes: 413; a chunked request body: 411; a malformed request: 400;
// - a reply the client stops reading: its writer waits at most
//   write_timeout_s for room (a stream's sink.write then returns false), and
//   the loop closes a connection whose reply made no progress for as long.
#pragma once

#include <httplib.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace gpt2::server::http {

using Request = httplib::Request;
using Response = httplib::Response;
using Handler = std::function<void(const Request&, Response&)>;

struct Limits {
  int threads = 64;                    // handlers running at once
  int max_connections = 10000;         // open at once
  int max_connections_per_client = 0;  // open from one client address; 0: no cap
  int read_timeout_s = 10;             // a whole request, headers and body
  int write_timeout_s = 10;            // a reply's writes making no progress
  int keep_alive_s = 5;                // an idle kept-alive connection
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_body_bytes = 1 << 20;
};

// What /metrics shows of the transport.
struct Counters {
  long open = 0;            // connections open now
  long accepted = 0;        // connections accepted, ever
  long refused = 0;         // connections refused at a cap (503)
  long deadline_cut = 0;    // requests cut by the read deadline (408)
  long write_timeouts = 0;  // replies dropped because the client stopped reading
};

enum class Run { kOnPool, kOnLoop };

class Server {
 public:
  explicit Server(Limits limits);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void get(const std::string& path, Handler h, Run where = Run::kOnPool);
  void post(const std::string& path, Handler h, Run where = Run::kOnPool);
  // Before routing; true: answered (no route runs).
  void set_pre_routing(std::function<bool(const Request&, Response&)> f);
  // An error reply whose body is empty (404, 400, 408, 411, 413, 431): fill it.
  void set_error_handler(Handler h);
  void set_exception_handler(std::function<void(const Request&, Response&, std::exception_ptr)> f);
  void set_logger(Handler h);  // after each reply

  // Binds host:port (0: any free port) and listens; returns the port. Throws
  // std::runtime_error with one line when it cannot.
  int bind(const std::string& host, int port);
  // Serves until stop(); returns once the loop and every handler have ended.
  void listen();
  // Ends listen(): no new connection is accepted, those waiting for a request
  // are closed, replies being written are finished (for at most
  // write_timeout_s + 1 s), then every handler's writes fail. Safe from any
  // thread, before or during listen().
  void stop();

  Counters counters() const;
  const Limits& limits() const { return limits_; }

  struct Conn;  // one connection (http.cpp)

 private:
  struct Route {
    Handler handler;
    Run where;
  };
  void loop();
  void accept_all();
  void on_readable(const std::shared_ptr<Conn>& c);
  void try_request(const std::shared_ptr<Conn>& c);
  void flush(const std::shared_ptr<Conn>& c);
  void close_conn(const std::shared_ptr<Conn>& c);
  void check_deadlines();
  void update_interest(Conn& c);
  void fail(const std::shared_ptr<Conn>& c, int status, Request req);
  void handle(const std::shared_ptr<Conn>& c, Request req, const Route* route);
  void wake(const std::shared_ptr<Conn>& c);
  void worker();

  const Limits limits_;
  std::map<std::string, Route> get_, post_;
  std::function<bool(const Request&, Response&)> pre_routing_;
  Handler error_handler_, logger_;
  std::function<void(const Request&, Response&, std::exception_ptr)> exception_handler_;

  int listen_fd_ = -1, epoll_fd_ = -1, wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  // The loop thread's own.
  std::unordered_map<int, std::shared_ptr<Conn>> conns_;
  std::unordered_map<std::string, int> per_client_;
  // Connections a handler wrote to (the loop flushes them).
  std::mutex dirty_mutex_;
  std::vector<std::shared_ptr<Conn>> dirty_;
  // The pool's queue of complete requests.
  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::deque<std::function<void()>> queue_;
  std::vector<std::thread> workers_;

  std::atomic<long> open_{0}, accepted_{0}, refused_{0}, deadline_cut_{0}, write_timeouts_{0};
};

}  // namespace gpt2::server::http
