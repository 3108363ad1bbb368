#include "tests/test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "backends/registry.h"
#include "harness/golden_run.h"
#include "reference/random.h"
#include "reference/synthetic.h"
#include "runtime/backend_specs.h"

namespace gpt2::test {

std::shared_ptr<const Model> tiny_model() {
  static std::shared_ptr<const Model> model = make_synthetic_model("tiny", kDefaultSyntheticSeed);
  return model;
}

std::vector<Prompt> prompts() {
  return {{"a", 8, {31373, 612, 338}}, {"b", 6, {50256}}, {"c", 12, {464, 2068, 7586, 21831}}};
}

GoldenFile reference_goldens(Rule rule, Precision precision) {
  auto reference = make_backend(tiny_model(), backend_spec("reference", precision));
  return run_prompts(*reference, prompts(), rule, Mode::kRecompute, 1);
}

std::vector<BackendSpec> specs(const std::string& backends, const std::string& precisions,
                               const std::string& threads) {
  return expand_backend_specs({backends, precisions, threads}).specs;
}

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool same_bits(std::span<const float> a, std::span<const float> b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

bool wait_for(const std::function<bool()>& event, std::chrono::seconds bound) {
  for (auto until = std::chrono::steady_clock::now() + bound;
       std::chrono::steady_clock::now() < until;) {
    if (event()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return event();
}

int connect_loopback(int port, int recv_timeout_s) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(std::uint16_t(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  if (recv_timeout_s > 0) {
    timeval tv{recv_timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  return fd;
}

namespace {
struct TempRoot {
  std::filesystem::path path;
  TempRoot() {
    std::random_device rd;
    path = std::filesystem::temp_directory_path() /
           ("gpt2-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    std::filesystem::create_directories(path);
  }
  ~TempRoot() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::filesystem::path temp_dir() {
  static TempRoot root;
  static int counter = 0;
  std::filesystem::path dir = root.path / std::to_string(counter++);
  std::filesystem::create_directories(dir);
  return dir;
}

CommandResult run_command(const std::string& command) {
  const std::filesystem::path dir = temp_dir();
  const std::string out = (dir / "stdout").string(), err = (dir / "stderr").string();
  CommandResult r;
  const int status = std::system((command + " >" + out + " 2>" + err + " </dev/null").c_str());
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

std::vector<float> random_values(std::size_t n, std::uint64_t seed, float scale) {
  SplitMix64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * bell_from_bits(rng.next());
  return v;
}

}  // namespace gpt2::test
