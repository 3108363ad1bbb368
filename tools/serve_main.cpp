// gpt2-serve: an OpenAI-compatible completion server on any backend, with
// continuous batching (server/). A front end of the runtime alone.
//
//   gpt2-serve --backend pthreads --threads 16 --port 8080
//   curl -s localhost:8080/v1/completions -d '{"prompt": "Ladies and", "max_tokens": 20}'
//
// Binds 127.0.0.1 unless --host says otherwise; /health answers 503 while the
// model loads. SIGTERM or SIGINT: new completions are refused, those in flight
// finish, then it exits 0.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "backends/registry.h"
#include "runtime/backend_specs.h"
#include "runtime/cli.h"
#include "runtime/generate.h"
#include "runtime/model_source.h"
#include "runtime/scheduler.h"
#include "runtime/tokenizer/tokenizer.h"
#include "server/engine.h"
#include "server/server.h"

namespace gpt2 {
namespace {

struct Options {
  std::string model_spec = "default";
  std::string backend = "pthreads";
  int threads = 0;  // 0: every core
  int devices = 1;  // a multi-GPU backend's GPU count
  bool one_gpu = false;
  std::string precision = "float32";
  std::string mode = "kv-cache";
  int max_batch = 16;
  int max_queue = 64;
  double queue_wait_s = 1;
  server::ServerOptions http;
  std::string api_key_file;
  std::string port_file;
  std::string model_name;
};

std::optional<int> parse(int argc, char** argv, Options& o) {
  CLI::App app{
      "An OpenAI-compatible completion server for GPT-2 on any backend, with continuous "
      "batching.\n\n"
      "  POST /v1/completions  prompt (text, ids or a list), max_tokens, temperature, top_p,\n"
      "                        top_k, seed, rule, n, stop, stream, echo, logprobs, ignore_eos,\n"
      "                        timeout\n"
      "  GET /v1/models, GET /health, GET /metrics, POST /tokenize, POST /detokenize\n\n"
      "A request's tokens are those `gpt2` gives its prompt, rule and seed alone, at any load.\n"
      "Example: gpt2-serve --backend pthreads --threads 4 --port 8080",
      "gpt2-serve"};
  app.add_option("--model", o.model_spec,
                 "Checkpoint (llm.c .bin, .safetensors or a folder), synthetic:<preset>[:seed=N], "
                 "or default")
      ->capture_default_str();
  app.add_option("--backend", o.backend, "Backend: " + backend_names_joined())
      ->capture_default_str();
  app.add_option("--threads", o.threads, "Threads for the backend (default: every core)");
  app.add_option("--devices", o.devices, "GPUs of a multi-GPU backend (cuda-tp): GPUs 0..N-1")
      ->capture_default_str();
  app.add_flag("--one-gpu", o.one_gpu, "With --devices N: all N ranks on GPU 0 (no NCCL)");
  app.add_option("--precision", o.precision, "float32, bf16w, int8w, bfloat16 (cuda)")
      ->capture_default_str();
  app.add_option("--mode", o.mode, "kv-cache, or recompute (the whole sequence every step)")
      ->capture_default_str();
  app.add_option(
         "--max-batch", o.max_batch,
         "Sequences in flight at once (continuous batching), 1 to " + std::to_string(kMaxBatch))
      ->capture_default_str();
  app.add_option("--max-queue", o.max_queue,
                 "Sequences waiting beyond those in flight; more is a 429 with Retry-After")
      ->capture_default_str();
  app.add_option("--queue-wait", o.queue_wait_s,
                 "Seconds a completion that finds --max-batch + --max-queue full waits for room "
                 "before its 429 (0: at once)")
      ->capture_default_str();
  app.add_option("--host", o.http.host, "Address to bind (0.0.0.0: every interface)")
      ->capture_default_str();
  app.add_option("--port", o.http.port, "Port (0: any free port)")->capture_default_str();
  app.add_option("--port-file", o.port_file, "Write the port bound to this file once listening");
  app.add_option("--api-key", o.http.api_key,
                 "Require Authorization: Bearer <key> on every endpoint but /health (or the "
                 "environment's GPT2_API_KEY)");
  app.add_option("--api-key-file", o.api_key_file, "Read the API key from this file's first line");
  app.add_option("--model-name", o.model_name, "The model's id in /v1/models and replies");
  app.add_option("--max-body", o.http.max_body_bytes, "Largest request body, in bytes (413)")
      ->capture_default_str();
  app.add_option("--read-timeout", o.http.read_timeout_s,
                 "Seconds for a whole request, headers and body, from its first byte (408 after "
                 "it; a trickle of bytes does not renew it)")
      ->capture_default_str();
  app.add_option("--write-timeout", o.http.write_timeout_s,
                 "Seconds a reply may wait for a client that stops reading (then it is dropped)")
      ->capture_default_str();
  app.add_option("--max-connections", o.http.max_connections,
                 "Connections open at once; past it a new one gets 503 with Retry-After")
      ->capture_default_str();
  app.add_option("--max-connections-per-client", o.http.max_connections_per_client,
                 "Connections open at once from one client address (0: no cap); past it 503")
      ->capture_default_str();
  app.add_option("--request-timeout", o.http.request_timeout_s,
                 "A completion's deadline in seconds, queueing included (504 after it)")
      ->capture_default_str();
  app.add_option("--http-threads", o.http.http_threads,
                 "Threads that run complete requests (default: max-batch + max-queue + 8); "
                 "connections waiting for bytes hold none");
  app.add_flag("-v,--verbose", o.http.log, "Log each request on stderr");
  app.add_flag("--dev-mode", o.http.dev_mode,
               "Serve GET/POST /dev/engine: hold the engine after N more steps "
               "({\"hold_after_steps\": N}) or let it run (null), for tests and debugging");
  if (std::optional<int> status = parse_arguments(app, argc, argv)) return status;
  return std::nullopt;
}

// A mistake on the command line: one line, exit 1.
[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "gpt2-serve: " << message << "\n";
  std::exit(1);
}

void check(Options& o) {
  if (o.max_batch < 1 || o.max_batch > kMaxBatch) {
    usage_error("--max-batch " + std::to_string(o.max_batch) + " is outside [1, " +
                std::to_string(kMaxBatch) + "].");
  }
  if (o.max_queue < 0 || o.max_queue > 1 << 16) {
    usage_error("--max-queue " + std::to_string(o.max_queue) + " is outside [0, 65536].");
  }
  if (!(o.queue_wait_s >= 0 && o.queue_wait_s <= 60)) {
    usage_error("--queue-wait must be in [0, 60] seconds.");
  }
  if (o.http.port < 0 || o.http.port > 65535) {
    usage_error("--port " + std::to_string(o.http.port) + " is outside [0, 65535].");
  }
  if (o.http.read_timeout_s < 1 || o.http.write_timeout_s < 1) {
    usage_error("--read-timeout and --write-timeout must be at least 1 s.");
  }
  if (!(o.http.request_timeout_s > 0)) usage_error("--request-timeout must be > 0.");
  if (o.http.max_body_bytes < 64) usage_error("--max-body must be at least 64 bytes.");
  if (o.threads < 0) usage_error("--threads must be at least 1.");
  if (!o.api_key_file.empty()) {
    std::ifstream in(o.api_key_file);
    if (!in || !std::getline(in, o.http.api_key) || o.http.api_key.empty()) {
      usage_error(o.api_key_file + ": cannot read an API key from its first line.");
    }
  }
  if (o.http.api_key.empty()) {
    if (const char* env = std::getenv("GPT2_API_KEY"); env != nullptr) o.http.api_key = env;
  }
  if (o.http.max_connections < 1 || o.http.max_connections > 1 << 20) {
    usage_error("--max-connections must be in [1, 1048576].");
  }
  if (o.http.max_connections_per_client < 0) {
    usage_error("--max-connections-per-client must be 0 (no cap) or more.");
  }
  if (o.http.http_threads == 0) o.http.http_threads = o.max_batch + o.max_queue + 8;
  if (o.http.http_threads < 2 || o.http.http_threads > 4096) {
    usage_error("--http-threads must be in [2, 4096].");
  }
}

int run(Options& o) {
  check(o);
  // Everything that can be checked before the model loads.
  const std::optional<Mode> mode = parse_mode(o.mode);
  if (!mode) usage_error("Unknown mode '" + o.mode + "' (known: recompute, kv-cache).");
  const std::optional<Precision> precision = parse_precision(o.precision);
  find_backend(o.backend);  // throws for an unknown backend
  if (!precision) {
    usage_error("Unknown precision '" + o.precision + "' (known: " + precision_names_joined() +
                ").");
  }
  const int threads = o.threads > 0 ? o.threads : int(std::thread::hardware_concurrency());
  BackendSpec spec = backend_spec(o.backend, *precision, std::max(1, threads));
  if (o.devices < 1 || o.devices > kMaxGpus) {
    usage_error("--devices must be in [1, " + std::to_string(kMaxGpus) + "].");
  }
  if (find_backend(o.backend).multi_gpu) {
    spec.devices = gpu_devices(o.devices, o.one_gpu);
  } else if (o.devices != 1 || o.one_gpu) {
    usage_error("--devices and --one-gpu are for a multi-GPU backend (cuda-tp), not " + o.backend +
                ".");
  }

  // Signals go to one thread, which starts the shutdown.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // The model first (a bad checkpoint is one line, before anything listens);
  // the backend (weights converted, copied to a GPU) while /health says loading.
  std::shared_ptr<const Model> model = open_model(o.model_spec, &std::cerr);
  const ModelConfig& cfg = model->config();
  if (cfg.vocab_size > kTokenizerVocabSize) {
    usage_error("The model's vocabulary (" + std::to_string(cfg.vocab_size) +
                ") is larger than GPT-2's tokenizer's.");
  }
  // A file per connection: the soft limit raised to what --max-connections
  // needs, or the cap lowered to what the hard limit allows (with a note).
  constexpr rlim_t kSpareFiles = 256;  // the model, logs, the loop's own
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0) {
    const rlim_t want = rlim_t(o.http.max_connections) + kSpareFiles;
    if (files.rlim_cur < want) {
      files.rlim_cur = std::min(want, files.rlim_max);
      ::setrlimit(RLIMIT_NOFILE, &files);
    }
    if (files.rlim_cur < want) {
      o.http.max_connections = int(std::max<rlim_t>(files.rlim_cur, 2 * kSpareFiles) - kSpareFiles);
      std::cerr << "gpt2-serve: at most " << files.rlim_cur << " open files here (ulimit -n): "
                << "--max-connections lowered to " << o.http.max_connections << "\n";
    }
  }
  server::HttpServer http(o.http);
  http.bind();
  std::thread listener([&] { http.listen(); });
  std::thread([&http, signals] {
    int sig = 0;
    sigwait(&signals, &sig);
    std::fprintf(stderr, "gpt2-serve: %s: finishing the requests in flight\n",
                 sig == SIGTERM ? "SIGTERM" : "SIGINT");
    http.shutdown();
  }).detach();
  std::fprintf(stderr, "gpt2-serve: listening on http://%s:%d (loading the model)\n",
               o.http.host.c_str(), http.port());
  if (!o.port_file.empty()) {
    std::ofstream(o.port_file) << http.port() << "\n";
  }

  std::unique_ptr<Backend> backend;
  std::unique_ptr<server::Engine> engine;
  std::optional<Tokenizer> tokenizer;
  try {
    tokenizer = Tokenizer::load_default();
    backend = make_backend(model, spec);
    // Every sequence in flight may hold a cache of the whole context.
    const std::size_t need = std::size_t(o.max_batch) * kv_cache_bytes(cfg, cfg.max_seq_len);
    const std::optional<std::size_t> gpu = backend->device_memory_free();
    const std::size_t have = gpu ? *gpu : available_memory();
    if (have != 0 && need > have) {
      throw std::runtime_error(
          "--max-batch " + std::to_string(o.max_batch) + " sequences of the whole context need " +
          std::to_string(need >> 20) + " MiB of key/value caches; " + std::to_string(have >> 20) +
          (gpu ? " MiB are free on the GPU." : " MiB of memory are available."));
    }
    server::EngineOptions eo;
    eo.max_batch = o.max_batch;
    eo.max_queue = o.max_queue;
    eo.queue_wait = std::chrono::milliseconds(std::lround(o.queue_wait_s * 1000));
    eo.mode = *mode;
    engine = std::make_unique<server::Engine>(*backend, *tokenizer, eo);
    server::Limits limits;
    limits.context = cfg.max_seq_len;
    limits.vocab = cfg.vocab_size;
    limits.max_timeout_s = o.http.request_timeout_s;
    limits.max_sequences = std::min(64, o.max_batch + o.max_queue);
    limits.max_n = std::min(16, limits.max_sequences);
    limits.max_prompts = limits.max_sequences;
    const std::string name = o.model_name.empty() ? model->name() : o.model_name;
    http.ready(*backend, *tokenizer, *engine, name, limits);
    const BackendInfo& info = backend->info();
    std::fprintf(stderr, "gpt2-serve: ready: %s on %s (%s, %s, %s), --max-batch %d\n", name.c_str(),
                 info.name.c_str(), numerics_name(info.numerics), precision_name(info.precision),
                 threads_text(info.threads).c_str(), o.max_batch);
  } catch (const std::exception& e) {
    std::cerr << "gpt2-serve: " << e.what() << "\n";
    http.shutdown();
    listener.join();
    return 1;
  }
  listener.join();
  engine.reset();
  std::fprintf(stderr, "gpt2-serve: stopped\n");
  return 0;
}

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  gpt2::Options options;
  if (std::optional<int> status = gpt2::parse(argc, argv, options)) return *status;
  try {
    return gpt2::run(options);
  } catch (const std::exception& e) {
    std::cerr << "gpt2-serve: " << e.what() << "\n";
    return 1;
  }
}
