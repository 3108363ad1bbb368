// gpt2-serve, the real binary on a free loopback port, driven over HTTP as a
// user's program drives it: completions equal to gpt2's, streams equal to
// non-streamed replies, concurrent requests equal to sequential ones, every
// bad input an error object with the server still serving, authentication,
// a full queue, a client gone mid-stream, a slow client, a deadline, SIGTERM
// with requests in flight. Every loop is bounded in count and time; nothing
// leaves 127.0.0.1.
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

const std::string kBin = GPT2_BIN_DIR;

// A gpt2-serve process: started on port 0, ready once /health answers 200.
class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> args) {
    dir_ = test::temp_dir();
    const std::string port_file = (dir_ / "port").string();
    log_ = (dir_ / "stderr").string();
    std::vector<std::string> argv = {
        kBin + "/gpt2-serve", "--model", "synthetic:tiny", "--threads", "2", "--port", "0",
        "--port-file",        port_file};
    argv.insert(argv.end(), args.begin(), args.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::freopen(log_.c_str(), "w", stderr);
      std::freopen("/dev/null", "w", stdout);
      std::vector<char*> c;
      for (auto& a : argv) c.push_back(a.data());
      c.push_back(nullptr);
      execv(c[0], c.data());
      _exit(127);
    }
    for (int i = 0; i < 300 && port_ == 0; i++) {  // 30 s
      std::ifstream in(port_file);
      if (!(in >> port_)) port_ = 0;
      if (port_ == 0) std::this_thread::sleep_for(100ms);
    }
    if (port_ == 0) return;
    for (int i = 0; i < 600; i++) {  // 60 s for the model to load
      httplib::Client c = client();
      if (auto r = c.Get("/health"); r && r->status == 200) {
        ready_ = true;
        return;
      }
      std::this_thread::sleep_for(100ms);
    }
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool ready() const { return ready_; }
  int port() const { return port_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(60, 0);
    c.set_connection_timeout(30, 0);
    return c;
  }
  std::string log() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void signal(int sig) const { kill(pid_, sig); }
  // The exit status, waiting at most `limit`; -1 if it has not exited.
  int wait_exit(std::chrono::seconds limit) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(20ms);
    }
    return -1;
  }

 private:
  std::filesystem::path dir_;
  std::string log_;
  pid_t pid_ = -1;
  int port_ = 0;
  bool ready_ = false, exited_ = false;
};

json post(const ServerProcess& s, const std::string& path, const std::string& body,
          int* status = nullptr, httplib::Headers headers = {}) {
  httplib::Client c = s.client();
  auto r = c.Post(path, headers, body, "application/json");
  if (!r) {
    ADD_FAILURE() << "no answer to " << path << " " << body << ": "
                  << httplib::to_string(r.error());
    return nullptr;
  }
  if (status) *status = r->status;
  json j = json::parse(r->body, nullptr, false);
  EXPECT_FALSE(j.is_discarded()) << r->body;
  return j;
}

// The events of a stream: each data line's JSON, until [DONE] (checked).
std::vector<json> stream(const ServerProcess& s, const json& body) {
  httplib::Client c = s.client();
  std::string raw;
  auto r = c.Post("/v1/completions", {}, body.dump(), "application/json");
  EXPECT_TRUE(r);
  if (!r) return {};
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  std::vector<json> events;
  std::istringstream in(r->body);
  bool done = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("data: ", 0) != 0) continue;
    EXPECT_FALSE(done) << "an event after [DONE]";
    if (line == "data: [DONE]") {
      done = true;
      continue;
    }
    events.push_back(json::parse(line.substr(6)));
  }
  EXPECT_TRUE(done) << r->body;
  return events;
}

// A stream's choices put together: text, tokens and finish reason.
json assemble(const std::vector<json>& events) {
  json choices = json::array();
  for (const json& e : events) {
    for (const json& c : e["choices"]) {
      const std::size_t i = c["index"];
      while (choices.size() <= i) {
        choices.push_back({{"text", ""}, {"tokens", json::array()}, {"finish_reason", nullptr}});
      }
      choices[i]["text"] = choices[i]["text"].get<std::string>() + c["text"].get<std::string>();
      if (c.contains("tokens")) {
        for (const json& t : c["tokens"]) choices[i]["tokens"].push_back(t);
      }
      if (!c["finish_reason"].is_null()) choices[i]["finish_reason"] = c["finish_reason"];
    }
  }
  return choices;
}

using test::connect_loopback;

double metric(const ServerProcess& s, const std::string& name) {
  httplib::Client c = s.client();
  auto r = c.Get("/metrics");
  if (!r) return -1;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  }
  return -1;
}

const std::string kClientGone = R"(gpt2_cancelled_sequences_total{reason="client_gone"})";
const std::string kDeadline = R"(gpt2_cancelled_sequences_total{reason="deadline"})";

using test::wait_for;

// POST /dev/engine (--dev-mode): hold the engine after `steps` more steps, or
// (nullopt) let it run. Returns the steps taken so far.
long hold_engine(const ServerProcess& s, std::optional<long> steps) {
  int status = 0;
  const json r =
      post(s, "/dev/engine",
           json{{"hold_after_steps", steps ? json(*steps) : json(nullptr)}}.dump(), &status);
  EXPECT_EQ(status, 200) << r;
  return r.value("steps", -1L);
}

// GET /dev/engine (--dev-mode): the steps the engine has taken.
long engine_steps(const ServerProcess& s) {
  httplib::Client c = s.client();
  auto r = c.Get("/dev/engine");
  if (!r || r->status != 200) return -1;
  return json::parse(r->body).value("steps", -1L);
}

// The token events in the raw bytes of a stream so far.
int count_events(const std::string& raw) {
  int n = 0;
  for (std::size_t at = raw.find("\"tokens\":["); at != std::string::npos;
       at = raw.find("\"tokens\":[", at + 1)) {
    n++;
  }
  return n;
}

// Holds a --dev-mode server's engine for a scope (a request cannot progress,
// so "still running" is an event the test controls, not a race with the
// model's speed); lets it run again at the end, whatever happened.
class HeldEngine {
 public:
  explicit HeldEngine(const ServerProcess& s) : s_(s) { steps_ = hold_engine(s_, 0); }
  ~HeldEngine() { release(); }
  long steps_at_hold() const { return steps_; }
  void allow(long steps) { hold_engine(s_, steps); }
  void release() {
    if (!released_) hold_engine(s_, std::nullopt);
    released_ = true;
  }

 private:
  const ServerProcess& s_;
  long steps_ = 0;
  bool released_ = false;
};

class ServeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    open_model("synthetic:tiny");  // generated once, before any server starts
    server_ = new ServerProcess({"--max-batch", "8", "--max-queue", "64", "--dev-mode"});
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(server_->ready()) << server_->log(); }
  static ServerProcess* server_;
};
ServerProcess* ServeTest::server_ = nullptr;

TEST_F(ServeTest, ACompletionIsWhatGpt2PrintsForIt) {
  int status = 0;
  const json r = post(*server_, "/v1/completions",
                      R"({"prompt": "Ladies and", "max_tokens": 20, "rule": "greedy"})", &status);
  ASSERT_EQ(status, 200) << r;
  EXPECT_EQ(r["object"], "text_completion");
  const test::CommandResult gpt2 =
      test::run_command(kBin +
                        "/gpt2 --model synthetic:tiny --mode kv-cache --rule greedy "
                        "--max-new 20 --prompt 'Ladies and'");
  ASSERT_EQ(gpt2.status, 0) << gpt2.err;
  EXPECT_EQ(r["choices"][0]["text"], gpt2.out);
  EXPECT_EQ(r["usage"]["prompt_tokens"], 3);
  EXPECT_EQ(r["usage"]["completion_tokens"], r["choices"][0]["tokens"].size());
  // Token ids in, a sampling rule and seed: gpt2's ids (which never stop at <|endoftext|>).
  const json s = post(*server_, "/v1/completions",
                      R"({"prompt": [464, 2068], "max_tokens": 8, "temperature": 0.9, "seed": 4,
                          "ignore_eos": true})",
                      &status);
  ASSERT_EQ(status, 200) << s;
  const test::CommandResult ids = test::run_command(
      kBin +
      "/gpt2 --model synthetic:tiny --mode kv-cache --temperature 0.9 --seed 4 -n 10 464 "
      "2068");
  ASSERT_EQ(ids.status, 0) << ids.err;
  std::string want;
  for (const json& t : s["choices"][0]["tokens"]) want += std::to_string(t.get<int>()) + "\n";
  EXPECT_EQ(ids.out, want);
}

TEST_F(ServeTest, AStreamEqualsTheReplyAndEndsWithDone) {
  const json body = {{"prompt", {"Once upon a time", "The"}},
                     {"max_tokens", 12},
                     {"n", 2},
                     {"seed", 9},
                     {"logprobs", 2},
                     {"echo", false}};
  int status = 0;
  const json whole = post(*server_, "/v1/completions", body.dump(), &status);
  ASSERT_EQ(status, 200) << whole;
  json streamed_body = body;
  streamed_body["stream"] = true;
  streamed_body["stream_options"] = {{"include_usage", true}};
  const std::vector<json> events = stream(*server_, streamed_body);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back()["usage"], whole["usage"]);  // the last event: the usage
  const json parts = assemble(events);
  ASSERT_EQ(parts.size(), 4u);
  for (std::size_t i = 0; i < 4; i++) {
    EXPECT_EQ(parts[i]["text"], whole["choices"][i]["text"]) << i;
    EXPECT_EQ(parts[i]["tokens"], whole["choices"][i]["tokens"]) << i;
    EXPECT_EQ(parts[i]["finish_reason"], whole["choices"][i]["finish_reason"]) << i;
  }
  // Each token's log-probability, streamed or not.
  std::vector<double> lp;
  for (const json& e : events) {
    for (const json& c : e["choices"]) {
      if (c["index"] == 0 && !c["logprobs"].is_null())
        lp.push_back(c["logprobs"]["token_logprobs"][0]);
    }
  }
  EXPECT_EQ(json(lp), whole["choices"][0]["logprobs"]["token_logprobs"]);
  // Echo: the prompt before the continuation.
  const json echoed = post(*server_, "/v1/completions",
                           R"({"prompt": "Ladies and", "max_tokens": 3, "echo": true})");
  EXPECT_EQ(echoed["choices"][0]["text"].get<std::string>().rfind("Ladies and", 0), 0u);
}

TEST_F(ServeTest, ConcurrentRequestsEqualTheirSequentialRuns) {
  std::vector<json> bodies;
  for (int i = 0; i < 24; i++) {
    json b = {{"prompt", "Request number " + std::to_string(i)},
              {"max_tokens", 4 + i % 9},
              {"logprobs", 1}};
    if (i % 3 == 1) b["rule"] = "greedy";
    if (i % 3 == 2) b["seed"] = i;
    if (i % 4 == 0) b["stream"] = true;
    bodies.push_back(b);
  }
  auto run = [&](const json& b) {
    return b.value("stream", false) ? assemble(stream(*server_, b))
                                    : post(*server_, "/v1/completions", b.dump())["choices"];
  };
  std::vector<json> sequential;
  for (const json& b : bodies) sequential.push_back(run(b));
  std::vector<std::future<json>> futures;
  for (const json& b : bodies) futures.push_back(std::async(std::launch::async, run, b));
  for (std::size_t i = 0; i < bodies.size(); i++) {
    const json got = futures[i].get();
    ASSERT_EQ(got.size(), sequential[i].size());
    EXPECT_EQ(got[0]["text"], sequential[i][0]["text"]) << bodies[i];
    EXPECT_EQ(got[0]["tokens"], sequential[i][0]["tokens"]) << bodies[i];
    if (!bodies[i].value("stream", false)) {
      EXPECT_EQ(got[0]["logprobs"], sequential[i][0]["logprobs"]);
    }
  }
}

TEST_F(ServeTest, BadInputIsAnErrorObjectAndTheServerGoesOn) {
  struct Case {
    std::string path, body;
    int status;
    std::string param;
  };
  const std::vector<Case> cases = {
      {"/v1/completions", "{", 400, ""},
      {"/v1/completions", "[1, 2]", 400, ""},
      {"/v1/completions", R"({"prompt": 3})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": "x"})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": -5})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": 1e30})", 400, "max_tokens"},
      {"/v1/completions", R"({"prompt": "a", "maxtokens": 5})", 400, "maxtokens"},
      {"/v1/completions", R"({"prompt": [99999999]})", 400, "prompt"},
      {"/v1/completions", R"({"prompt": "a", "temperature": "hot"})", 400, "temperature"},
      {"/v1/completions", R"({"prompt": "a", "max_tokens": 1024})", 400, "max_tokens"},
      {"/v1/completions", json{{"prompt", std::vector<int>(1024, 5)}}.dump(), 413, "prompt"},
      {"/tokenize", R"({"content": 5})", 400, "content"},
      {"/detokenize", R"({"tokens": [-1]})", 400, "tokens"},
      {"/v1/chat/completions", R"({"messages": []})", 404, ""},
      {"/v1/nothing", "{}", 404, ""},
  };
  for (const Case& c : cases) {
    int status = 0;
    const json r = post(*server_, c.path, c.body, &status);
    EXPECT_EQ(status, c.status) << c.body << " -> " << r;
    ASSERT_TRUE(r.contains("error")) << r;
    EXPECT_TRUE(r["error"]["message"].is_string());
    EXPECT_TRUE(r["error"]["type"].is_string());
    EXPECT_EQ(r["error"]["param"], c.param.empty() ? json(nullptr) : json(c.param)) << c.body;
  }
  // A body over --max-body (1 MiB): 413 before it is parsed.
  int status = 0;
  const json big = post(*server_, "/v1/completions",
                        R"({"prompt": ")" + std::string(2 << 20, 'a') + R"("})", &status);
  EXPECT_EQ(status, 413) << big;
  // Still serving.
  const json ok = post(*server_, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})", &status);
  EXPECT_EQ(status, 200) << ok;
  httplib::Client c = server_->client();
  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  EXPECT_EQ(json::parse(models->body)["data"][0]["id"], "synthetic:tiny:seed=2");
  const json tokens = post(*server_, "/tokenize", R"({"content": "Hello, my dog is cute"})");
  EXPECT_EQ(tokens["tokens"], json({15496, 11, 616, 3290, 318, 13779}));
  const json text = post(*server_, "/detokenize", R"({"tokens": [15496, 11, 616]})");
  EXPECT_EQ(text["content"], "Hello, my");
}

// A client that goes away mid-stream: its running sequence is freed. The
// engine is held, so the sequence cannot finish on its own: only the server's
// noticing the closed connection frees it (the client_gone counter says so).
TEST_F(ServeTest, AClientGoneMidStreamFreesItsSequence) {
  const double gone = metric(*server_, kClientGone);
  ASSERT_GE(gone, 0);
  HeldEngine held(*server_);
  const int fd = connect_loopback(server_->port());
  ASSERT_GE(fd, 0) << "cannot connect to 127.0.0.1";
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string body =
      R"({"prompt": "a", "max_tokens": 1000, "ignore_eos": true, "stream": true})";
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  ASSERT_EQ(send(fd, request.data(), request.size(), 0), ssize_t(request.size()));
  // The headers come once the job is submitted: two steps (the prompt, one
  // decode), then the engine holds with the sequence running, its cache held.
  std::string got;
  char buf[4096];
  ASSERT_GT(recv(fd, buf, sizeof buf, 0), 0);
  held.allow(2);
  ASSERT_TRUE(wait_for([&] { return engine_steps(*server_) >= held.steps_at_hold() + 2; }));
  EXPECT_EQ(metric(*server_, "gpt2_running_sequences"), 1);
  EXPECT_GT(metric(*server_, "gpt2_kv_cache_bytes"), 0);
  // Both tokens reach the client.
  for (ssize_t n = 1; n > 0 && count_events(got) < 2;) {
    n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, std::size_t(n));
  }
  EXPECT_EQ(count_events(got), 2) << got;
  close(fd);
  EXPECT_TRUE(wait_for([&] { return metric(*server_, kClientGone) >= gone + 1; }))
      << "the sequence of a closed connection was not freed";
  EXPECT_EQ(metric(*server_, kClientGone), gone + 1);
  EXPECT_EQ(metric(*server_, "gpt2_running_sequences"), 0);
  EXPECT_EQ(metric(*server_, "gpt2_sequences_in_system"), 0);
  EXPECT_EQ(metric(*server_, "gpt2_kv_cache_bytes"), 0);
}

// A request whose deadline passes while the engine holds it: a 504, and its
// sequence freed (the deadline counter).
TEST_F(ServeTest, ARequestPastItsDeadlineIs504) {
  const double late = metric(*server_, kDeadline);
  ASSERT_GE(late, 0);
  HeldEngine held(*server_);
  int status = 0;
  const json r =
      post(*server_, "/v1/completions",
           R"({"prompt": "a", "max_tokens": 5, "ignore_eos": true, "timeout": 0.05})", &status);
  EXPECT_EQ(status, 504) << r;
  EXPECT_EQ(r["error"]["code"], "timeout");
  EXPECT_TRUE(wait_for([&] { return metric(*server_, kDeadline) >= late + 1; }));
  EXPECT_EQ(metric(*server_, "gpt2_sequences_in_system"), 0);
  held.release();
  const json ok = post(*server_, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})", &status);
  EXPECT_EQ(status, 200) << ok;
}

// --dev-mode's endpoint refuses what it does not understand; without
// --dev-mode there is no such endpoint (the ServeLimitsTest servers).
TEST_F(ServeTest, TheDevEngineEndpointChecksItsBody) {
  for (const std::string body :
       {"{}", R"({"hold_after_steps": -1})", R"({"hold_after_steps": "x"})", "[]"}) {
    int status = 0;
    const json r = post(*server_, "/dev/engine", body, &status);
    EXPECT_EQ(status, 400) << body << " -> " << r;
    EXPECT_EQ(r["error"]["param"], "hold_after_steps");
  }
  httplib::Client c = server_->client();
  auto r = c.Get("/dev/engine");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(json::parse(r->body)["hold_after_steps"].is_null()) << r->body;
}

// gpt2-bench serve against this server: every scenario's requests complete,
// and the report holds their percentiles.
TEST_F(ServeTest, TheLoadScenariosRunAgainstIt) {
  const std::filesystem::path out = test::temp_dir();
  const std::string url = "http://127.0.0.1:" + std::to_string(server_->port());
  for (const std::string scenario :
       {"--scenario offline --requests 6", "--scenario concurrency --concurrency 1,3 --requests 6",
        "--scenario poisson --rate 50 --requests 8 --slo-ttft 5000 --slo-tpot 1000"}) {
    const test::CommandResult r =
        test::run_command(kBin + "/gpt2-bench serve --url " + url + " " + scenario +
                          " --input-len 8 --output-len 6 --out " + out.string());
    ASSERT_EQ(r.status, 0) << scenario << ": " << r.err;
    EXPECT_NE(r.out.find("| load | ok |"), std::string::npos) << r.out;
  }
  int reports = 0;
  for (const auto& f : std::filesystem::directory_iterator(out)) {
    if (f.path().extension() != ".json") continue;
    reports++;
    std::ifstream in(f.path());
    const json j = json::parse(in);
    EXPECT_EQ(j["kind"], "serve");
    EXPECT_EQ(j["server"]["model"], "synthetic:tiny:seed=2");
    for (const json& run : j["runs"]) {
      EXPECT_EQ(run["completed"], run["requests"]) << run;
      EXPECT_EQ(run["failed"], 0);
      EXPECT_GT(run["ttft_s"]["p50"].get<double>(), 0);
      EXPECT_GE(run["ttft_s"]["p99"].get<double>(), run["ttft_s"]["p50"].get<double>());
      EXPECT_GT(run["tpot_s"]["p50"].get<double>(), 0);
      EXPECT_GT(run["output_throughput"].get<double>(), 0);
    }
    std::filesystem::path svg = f.path();
    EXPECT_TRUE(std::filesystem::exists(svg.replace_extension(".svg")));
    EXPECT_TRUE(std::filesystem::exists(svg.replace_extension(".csv")));
    EXPECT_TRUE(std::filesystem::exists(svg.replace_extension(".md")));
  }
  EXPECT_EQ(reports, 3);
  const test::CommandResult bad =
      test::run_command(kBin + "/gpt2-bench serve --url http://127.0.0.1:1 --out " + out.string());
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("is not ready"), std::string::npos) << bad.err;
}

// A client that sends half its headers and waits: dropped by the server.
TEST(ServeLimitsTest, ASlowClientIsDroppedAndOthersAreServed) {
  ServerProcess s({"--read-timeout", "1"});
  ASSERT_TRUE(s.ready()) << s.log();
  const int fd = connect_loopback(s.port());
  ASSERT_GE(fd, 0) << "cannot connect to 127.0.0.1";
  const std::string part = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  send(fd, part.data(), part.size(), 0);
  int status = 0;
  post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})", &status);
  EXPECT_EQ(status, 200);
  httplib::Client c = s.client();
  auto dev = c.Get("/dev/engine");  // no --dev-mode: no such endpoint
  ASSERT_TRUE(dev);
  EXPECT_EQ(dev->status, 404);
  // The server closes it by itself (recv's 0); the 60 s bound only turns a
  // server that never does into a failure (recv's -1, EAGAIN).
  timeval tv{60, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char buf[256];
  // The server may answer (408) before it closes: read until the end.
  ssize_t got = 1;
  for (int i = 0; i < 64 && got > 0; i++) got = recv(fd, buf, sizeof buf, 0);
  EXPECT_EQ(got, 0) << "the connection was not closed by the server";
  close(fd);
}

TEST(ServeLimitsTest, AnApiKeyGuardsEveryEndpointButHealth) {
  ServerProcess s({"--api-key", "sesame"});
  ASSERT_TRUE(s.ready()) << s.log();
  int status = 0;
  json r = post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 1})", &status);
  EXPECT_EQ(status, 401);
  EXPECT_EQ(r["error"]["type"], "authentication_error");
  post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 1})", &status,
       {{"Authorization", "Bearer sesamE"}});
  EXPECT_EQ(status, 401);
  post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 1})", &status,
       {{"Authorization", "Bearer sesame"}});
  EXPECT_EQ(status, 200);
  httplib::Client c = s.client();
  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 401);
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

// The first request holds the one place (--max-batch 1, --max-queue 0): the
// engine is held, so it is still there when the second asks.
TEST(ServeLimitsTest, AFullQueueIs429WithRetryAfter) {
  ServerProcess s({"--max-batch", "1", "--max-queue", "0", "--queue-wait", "0", "--dev-mode"});
  ASSERT_TRUE(s.ready()) << s.log();
  HeldEngine held(s);
  auto long_one = std::async(std::launch::async, [&] {
    int status = 0;
    post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 20, "ignore_eos": true})", &status);
    return status;
  });
  ASSERT_TRUE(wait_for([&] { return metric(s, "gpt2_sequences_in_system") >= 1; }));
  httplib::Client c = s.client();
  auto r = c.Post("/v1/completions", R"({"prompt": "b", "max_tokens": 2})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "queue_full");
  held.release();
  EXPECT_EQ(long_one.get(), 200);
}

// --queue-wait: a completion that finds no room waits for it, and is served
// once a place frees; one whose wait passes without room gets its 429 then.
// The engine is held, so "full" is an event the test controls; the waiter is
// seen waiting through /metrics before the engine is let go.
TEST(ServeLimitsTest, ACompletionWaitsForRoomUpToQueueWait) {
  const std::string first = R"({"prompt": "a", "max_tokens": 20, "ignore_eos": true})";
  const std::string second = R"({"prompt": "b", "max_tokens": 2, "ignore_eos": true})";
  for (const char* wait : {"60", "0.3"}) {
    SCOPED_TRACE(std::string("--queue-wait ") + wait);
    ServerProcess s({"--max-batch", "1", "--max-queue", "0", "--queue-wait", wait, "--dev-mode"});
    ASSERT_TRUE(s.ready()) << s.log();
    HeldEngine held(s);
    auto status_of = [&](const std::string& body) {
      return std::async(std::launch::async, [&s, body] {
        int status = 0;
        post(s, "/v1/completions", body, &status);
        return status;
      });
    };
    auto a = status_of(first);
    ASSERT_TRUE(wait_for([&] { return metric(s, "gpt2_sequences_in_system") >= 1; }));
    const auto t0 = std::chrono::steady_clock::now();
    auto b = status_of(second);
    if (std::string(wait) == "60") {
      ASSERT_TRUE(wait_for([&] { return metric(s, "gpt2_requests_waiting_for_room") == 1; }));
      held.release();
      EXPECT_EQ(b.get(), 200);
    } else {
      EXPECT_EQ(b.get(), 429);
      EXPECT_GE(std::chrono::steady_clock::now() - t0, 300ms);  // it waited first
      held.release();
    }
    EXPECT_EQ(a.get(), 200);
    EXPECT_EQ(metric(s, "gpt2_requests_waiting_for_room"), 0);
  }
}

// SIGTERM: the requests in flight finish whole, new ones are refused, exit 0.
// The engine is held while the signal comes, so the request is in flight by
// construction; once /health says the server is draining, a new completion
// is refused and the held one, let go, finishes whole.
TEST(ServeLimitsTest, SigtermFinishesTheRequestsInFlightAndExitsZero) {
  ServerProcess s({"--dev-mode"});
  ASSERT_TRUE(s.ready()) << s.log();
  HeldEngine held(s);
  auto in_flight = std::async(std::launch::async, [&] {
    int status = 0;
    const json r = post(s, "/v1/completions",
                        R"({"prompt": "a", "max_tokens": 200, "ignore_eos": true})", &status);
    return std::make_pair(status, r);
  });
  ASSERT_TRUE(wait_for([&] { return metric(s, "gpt2_sequences_in_system") >= 1; }));
  s.signal(SIGTERM);
  httplib::Client c = s.client();
  EXPECT_TRUE(wait_for([&] {
    auto h = c.Get("/health");
    return h && h->status == 503;
  })) << "the server is not draining";
  int refused = 0;
  const json r2 = post(s, "/v1/completions", R"({"prompt": "b", "max_tokens": 2})", &refused);
  EXPECT_EQ(refused, 503) << r2;
  held.release();
  const auto [status, r] = in_flight.get();
  EXPECT_EQ(status, 200) << r;
  EXPECT_EQ(r["choices"][0]["tokens"].size(), 200u);
  EXPECT_EQ(r["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(s.wait_exit(30s), 0) << s.log();
}

// --- Clients that attack the transport (server/http.h): 127.0.0.1 only,
// every loop bounded.

// Reads a raw connection's reply until the server closes it (or `bound`).
std::string read_to_close(int fd, int bound_s = 30) {
  timeval tv{bound_s, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  char buf[4096];
  for (ssize_t n = 1; n > 0;) {
    n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) got.append(buf, std::size_t(n));
  }
  return got;
}

// A raw request on a new connection, "Connection: close"; the whole reply.
std::string raw_request(int port, const std::string& method, const std::string& path,
                        const std::string& body = "") {
  const int fd = connect_loopback(port);
  if (fd < 0) return "";
  std::string r = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!body.empty()) {
    r +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  r += "\r\n" + body;
  send(fd, r.data(), r.size(), MSG_NOSIGNAL);
  std::string got = read_to_close(fd);
  close(fd);
  return got;
}

std::string gpt2_greedy(const std::string& prompt, int tokens) {
  const test::CommandResult r = test::run_command(
      kBin + "/gpt2 --model synthetic:tiny --mode kv-cache --rule greedy --max-new " +
      std::to_string(tokens) + " --prompt '" + prompt + "'");
  EXPECT_EQ(r.status, 0) << r.err;
  return r.out;
}

// The slowloris attack: 300 connections that each send a header byte a second
// for 10 s. /health and a completion, asked every 100 ms meanwhile, each
// answer within 1 s (the completion equal to gpt2's tokens); the trickling
// connections are closed by the whole-request deadline (3 s) and counted.
TEST(ServeAttackTest, TricklingConnectionsStallNobody) {
  ServerProcess s({"--read-timeout", "3", "--http-threads", "4"});
  ASSERT_TRUE(s.ready()) << s.log();
  const std::string want = gpt2_greedy("Ladies and", 8);
  const std::string cut = R"(gpt2_http_requests_cut_total{reason="read_deadline"})";
  const double cut_before = metric(s, cut);
  ASSERT_GE(cut_before, 0);
  std::vector<int> fds;
  for (int i = 0; i < 300; i++) {
    const int fd = connect_loopback(s.port());
    ASSERT_GE(fd, 0) << "connection " << i;
    fds.push_back(fd);
  }
  std::atomic<bool> stop{false};
  std::thread trickle([&] {
    const std::string header = "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (std::size_t second = 0; second < 10 && !stop; second++) {
      for (int fd : fds) send(fd, &header[second % header.size()], 1, MSG_NOSIGNAL);
      std::this_thread::sleep_for(1s);
    }
  });
  double slowest = 0;
  int asked = 0;
  const auto until = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < until) {
    const auto t0 = std::chrono::steady_clock::now();
    httplib::Client c = s.client();
    auto h = c.Get("/health");
    ASSERT_TRUE(h) << "no /health answer";
    EXPECT_EQ(h->status, 200);
    int status = 0;
    const json r = post(s, "/v1/completions",
                        R"({"prompt": "Ladies and", "max_tokens": 8, "rule": "greedy"})", &status);
    ASSERT_EQ(status, 200) << r;
    EXPECT_EQ(r["choices"][0]["text"], want);
    slowest = std::max(
        slowest, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    asked++;
    std::this_thread::sleep_for(100ms);
  }
  stop = true;
  trickle.join();
  EXPECT_LT(slowest, 1.0) << "the slowest /health + completion took " << slowest << " s";
  EXPECT_GE(asked, 5);
  int closed = 0;
  for (int fd : fds) {
    const std::string got = read_to_close(fd, 10);
    if (got.rfind("HTTP/1.1 408", 0) == 0) closed++;
    close(fd);
  }
  EXPECT_EQ(closed, 300) << "connections the deadline did not cut with a 408";
  EXPECT_GE(metric(s, cut), cut_before + 300);
}

// --max-connections: once that many are open, a new connection gets a 503
// with Retry-After and is closed, however many come; freed places serve again.
// --max-connections-per-client caps one address the same way.
TEST(ServeAttackTest, ConnectionsPastTheCapGet503AndTheServerGoesOn) {
  for (const std::string cap : {"--max-connections", "--max-connections-per-client"}) {
    SCOPED_TRACE(cap);
    ServerProcess s({cap, "20", "--read-timeout", "120"});
    ASSERT_TRUE(s.ready()) << s.log();
    std::vector<int> idle;
    for (int i = 0; i < 20; i++) {
      const int fd = connect_loopback(s.port());
      ASSERT_GE(fd, 0);
      idle.push_back(fd);
    }
    // The 20 held (the probes before them closed): a probe is refused.
    ASSERT_TRUE(wait_for(
        [&] { return raw_request(s.port(), "GET", "/health").rfind("HTTP/1.1 503", 0) == 0; }));
    for (int i = 0; i < 50; i++) {  // a flood past the cap
      const std::string got = raw_request(s.port(), "GET", "/health");
      ASSERT_EQ(got.rfind("HTTP/1.1 503", 0), 0u) << got;
      EXPECT_NE(got.find("Retry-After: 1\r\n"), std::string::npos) << got;
      EXPECT_NE(got.find("too_many_connections"), std::string::npos) << got;
    }
    for (int fd : idle) close(fd);
    ASSERT_TRUE(wait_for([&] {
      return raw_request(s.port(), "GET", "/health").rfind("HTTP/1.1 200", 0) == 0;
    })) << "the freed places do not serve";
    EXPECT_GE(metric(s, "gpt2_http_connections_refused_total"), 51);
    int status = 0;
    post(s, "/v1/completions", R"({"prompt": "a", "max_tokens": 2})", &status);
    EXPECT_EQ(status, 200);
  }
}

// A request whose bytes arrive one at a time is served whole; one whose
// client leaves halfway through its body frees its connection; a stream that
// its client reads only at the end stalls nobody and arrives whole.
TEST(ServeAttackTest, ByteByByteHalfSentAndUnreadRequests) {
  ServerProcess s({"--read-timeout", "30"});
  ASSERT_TRUE(s.ready()) << s.log();
  const std::string want = gpt2_greedy("Ladies and", 8);
  const std::string body = R"({"prompt": "Ladies and", "max_tokens": 8, "rule": "greedy"})";
  const std::string request =
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
      "application/json\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  {
    const int fd = connect_loopback(s.port());
    ASSERT_GE(fd, 0);
    const int yes = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    for (char ch : request) {
      ASSERT_EQ(send(fd, &ch, 1, MSG_NOSIGNAL), 1);
      std::this_thread::sleep_for(1ms);
    }
    const std::string got = read_to_close(fd);
    close(fd);
    ASSERT_EQ(got.rfind("HTTP/1.1 200", 0), 0u) << got;
    const json r = json::parse(got.substr(got.find("\r\n\r\n") + 4));
    EXPECT_EQ(r["choices"][0]["text"], want);
  }
  {
    const double open = metric(s, "gpt2_http_open_connections");  // itself included
    const int fd = connect_loopback(s.port());
    ASSERT_GE(fd, 0);
    const std::string half = request.substr(0, request.size() - body.size() / 2);
    send(fd, half.data(), half.size(), MSG_NOSIGNAL);
    ASSERT_TRUE(wait_for([&] { return metric(s, "gpt2_http_open_connections") >= open + 1; }));
    close(fd);
    EXPECT_TRUE(wait_for([&] { return metric(s, "gpt2_http_open_connections") <= open; }))
        << "a client gone halfway through its body still holds its connection";
  }
  {
    const int fd = connect_loopback(s.port());
    ASSERT_GE(fd, 0);
    const std::string sb =
        R"({"prompt": "Ladies and", "max_tokens": 100, "ignore_eos": true, "stream": true,
            "n": 4, "logprobs": 5})";
    const std::string sr =
        "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: "
        "application/json\r\nContent-Length: " +
        std::to_string(sb.size()) + "\r\n\r\n" + sb;
    send(fd, sr.data(), sr.size(), MSG_NOSIGNAL);
    // Nothing read yet: others are served meanwhile.
    for (int i = 0; i < 5; i++) {
      int status = 0;
      const json r = post(s, "/v1/completions", body, &status);
      ASSERT_EQ(status, 200) << r;
      EXPECT_EQ(r["choices"][0]["text"], want);
    }
    const std::string got = read_to_close(fd);
    close(fd);
    int events = 0;  // 4 choices x 100 tokens, then [DONE]
    for (std::size_t at = got.find("data: {"); at != std::string::npos;
         at = got.find("data: {", at + 1)) {
      events++;
    }
    EXPECT_EQ(events, 400) << got.substr(0, 400);
    EXPECT_NE(got.find("data: [DONE]"), std::string::npos);
  }
}

TEST(ServeLimitsTest, BadCommandLinesAreOneLine) {
  for (const std::string args :
       {"--backend nope", "--max-batch 0", "--precision int3", "--port 70000",
        "--model /nonexistent.bin --port 0", "--mode fast", "--max-queue -1", "--request-timeout 0",
        "--queue-wait -1", "--queue-wait 61"}) {
    const test::CommandResult r = test::run_command(kBin + "/gpt2-serve " + args);
    EXPECT_EQ(r.status, 1) << args << ": " << r.err;
    EXPECT_TRUE(r.out.empty()) << args;
    if (args.find("nonexistent") != std::string::npos) {
      EXPECT_NE(r.err.find("nonexistent"), std::string::npos) << r.err;
    }
  }
}

}  // namespace
}  // namespace gpt2
