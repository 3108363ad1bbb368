#include "server/http.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace gpt2::server::http {

using Clock = std::chrono::steady_clock;

// One connection. The loop thread owns the fd and the fields above the
// mutex; a handler thread shares the reply's buffer below it.
struct Server::Conn {
  int fd = -1;
  std::string peer;
  int peer_port = 0;
  enum class State { kReading, kHandling, kClosing } state = State::kReading;
  std::string in;                // bytes read, not yet a whole request
  bool started = false;          // a byte of the current request arrived
  bool continue_sent = false;    // "100 Continue" for this request
  bool closed = false;           // the loop closed the fd
  bool peer_done = false;        // the peer sent its last byte (a FIN)
  Clock::time_point deadline{};  // reading: the request's (or the idle) deadline
  std::uint32_t interest = 0;    // the epoll events asked for

  std::mutex m;
  std::condition_variable room;  // the reply's buffer drained, or the peer gone
  std::string out;               // the reply's bytes not yet written
  std::size_t out_sent = 0;
  bool reply_done = false;       // the handler wrote its last byte
  bool keep_alive = false;       // after this reply: read the next request
  bool gone = false;             // the peer closed, or the write deadline passed
  Clock::time_point progress{};  // the last write that made progress
};

namespace {

constexpr std::size_t kHighWater = 256 * 1024;  // a stream's writer waits past this
constexpr std::size_t kPipelined = 64 * 1024;   // bytes read while a request is handled

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : status < 500 ? "Bad Request" : "Server Error";
  }
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); i++) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

bool has_token(std::string_view list, std::string_view token) {  // "close", "keep-alive"
  std::size_t i = 0;
  while (i <= list.size()) {
    std::size_t j = list.find(',', i);
    if (j == std::string_view::npos) j = list.size();
    std::string_view t = list.substr(i, j - i);
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.remove_suffix(1);
    if (iequals(t, token)) return true;
    i = j + 1;
  }
  return false;
}

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

// The status line and headers of a reply.
std::string head(const Response& res, bool keep_alive) {
  std::string h = "HTTP/1.1 " + std::to_string(res.status) + " " + reason(res.status) + "\r\n";
  for (const auto& [k, v] : res.headers) {
    if (iequals(k, "Content-Length") || iequals(k, "Connection") ||
        iequals(k, "Transfer-Encoding"))
      continue;
    h += k + ": " + v + "\r\n";
  }
  h += keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n";
  return h;
}

// The 503 a connection past a cap gets, whole, before it is closed.
const std::string& busy_reply() {
  static const std::string body =
      "{\"error\":{\"message\":\"Too many open connections: try again later.\",\"type\":"
      "\"server_error\",\"param\":null,\"code\":\"too_many_connections\"}}\n";
  static const std::string reply =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: "
      "1\r\nConnection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  return reply;
}

// A reply started by a route that then threw: emptied, its stream's resources
// released as a failed stream's.
void reset(Response& res) {
  if (res.content_provider_resource_releaser_) res.content_provider_resource_releaser_(false);
  res.content_provider_resource_releaser_ = nullptr;
  res.content_provider_ = nullptr;
  res.is_chunked_content_provider_ = false;
  res.headers.clear();
  res.body.clear();
  res.status = -1;
}

}  // namespace

Server::Server(Limits limits) : limits_(limits) {}

Server::~Server() {
  stop();
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  for (auto& [fd, c] : conns_) ::close(fd);
  if (listen_fd_ >= 0) ::close(listen_fd_);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void Server::get(const std::string& path, Handler h, Run where) {
  get_[path] = Route{std::move(h), where};
}
void Server::post(const std::string& path, Handler h, Run where) {
  post_[path] = Route{std::move(h), where};
}
void Server::set_pre_routing(std::function<bool(const Request&, Response&)> f) {
  pre_routing_ = std::move(f);
}
void Server::set_error_handler(Handler h) { error_handler_ = std::move(h); }
void Server::set_exception_handler(
    std::function<void(const Request&, Response&, std::exception_ptr)> f) {
  exception_handler_ = std::move(f);
}
void Server::set_logger(Handler h) { logger_ = std::move(h); }

Counters Server::counters() const {
  return Counters{open_.load(), accepted_.load(), refused_.load(), deadline_cut_.load(),
                  write_timeouts_.load()};
}

int Server::bind(const std::string& host, int port) {
  const std::string where = host + ":" + std::to_string(port);
  addrinfo hints{}, *found = nullptr;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  if (::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found) != 0 || !found) {
    throw std::runtime_error("Cannot listen on " + where + " (not an address of this machine).");
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (::bind(fd, a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd, 4096) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0) {
    throw std::runtime_error("Cannot listen on " + where +
                             " (in use, not this machine's address, or not allowed).");
  }
  set_nonblocking(fd);
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  listen_fd_ = fd;
  return addr.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                                    : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
}

void Server::stop() {
  stopping_ = true;
  if (wake_fd_ >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
  }
  queue_cv_.notify_all();
}

void Server::listen() {
  if (listen_fd_ < 0) throw std::logic_error("http::Server::listen before bind");
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (epoll_fd_ < 0 || wake_fd_ < 0) throw std::runtime_error("Cannot start the event loop.");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, listen_fd_, &ev);
  ev.data.fd = wake_fd_;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  for (int i = 0; i < std::max(1, limits_.threads); i++) workers_.emplace_back([this] { worker(); });
  loop();
  // Every connection left closed: a handler's writes now fail, and it ends.
  std::vector<std::shared_ptr<Conn>> all;
  for (auto& [fd, c] : conns_) all.push_back(c);
  for (auto& c : all) close_conn(c);
  queue_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void Server::worker() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock<std::mutex> lock(queue_mutex_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void Server::loop() {
  std::vector<epoll_event> events(512);
  Clock::time_point last_check = Clock::now();
  bool draining = false;
  Clock::time_point drain_until{};
  for (;;) {
    // Stopping: no new connection; those waiting for a request are closed, and
    // the replies still being written are finished first (for at most the
    // write timeout), so that a request answered before stop() is received.
    if (stopping_) {
      if (!draining) {
        draining = true;
        drain_until = Clock::now() + std::chrono::seconds(limits_.write_timeout_s + 1);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, listen_fd_, nullptr);
      }
      std::vector<std::shared_ptr<Conn>> idle;
      for (auto& [fd, c] : conns_) {
        if (c->state != Conn::State::kHandling) idle.push_back(c);
      }
      for (auto& c : idle) close_conn(c);
      if (conns_.empty() || Clock::now() >= drain_until) break;
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), int(events.size()), 100);
    for (int i = 0; i < n; i++) {
      const int fd = events[std::size_t(i)].data.fd;
      const std::uint32_t e = events[std::size_t(i)].events;
      if (fd == listen_fd_) {
        accept_all();
        continue;
      }
      if (fd == wake_fd_) {
        std::uint64_t count;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &count, sizeof count);
        std::vector<std::shared_ptr<Conn>> dirty;
        {
          std::lock_guard<std::mutex> lock(dirty_mutex_);
          dirty.swap(dirty_);
        }
        for (auto& c : dirty) {
          if (!c->closed) flush(c);
        }
        continue;
      }
      auto it = conns_.find(fd);
      if (it == conns_.end()) continue;
      std::shared_ptr<Conn> c = it->second;
      if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
      if (!c->closed && (e & EPOLLOUT)) flush(c);
    }
    if (Clock::now() - last_check >= std::chrono::milliseconds(100)) {
      last_check = Clock::now();
      check_deadlines();
    }
  }
}

void Server::accept_all() {
  for (;;) {
    sockaddr_storage addr{};
    socklen_t len = sizeof addr;
    const int fd = ::accept4(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;  // EAGAIN, or out of files (the backlog keeps them)
    char host[INET6_ADDRSTRLEN] = "";
    int port = 0;
    if (addr.ss_family == AF_INET6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
      port = ntohs(a->sin6_port);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
      port = ntohs(a->sin_port);
    }
    accepted_++;
    int& from_client = per_client_[host];
    if (long(conns_.size()) >= limits_.max_connections ||
        (limits_.max_connections_per_client > 0 &&
         from_client >= limits_.max_connections_per_client)) {
      // Read what already arrived, so that the close is a FIN after the 503
      // rather than a reset that could discard it.
      char sink[4096];
      while (::recv(fd, sink, sizeof sink, 0) > 0) {
      }
      [[maybe_unused]] ssize_t w =
          ::send(fd, busy_reply().data(), busy_reply().size(), MSG_NOSIGNAL);
      ::close(fd);
      if (from_client == 0) per_client_.erase(host);
      refused_++;
      continue;
    }
    from_client++;
    const int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    auto c = std::make_shared<Conn>();
    c->fd = fd;
    c->peer = host;
    c->peer_port = port;
    c->deadline = Clock::now() + std::chrono::seconds(limits_.read_timeout_s);
    conns_[fd] = c;
    open_++;
    epoll_event ev{};
    ev.events = c->interest = EPOLLIN | EPOLLRDHUP;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
}

void Server::update_interest(Conn& c) {
  std::uint32_t want = 0;
  if (!c.peer_done) {
    want |= EPOLLRDHUP;
    if (c.state != Conn::State::kHandling || c.in.size() < kPipelined) want |= EPOLLIN;
  }
  {
    std::lock_guard<std::mutex> lock(c.m);
    if (c.out_sent < c.out.size()) want |= EPOLLOUT;
  }
  if (want == c.interest) return;
  c.interest = want;
  epoll_event ev{};
  ev.events = want;
  ev.data.fd = c.fd;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Server::on_readable(const std::shared_ptr<Conn>& c) {
  char buf[16384];
  bool eof = false;
  for (;;) {
    if (c->state == Conn::State::kHandling && c->in.size() >= kPipelined) break;
    const ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
    if (n > 0) {
      if (c->state == Conn::State::kClosing) continue;  // discarded
      if (!c->started && c->state == Conn::State::kReading) {
        c->started = true;  // the request's whole deadline starts at its first byte
        c->deadline = Clock::now() + std::chrono::seconds(limits_.read_timeout_s);
      }
      c->in.append(buf, std::size_t(n));
      continue;
    }
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) eof = true;
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  if (eof) {
    // A request whole before the FIN (a client that half-closes) is answered,
    // and the connection closed after it; a peer gone while its request runs
    // is closed now: the handler's writes fail.
    if (c->state == Conn::State::kReading && !c->peer_done) {
      c->peer_done = true;
      try_request(c);
      if (!c->closed && c->state == Conn::State::kHandling) {
        {
          std::lock_guard<std::mutex> lock(c->m);
          c->keep_alive = false;
        }
        update_interest(*c);
        return;
      }
    }
    return close_conn(c);
  }
  if (c->state == Conn::State::kReading) try_request(c);
  if (!c->closed) update_interest(*c);
}

// The connection's buffered bytes, when they hold a whole request: parsed and
// handed to its route (on the pool, or here).
void Server::try_request(const std::shared_ptr<Conn>& c) {
  const std::size_t end = c->in.find("\r\n\r\n");
  if (end == std::string::npos) {
    if (c->in.size() > limits_.max_header_bytes) fail(c, 431, {});
    return;
  }
  if (end > limits_.max_header_bytes) return fail(c, 431, {});
  Request req;
  std::string_view text(c->in.data(), end);
  std::size_t line_end = text.find("\r\n");
  std::string_view line = text.substr(0, line_end);
  const std::size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string_view::npos || sp2 == sp1) return fail(c, 400, {});
  req.method = std::string(line.substr(0, sp1));
  req.target = std::string(line.substr(sp1 + 1, sp2 - sp1 - 1));
  req.version = std::string(line.substr(sp2 + 1));
  if (req.method.empty() || req.target.empty() || req.target[0] != '/' ||
      (req.version != "HTTP/1.1" && req.version != "HTTP/1.0"))
    return fail(c, 400, {});
  req.path = req.target.substr(0, req.target.find('?'));
  std::size_t pos = line_end == std::string_view::npos ? text.size() : line_end + 2;
  while (pos < text.size()) {
    std::size_t e = text.find("\r\n", pos);
    if (e == std::string_view::npos) e = text.size();
    std::string_view h = text.substr(pos, e - pos);
    pos = e + 2;
    const std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail(c, 400, req);
    std::string_view v = h.substr(colon + 1);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    req.headers.emplace(std::string(h.substr(0, colon)), std::string(v));
  }
  if (req.has_header("Transfer-Encoding")) return fail(c, 411, req);
  std::size_t length = 0;
  if (req.has_header("Content-Length")) {
    const std::string v = req.get_header_value("Content-Length");
    if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
      return fail(c, 400, req);
    length = std::stoull(v);
    if (length > limits_.max_body_bytes) return fail(c, 413, req);
  }
  const std::size_t total = end + 4 + length;
  if (c->in.size() < total) {
    if (!c->continue_sent && iequals(req.get_header_value("Expect"), "100-continue")) {
      c->continue_sent = true;
      std::lock_guard<std::mutex> lock(c->m);
      c->out += "HTTP/1.1 100 Continue\r\n\r\n";
    }
    if (c->continue_sent) flush(c);
    return;
  }
  req.body = c->in.substr(end + 4, length);
  c->in.erase(0, total);
  req.remote_addr = c->peer;
  req.remote_port = c->peer_port;
  const std::string connection = req.get_header_value("Connection");
  const bool keep = req.version == "HTTP/1.1" ? !has_token(connection, "close")
                                              : has_token(connection, "keep-alive");
  {
    std::lock_guard<std::mutex> lock(c->m);
    c->keep_alive = keep && !c->peer_done;
    c->reply_done = false;
  }
  c->state = Conn::State::kHandling;
  c->started = false;
  c->continue_sent = false;
  const auto& table = req.method == "GET" ? get_ : req.method == "POST" ? post_ : get_;
  const bool known_method = req.method == "GET" || req.method == "POST";
  auto it = known_method ? table.find(req.path) : table.end();
  const Route* route = it == table.end() ? nullptr : &it->second;
  if (route == nullptr || route->where == Run::kOnLoop) {
    handle(c, std::move(req), route);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back([this, c, route, r = std::move(req)]() mutable {
      handle(c, std::move(r), route);
    });
  }
  queue_cv_.notify_one();
}

// A request refused before routing: its error reply, then the connection closed.
void Server::fail(const std::shared_ptr<Conn>& c, int status, Request req) {
  if (status == 408) deadline_cut_++;
  Response res;
  res.status = status;
  if (error_handler_) error_handler_(req, res);
  if (logger_) logger_(req, res);
  {
    std::lock_guard<std::mutex> lock(c->m);
    c->out += head(res, false) + "Content-Length: " + std::to_string(res.body.size()) +
              "\r\n\r\n" + res.body;
    c->keep_alive = false;
    c->reply_done = true;
  }
  c->state = Conn::State::kHandling;
  flush(c);
}

// Runs a request's route and writes its reply into the connection's buffer
// (on a pool thread, or on the loop for the routes that ask for it).
void Server::handle(const std::shared_ptr<Conn>& c, Request req, const Route* route) {
  Response res;
  try {
    if (pre_routing_ && pre_routing_(req, res)) {
    } else if (route != nullptr) {
      route->handler(req, res);
    } else {
      res.status = 404;
    }
  } catch (...) {
    reset(res);
    if (exception_handler_) {
      exception_handler_(req, res, std::current_exception());
    } else {
      res.status = 500;
    }
  }
  if (res.status == -1) res.status = 200;
  if (res.status >= 400 && res.body.empty() && !res.content_provider_ && error_handler_) {
    error_handler_(req, res);
  }
  bool keep;
  {
    std::lock_guard<std::mutex> lock(c->m);
    keep = c->keep_alive;
  }
  // Appends to the reply; a writer of a stream waits for room (bounded).
  auto append = [this, &c](std::string_view bytes, bool wait_for_room) {
    {
      std::unique_lock<std::mutex> lock(c->m);
      if (c->gone) return false;
      c->out.append(bytes);
      if (wait_for_room && c->out.size() - c->out_sent > kHighWater) {
        const auto until = Clock::now() + std::chrono::seconds(limits_.write_timeout_s);
        c->room.wait_until(lock, until,
                           [&] { return c->gone || c->out.size() - c->out_sent <= kHighWater; });
        if (!c->gone && c->out.size() - c->out_sent > kHighWater) {
          c->gone = true;
          write_timeouts_++;
        }
      }
      if (c->gone) return false;
    }
    wake(c);
    return true;
  };
  bool ok = true;
  if (res.content_provider_ && res.is_chunked_content_provider_) {
    ok = append(head(res, keep) + "Transfer-Encoding: chunked\r\n\r\n", false);
    httplib::DataSink sink;
    bool done = false;
    std::size_t offset = 0;  // the body's bytes so far (the provider's first argument)
    sink.write = [&](const char* d, std::size_t n) {
      if (!ok) return false;
      if (n == 0) return true;
      offset += n;
      char size[32];
      const int m = std::snprintf(size, sizeof size, "%zx\r\n", n);
      std::string chunk(size, std::size_t(m));
      chunk.append(d, n);
      chunk += "\r\n";
      ok = append(chunk, true);
      return ok;
    };
    sink.done = [&] { done = true; };
    sink.is_writable = [&] {
      std::lock_guard<std::mutex> lock(c->m);
      return ok && !c->gone;
    };
    try {
      while (ok && !done) {
        if (!res.content_provider_(offset, 0, sink)) ok = false;
      }
    } catch (...) {
      ok = false;  // the stream ends short: the client sees no final chunk
    }
    if (ok) ok = append("0\r\n\r\n", false);
    res.content_provider_success_ = ok;
  } else {
    if (res.content_provider_) {  // no route sets a sized provider
      reset(res);
      res.status = 500;
      if (error_handler_) error_handler_(req, res);
    }
    ok = append(head(res, keep) + "Content-Length: " + std::to_string(res.body.size()) +
                    "\r\n\r\n" + res.body,
                false);
  }
  if (logger_) logger_(req, res);
  {
    std::lock_guard<std::mutex> lock(c->m);
    c->reply_done = true;
    if (!ok) c->keep_alive = false;
  }
  wake(c);
}

// A handler wrote: the loop flushes the connection.
void Server::wake(const std::shared_ptr<Conn>& c) {
  {
    std::lock_guard<std::mutex> lock(dirty_mutex_);
    dirty_.push_back(c);
  }
  const std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

void Server::flush(const std::shared_ptr<Conn>& c) {
  if (c->closed) return;
  bool finished = false, keep = false, failed = false;
  {
    std::lock_guard<std::mutex> lock(c->m);
    while (c->out_sent < c->out.size()) {
      const ssize_t n = ::send(c->fd, c->out.data() + c->out_sent, c->out.size() - c->out_sent,
                               MSG_NOSIGNAL);
      if (n > 0) {
        c->out_sent += std::size_t(n);
        c->progress = Clock::now();
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      failed = true;
      break;
    }
    if (c->out_sent == c->out.size()) {
      c->out.clear();
      c->out_sent = 0;
      c->progress = Clock::time_point{};  // nothing pending: no write deadline
    } else if (c->progress == Clock::time_point{}) {
      c->progress = Clock::now();  // pending from now
    }
    if (c->out.size() - c->out_sent <= kHighWater) c->room.notify_all();
    finished = c->out.empty() && c->reply_done && c->state == Conn::State::kHandling;
    keep = c->keep_alive;
  }
  if (failed) return close_conn(c);
  if (finished) {
    if (!keep || stopping_) {
      // Half-close and read what the client still sends, then close (a
      // reset could discard the reply).
      ::shutdown(c->fd, SHUT_WR);
      c->state = Conn::State::kClosing;
      c->in.clear();
      c->deadline = Clock::now() + std::chrono::seconds(1);
    } else {
      std::lock_guard<std::mutex> lock(c->m);
      c->reply_done = false;
      c->state = Conn::State::kReading;
    }
    if (c->state == Conn::State::kReading) {
      c->started = !c->in.empty();
      c->deadline = Clock::now() + std::chrono::seconds(c->started ? limits_.read_timeout_s
                                                                   : limits_.keep_alive_s);
      try_request(c);  // a request that came behind the last one
    }
  }
  if (!c->closed) update_interest(*c);
}

void Server::close_conn(const std::shared_ptr<Conn>& c) {
  if (c->closed) return;
  c->closed = true;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, c->fd, nullptr);
  ::close(c->fd);
  conns_.erase(c->fd);
  auto it = per_client_.find(c->peer);
  if (it != per_client_.end() && --it->second <= 0) per_client_.erase(it);
  open_--;
  std::lock_guard<std::mutex> lock(c->m);
  c->gone = true;
  c->room.notify_all();
}

void Server::check_deadlines() {
  const Clock::time_point now = Clock::now();
  std::vector<std::shared_ptr<Conn>> late, stalled;
  for (auto& [fd, c] : conns_) {
    if (c->state != Conn::State::kHandling) {
      if (now >= c->deadline) late.push_back(c);
      continue;
    }
    std::lock_guard<std::mutex> lock(c->m);
    if (c->out.size() > c->out_sent && c->progress != Clock::time_point{} &&
        now - c->progress >= std::chrono::seconds(limits_.write_timeout_s)) {
      stalled.push_back(c);
    }
  }
  for (auto& c : late) {
    if (c->state == Conn::State::kReading && c->started) {
      fail(c, 408, {});  // counted; the 408 is written, then the connection closed
      if (!c->closed) {
        c->state = Conn::State::kClosing;
        c->deadline = now + std::chrono::seconds(1);
      }
    } else {
      close_conn(c);  // idle past keep-alive, or a closing one's last second
    }
  }
  for (auto& c : stalled) {
    write_timeouts_++;
    close_conn(c);
  }
}

}  // namespace gpt2::server::http
