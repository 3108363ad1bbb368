// server/http.h in-process: a transport with a few routes on a free loopback
// port, driven by raw sockets (the bytes on the wire are what is checked):
// keep-alive and pipelined requests, the parser's refusals, 100-continue, a
// chunked stream's framing, a route that throws, and the counters.
#include "server/http.h"

#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "tests/test_util.h"

namespace gpt2::server::http {
namespace {

// Reads bounded by 30 s: a bound that turns a hang into a failure.
int connect_to(int port) {
  return test::connect_loopback(port, 30);
}

// Sends `bytes`, then reads until the server closes the connection.
std::string exchange(int port, const std::string& bytes) {
  const int fd = connect_to(port);
  if (fd < 0) return "(no connection)";
  send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string got;
  char buf[4096];
  for (ssize_t n = 1; n > 0;) {
    n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, std::size_t(n));
  }
  close(fd);
  return got;
}

class HttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Limits l;
    l.threads = 2;
    l.max_header_bytes = 1024;
    l.max_body_bytes = 100;
    server_ = std::make_unique<Server>(l);
    server_->post("/echo", [](const Request& req, Response& res) {
      res.set_content(req.method + " " + req.path + " " + req.body, "text/plain");
    });
    server_->get(
        "/here", [](const Request&, Response& res) { res.set_content("loop", "text/plain"); },
        Run::kOnLoop);
    server_->get("/stream", [](const Request&, Response& res) {
      auto sent = std::make_shared<int>(0);
      res.set_chunked_content_provider("text/event-stream",
                                       [sent](std::size_t, httplib::DataSink& sink) {
                                         if (*sent == 3) {
                                           sink.done();
                                           return true;
                                         }
                                         const std::string piece(std::size_t(++*sent), 'x');
                                         return sink.write(piece.data(), piece.size());
                                       });
    });
    server_->get("/throw", [](const Request&, Response&) { throw std::runtime_error("boom"); });
    server_->set_exception_handler([](const Request&, Response& res, std::exception_ptr) {
      res.status = 500;
      res.set_content("caught", "text/plain");
    });
    server_->set_error_handler([](const Request&, Response& res) {
      res.set_content("error " + std::to_string(res.status), "text/plain");
    });
    port_ = server_->bind("127.0.0.1", 0);
    thread_ = std::thread([this] { server_->listen(); });
  }
  void TearDown() override {
    server_->stop();
    thread_.join();
  }
  std::unique_ptr<Server> server_;
  std::thread thread_;
  int port_ = 0;
};

TEST_F(HttpTest, PipelinedRequestsOnOneConnectionAreAnsweredInOrder) {
  const std::string got =
      exchange(port_,
               "POST /echo HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET /here HTTP/1.1\r\n\r\n"
               "POST /echo?x=1 HTTP/1.1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nyz");
  const std::size_t a = got.find("POST /echo abc"), b = got.find("loop"),
                    c = got.find("POST /echo yz");
  ASSERT_NE(a, std::string::npos) << got;
  ASSERT_NE(b, std::string::npos) << got;
  ASSERT_NE(c, std::string::npos) << got;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(got.find("Connection: keep-alive\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Connection: close\r\n"), std::string::npos) << got;
}

TEST_F(HttpTest, BadRequestsGetTheirStatusAndTheConnectionCloses) {
  struct Case {
    std::string bytes;
    std::string status;
  };
  const Case cases[] = {
      {"garbage\r\n\r\n", "400"},
      {"GET /here HTTP/2.0\r\n\r\n", "400"},
      {"GET /here HTTP/1.1\r\nno colon\r\n\r\n", "400"},
      {"POST /echo HTTP/1.1\r\nContent-Length: 12x\r\n\r\n", "400"},
      {"GET /here HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n", "431"},
      {"GET /here HTTP/1.1\r\nX: " + std::string(2000, 'a'), "431"},  // no end yet
      {"POST /echo HTTP/1.1\r\nContent-Length: 101\r\n\r\n", "413"},
      {"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", "411"},
      {"GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n", "404"},
      {"DELETE /echo HTTP/1.1\r\nConnection: close\r\n\r\n", "404"},
  };
  for (const Case& c : cases) {
    const std::string got = exchange(port_, c.bytes);
    EXPECT_EQ(got.rfind("HTTP/1.1 " + c.status + " ", 0), 0u) << c.bytes << " -> " << got;
    EXPECT_NE(got.find("error " + c.status), std::string::npos) << got;
  }
}

TEST_F(HttpTest, ABodyExpectingContinueGetsIt) {
  const int fd = connect_to(port_);
  ASSERT_GE(fd, 0);
  const std::string head =
      "POST /echo HTTP/1.1\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: "
      "close\r\n\r\n";
  send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  char buf[256];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, std::size_t(n)), "HTTP/1.1 100 Continue\r\n\r\n");
  send(fd, "wxyz", 4, MSG_NOSIGNAL);
  std::string got;
  for (ssize_t m = 1; m > 0;) {
    m = recv(fd, buf, sizeof buf, 0);
    if (m > 0) got.append(buf, std::size_t(m));
  }
  close(fd);
  EXPECT_NE(got.find("POST /echo wxyz"), std::string::npos) << got;
}

TEST_F(HttpTest, AStreamIsChunkedAndEnds) {
  const std::string got = exchange(port_, "GET /stream HTTP/1.1\r\nConnection: close\r\n\r\n");
  ASSERT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << got;
  EXPECT_NE(got.find("Content-Type: text/event-stream\r\n"), std::string::npos) << got;
  const std::string body = got.substr(got.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "1\r\nx\r\n2\r\nxx\r\n3\r\nxxx\r\n0\r\n\r\n");
}

TEST_F(HttpTest, ARouteThatThrowsIsTheExceptionHandlersReply) {
  const std::string got = exchange(port_, "GET /throw HTTP/1.1\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 500 ", 0), 0u) << got;
  EXPECT_NE(got.find("\r\n\r\ncaught"), std::string::npos) << got;
  // And the server goes on.
  EXPECT_NE(exchange(port_, "GET /here HTTP/1.1\r\nConnection: close\r\n\r\n").find("loop"),
            std::string::npos);
}

TEST_F(HttpTest, TheCountersCountConnections) {
  exchange(port_, "GET /here HTTP/1.1\r\nConnection: close\r\n\r\n");
  exchange(port_, "GET /here HTTP/1.1\r\nConnection: close\r\n\r\n");
  const Counters c = server_->counters();
  EXPECT_GE(c.accepted, 2);
  EXPECT_EQ(c.refused, 0);
  EXPECT_EQ(c.deadline_cut, 0);
}

TEST(HttpBindTest, AnAddressInUseIsOneLine) {
  Server a{Limits{}};
  const int port = a.bind("127.0.0.1", 0);
  Server b{Limits{}};
  try {
    b.bind("127.0.0.1", port);
    FAIL() << "bound a port in use";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("Cannot listen on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gpt2::server::http
