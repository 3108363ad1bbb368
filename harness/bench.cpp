#include "harness/bench.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <span>
#include <sstream>
#include <thread>
#include <utility>

#include "backends/registry.h"
#include "harness/report.h"
#include "runtime/backend_specs.h"
#include "runtime/scheduler.h"

namespace gpt2 {

int Workload::new_tokens() const {
  int n = 0;
  for (const Prompt& p : prompts) n += p.n - int(p.tokens.size());
  return n;
}

long Workload::positions(Mode mode) const {
  long n = 0;
  for (const Prompt& p : prompts) {
    const long prompt = long(p.tokens.size()), steps = p.n - prompt;
    n += mode == Mode::kRecompute ? steps * prompt + steps * (steps - 1) / 2 : prompt + steps - 1;
  }
  return n;
}

double Workload::flops(Mode mode, const ModelConfig& config) const {
  double total = 0;
  for (const Prompt& p : prompts) {
    const long prompt = long(p.tokens.size());
    for (long len = prompt; len < p.n; len++) {  // a forward per new token
      const bool first = len == prompt;
      total += mode == Mode::kRecompute ? forward_flops(config, 0, len)
               : first                  ? forward_flops(config, 0, prompt)
                                        : forward_flops(config, len - 1, 1);
    }
  }
  return total;
}

double forward_flops(const ModelConfig& c, long pos, long n) {
  const double C = c.channels, L = c.num_layers;
  // qkv (3C x C), the attention projection (C x C), fc (4C x C), fc projection
  // (C x 4C): 12 C^2 multiplies and adds per position and layer.
  const double products = 2.0 * double(n) * 12.0 * C * C;
  // Position p attends to p + 1 keys: scores and the weighted values, C each.
  double keys = 0;
  for (long p = pos; p < pos + n; p++) keys += double(p + 1);
  const double attention = 2.0 * 2.0 * C * keys;
  const double logits = 2.0 * double(c.vocab_size) * C;  // the last position only
  return L * (products + attention) + logits;
}

std::string RowCeiling::short_name() const {
  if (name == "read bandwidth") return "bw";
  if (name == "fp32 mul+add peak") return "mul+add";
  if (name == "fp32 FMA peak") return "fma";
  if (name == "bf16 peak") return "bf16";
  if (name == "GPU copy bandwidth") return "copy";
  if (name == "cuBLAS fp32 peak") return "fp32";
  if (name == "cuBLAS bf16 peak") return "bf16";
  return name;
}

namespace {

// The GPU ceilings of a GPU row's device, or nullptr.
const GpuCeilings* gpu_ceilings_of(const Measurement& m, const std::vector<GpuCeilings>& gpus) {
  const int device = m.info.gpus.empty() ? 0 : m.info.gpus.front().index;
  for (const GpuCeilings& g : gpus) {
    if (g.device == device) return &g;
  }
  return nullptr;
}

}  // namespace

std::pair<RowCeiling, RowCeiling> row_ceilings(const Measurement& m, const Ceilings& cpu,
                                               const std::vector<GpuCeilings>& gpus) {
  const bool bf16 = m.precision == Precision::kBFloat16;
  if (m.info.device == Device::kCuda) {
    const GpuCeilings* g = gpu_ceilings_of(m, gpus);
    if (g == nullptr) return {};
    return {{"memory", "GPU copy bandwidth", "GB/s", g->copy_gb_s},
            bf16 ? RowCeiling{"compute", "cuBLAS bf16 peak", "GFLOP/s", g->bf16_gflops}
                 : RowCeiling{"compute", "cuBLAS fp32 peak", "GFLOP/s", g->fp32_gflops}};
  }
  const CeilingPoint* point = cpu.at(m.threads);
  if (point == nullptr) return {};
  const RowCeiling bandwidth{"memory", "read bandwidth", "GB/s", point->read_gb_s};
  if (bf16) return {bandwidth, {"compute", "bf16 peak", "GFLOP/s", point->bf16_gflops}};
  if (m.info.numerics == Numerics::kBitExact) {
    return {bandwidth, {"compute", "fp32 mul+add peak", "GFLOP/s", point->fp32_mul_add_gflops}};
  }
  return {bandwidth, {"compute", "fp32 FMA peak", "GFLOP/s", point->fp32_fma_gflops}};
}

void apply_ceilings(const Ceilings& ceilings, const std::vector<GpuCeilings>& gpu_ceilings,
                    const ModelConfig& config, const Workload& w,
                    std::vector<Measurement>& measurements) {
  for (Measurement& m : measurements) {
    m.ceiling = {};
    if (m.stats.median <= 0 || m.info.numerics == Numerics::kNone) continue;
    const auto [bandwidth, peak] = row_ceilings(m, ceilings, gpu_ceilings);
    if (peak.value <= 0 || bandwidth.value <= 0) continue;  // not measured here
    // Each step reads every weight once, whatever its batch (measurements from
    // before the batch axis counted a step per new token).
    const double steps = m.steps > 0 ? double(m.steps) : double(w.new_tokens());
    const double bytes = steps * weight_bytes_per_forward(config, m.precision);
    const double flops = m.flops_per_run > 0 ? m.flops_per_run : w.flops(m.mode, config);
    const double memory_s = bytes / (bandwidth.value * 1e9);
    const double compute_s = flops / (peak.value * 1e9);
    RowCeiling c = memory_s >= compute_s ? bandwidth : peak;
    c.achieved = c.bound == "memory" ? bytes / m.stats.median / 1e9 : flops / m.stats.median / 1e9;
    c.percent = 100.0 * c.achieved / c.value;
    m.ceiling = c;
  }
}

double matrix_weight_bytes(Precision precision, double rows, double cols) {
  switch (precision) {
    case Precision::kBFloat16:
    case Precision::kBF16Weights:
      return rows * cols * 2;
    case Precision::kInt8Weights:
      return rows * cols + rows * 4;  // and a scale per row
    case Precision::kFloat32:
      break;
  }
  return rows * cols * 4;
}

double weight_bytes_per_forward(const ModelConfig& c, Precision precision) {
  const double C = c.channels, L = c.num_layers;
  const double small = L * (3 * C + C + 4 * C + C + 4 * C) + 2 * C;  // biases, layernorms
  return matrix_weight_bytes(precision, L * 3 * C, C) +              // qkv
         matrix_weight_bytes(precision, L * C, C) +                  // attproj
         matrix_weight_bytes(precision, L * 4 * C, C) +              // fc
         matrix_weight_bytes(precision, L * C, 4 * C) +              // fcproj
         matrix_weight_bytes(precision, c.vocab_size, C) +           // logits: wte's V rows
         small * 4;
}

const GoldenFile* SweepOptions::goldens_for(Precision precision) const {
  const Precision want = golden_precision_of(precision);
  for (const GoldenFile& g : goldens) {
    if (g.precision == want) return &g;
  }
  return nullptr;
}

std::string Workload::describe() const {
  std::ostringstream out;
  out << prompts.size() << " prompt" << (prompts.size() == 1 ? "" : "s") << " (";
  for (std::size_t i = 0; i < prompts.size() && i < 6; i++) {
    out << (i ? ", " : "") << prompts[i].id << ": " << prompts[i].tokens.size() << " -> "
        << prompts[i].n;
  }
  if (prompts.size() > 6) out << ", ...";
  if (beams) {
    out << "), beam search (" << beam_options_label(*beams)
        << "; tokens/s counts every beam's token at every step)";
  } else {
    out << "), " << new_tokens() << " new tokens per run, rule " << rule_name(rule);
  }
  return out.str();
}

const char* check_name(Check c) {
  switch (c) {
    case Check::kYes:
      return "yes";
    case Check::kNo:
      return "NO";
    case Check::kNotApplicable:
      return "n/a";
  }
  return "?";
}

Workload batched_workload(const Workload& w, int batch) {
  Workload out = w;
  if (batch <= 1 || w.prompts.empty()) return out;
  out.prompts.clear();
  const std::size_t sequences = std::max(std::size_t(batch), w.prompts.size());
  for (std::size_t i = 0; i < sequences; i++)
    out.prompts.push_back(w.prompts[i % w.prompts.size()]);
  return out;
}

void check_cache_memory(const Backend& backend, const Workload& w, int batch) {
  std::vector<int> capacities;
  for (const Prompt& p : w.prompts) capacities.push_back(p.n - 1);
  std::sort(capacities.rbegin(), capacities.rend());
  std::size_t need = 0;
  for (std::size_t i = 0; i < capacities.size() && int(i) < batch; i++) {
    need += kv_cache_bytes(backend.model().config(), capacities[i]);
  }
  const std::optional<std::size_t> gpu = backend.device_memory_free();
  if (const std::size_t have = gpu ? *gpu : available_memory(); have > 0 && need > have) {
    throw std::runtime_error(
        "A batch of " + std::to_string(batch) + " sequences needs " + std::to_string(need >> 20) +
        " MiB of key/value caches; " + std::to_string(have >> 20) +
        (gpu ? " MiB are free on the GPU (" + backend.info().gpus.at(0).name + ")."
             : " MiB of memory are available."));
  }
}

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kSettle = std::chrono::milliseconds(50);  // see the interleaved runs below

// The golden continuation of a prompt, if the goldens have all of its steps.
std::optional<std::vector<const GoldenStep*>> golden_steps(const GoldenFile* goldens,
                                                           const Prompt& p) {
  if (goldens == nullptr) return std::nullopt;
  std::vector<const GoldenStep*> steps;
  for (int s = 0; s < p.n - int(p.tokens.size()); s++) {
    const GoldenStep* g = goldens->find(p.id, s);
    if (g == nullptr) return std::nullopt;
    steps.push_back(g);
  }
  return steps;
}

// One configuration's runs: its sessions are opened once; warm-up runs (which
// also check the logits against the goldens' hashes) come first, then `reps`
// timed runs (each checking the tokens), one call each, so that a sweep can
// interleave the runs of several configurations.
class ConfigRun {
 public:
  // batch 1: each of the workload's prompts alone, one after another; more:
  // batched_workload()'s sequences through one scheduler, `batch` at a time.
  ConfigRun(const Backend& backend, Mode mode, const Workload& w, int batch, int reps,
            const GoldenFile* goldens,
            const std::map<std::string, std::vector<int>>* expected_tokens, std::string label)
      : backend_(backend),
        mode_(mode),
        w_(batched_workload(w, batch)),
        beams_(w.beams),
        batch_(batch),
        reps_(reps),
        label_(std::move(label)) {
    m_.backend = backend.info().name;
    m_.precision = backend.info().precision;
    m_.info = backend.info();
    m_.threads = backend.info().threads;
    m_.gpus = backend.info().ranks;
    m_.multi_gpu = find_backend(m_.backend).multi_gpu;
    m_.workers_label = workers_text(backend.info(), m_.multi_gpu);
    m_.mode = mode;
    m_.batch = batch;
    m_.sequences = int(w_.prompts.size());
    logits_known_ = backend.info().numerics == Numerics::kBitExact;
    // Beam search: the rule's goldens do not apply; its tokens are checked
    // against the reference's (expected_tokens), its logits not at all.
    if (beams_) {
      goldens = nullptr;
      logits_known_ = false;
    }
    if (batch > 1 && !beams_) {
      scheduler_ = std::make_unique<Scheduler>(backend, batch, mode);
      check_cache_memory(backend, w_, batch);
    }
    for (const Prompt& p : w_.prompts) {
      if (batch == 1 && !beams_) sessions_.push_back(backend.open_session(p.n - 1));
      auto steps = golden_steps(goldens, p);
      std::optional<std::vector<int>> tokens;
      if (steps) {
        tokens.emplace();
        for (const GoldenStep* s : *steps) tokens->push_back(s->token);
      } else if (expected_tokens && expected_tokens->count(p.id)) {
        tokens = expected_tokens->at(p.id);
      }
      tokens_known_ = tokens_known_ && tokens.has_value();
      logits_known_ = logits_known_ && steps.has_value();
      golden_.push_back(std::move(steps));
      expected_.push_back(std::move(tokens));
    }
  }

  int reps() const { return reps_; }

  // Untimed runs: --warmup of them, at least one when it checks the logits
  // (hashing is not timed).
  void warm_up(const ProgressFn& progress) {
    for (int i = 0, n = std::max(w_.warmup, logits_known_ ? 1 : 0); i < n; i++) {
      run(false, progress);
    }
  }

  // One timed run.
  void run_timed(const ProgressFn& progress) { run(true, progress); }

  Measurement finish() {
    m_.stats = summarize_samples(m_.samples);
    m_.tokens = tokens_known_ ? (tokens_ok_ ? Check::kYes : Check::kNo) : Check::kNotApplicable;
    m_.logits = logits_known_ ? (logits_ok_ ? Check::kYes : Check::kNo) : Check::kNotApplicable;
    if (m_.stats.median > 0 && beams_) {
      const ModelConfig& c = backend_.model().config();
      const int K = beams_->beams;
      m_.tokens_per_second = double(beam_tokens_) / m_.stats.median;
      m_.tokens_per_second_per_sequence =
          m_.tokens_per_second / (std::min(batch_, int(w_.prompts.size())) * K);
      m_.ms_per_step = 1e3 * m_.stats.median / double(m_.steps);
      m_.weights_gb_per_second =
          double(m_.steps) * weight_bytes_per_forward(c, m_.precision) / m_.stats.median / 1e9;
      double prefill = 0;
      for (const Prompt& p : w_.prompts) prefill += forward_flops(c, 0, long(p.tokens.size()));
      m_.flops_per_run = K * w_.flops(mode_, c) - (K - 1) * prefill;
      m_.gflop_per_second = m_.flops_per_run / m_.stats.median / 1e9;
    } else if (m_.stats.median > 0) {
      const ModelConfig& c = backend_.model().config();
      m_.tokens_per_second = w_.new_tokens() / m_.stats.median;
      m_.tokens_per_second_per_sequence =
          m_.tokens_per_second / std::min(batch_, int(w_.prompts.size()));
      m_.positions_per_second = double(w_.positions(mode_)) / m_.stats.median;
      m_.ms_per_step = 1e3 * m_.stats.median / double(m_.steps);
      // Decode alone (llama-batched-bench's S_TG): the new tokens after each
      // sequence's first, over the time after the first step.
      const double decode = summarize_samples(m_.decode_samples).median;
      if (decode > 0 && !m_.decode_samples.empty()) {
        m_.decode_tokens_per_second = double(w_.new_tokens() - int(w_.prompts.size())) / decode;
      }
      m_.weights_gb_per_second =
          double(m_.steps) * weight_bytes_per_forward(c, m_.precision) / m_.stats.median / 1e9;
      m_.flops_per_run = w_.flops(mode_, c);
      m_.gflop_per_second = m_.flops_per_run / m_.stats.median / 1e9;
    }
    return m_;
  }

 private:
  void run(bool timed, const ProgressFn& progress) {
    if (progress) {
      progress(label_ + ": " +
               (timed ? "run " + std::to_string(m_.samples.size() + 1) + "/" + std::to_string(reps_)
                      : std::string("warm-up")));
    }
    if (beams_) return run_beams(timed);
    if (batch_ > 1) return run_batched(timed);
    double seconds = 0, decode_seconds = 0;
    m_.steps = w_.new_tokens();  // one forward pass per new token
    for (std::size_t i = 0; i < w_.prompts.size(); i++) {
      const Prompt& p = w_.prompts[i];
      std::vector<int> got;
      if (!timed && logits_known_) {
        const std::vector<const GoldenStep*>& g = *golden_[i];
        got = generate(backend_, *sessions_[i], p.tokens, p.n, mode_, w_.rule,
                       [&](const StepView& s) {
                         if (logits_hash(s.logits) != g[s.step]->logits_hash) logits_ok_ = false;
                         return Next::kContinue;
                       });
      } else {
        // The first step (the prompt) apart from the decode steps after it.
        Clock::time_point first;
        const auto t0 = Clock::now();
        got = generate(backend_, *sessions_[i], p.tokens, p.n, mode_, w_.rule,
                       [&](const StepView& s) {
                         if (s.step == 0) first = Clock::now();
                         return Next::kContinue;
                       });
        const auto t1 = Clock::now();
        seconds += std::chrono::duration<double>(t1 - t0).count();
        decode_seconds += std::chrono::duration<double>(t1 - first).count();
      }
      if (tokens_known_ && got != *expected_[i]) tokens_ok_ = false;
      m_.generated[p.id] = std::move(got);
    }
    if (timed) {
      m_.samples.push_back(seconds);
      m_.decode_samples.push_back(decode_seconds);
    }
  }

  // Beam search: at batch 1 each prompt's search alone, one after another;
  // at batch B every prompt's at once (B prompts, K beams each).
  void run_beams(bool timed) {
    std::vector<BeamPrompt> prompts;
    for (const Prompt& p : w_.prompts) prompts.push_back({p.tokens, p.n});
    BeamTimes times;
    std::vector<BeamResult> results;
    const auto t0 = Clock::now();
    if (batch_ == 1) {
      for (std::size_t i = 0; i < prompts.size(); i++) {
        results.push_back(
            beam_search(backend_, std::span(prompts).subspan(i, 1), *beams_, mode_, &times)
                .front());
      }
    } else {
      results = beam_search(backend_, prompts, *beams_, mode_, &times);
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    m_.steps = times.steps;
    beam_tokens_ = times.tokens;
    for (std::size_t i = 0; i < results.size(); i++) {
      const std::vector<int>& got = results[i].hypotheses.front().tokens;
      if (tokens_known_ && got != *expected_[i]) tokens_ok_ = false;
      m_.generated[w_.prompts[i].id] = got;
    }
    if (timed) m_.samples.push_back(seconds);
  }

  // Every sequence submitted, then the scheduler run to the end: the time of
  // the whole batch.
  void run_batched(bool timed) {
    const bool check = !timed && logits_known_;
    std::vector<int> ids;
    for (std::size_t i = 0; i < w_.prompts.size(); i++) {
      const Prompt& p = w_.prompts[i];
      Request r;
      r.prompt = p.tokens;
      r.n = p.n;
      r.rule = w_.rule;
      if (check) {
        r.on_step = [this, i](const StepView& s) {
          if (logits_hash(s.logits) != (*golden_[i])[s.step]->logits_hash) logits_ok_ = false;
          return Next::kContinue;
        };
      }
      ids.push_back(scheduler_->submit(std::move(r)));
    }
    const long steps_before = scheduler_->steps();
    // The first step runs every prompt that joins it; when all join there
    // (sequences <= batch), the steps after it are decode alone.
    const auto t0 = Clock::now();
    scheduler_->step();
    const auto t1 = Clock::now();
    scheduler_->run();
    const auto t2 = Clock::now();
    const double seconds = std::chrono::duration<double>(t2 - t0).count();
    if (timed && int(w_.prompts.size()) <= batch_) {
      m_.decode_samples.push_back(std::chrono::duration<double>(t2 - t1).count());
    }
    m_.steps = scheduler_->steps() - steps_before;
    for (std::size_t i = 0; i < ids.size(); i++) {
      const std::vector<int>& got = scheduler_->generated(ids[i]);
      if (tokens_known_ && got != *expected_[i]) tokens_ok_ = false;
      m_.generated[w_.prompts[i].id] = got;
    }
    if (timed) m_.samples.push_back(seconds);
  }

  const Backend& backend_;
  Mode mode_;
  const Workload w_;  // the sequences of one run
  std::optional<BeamOptions> beams_;
  long beam_tokens_ = 0;  // beam search: every beam's tokens of the last run
  int batch_;
  std::unique_ptr<Scheduler> scheduler_;  // batch > 1
  int reps_;
  std::string label_;
  std::vector<std::unique_ptr<Session>> sessions_;
  // Per prompt: the golden steps (none when the goldens lack some), and the
  // tokens it must give (the goldens', else expected_tokens', if known).
  std::vector<std::optional<std::vector<const GoldenStep*>>> golden_;
  std::vector<std::optional<std::vector<int>>> expected_;
  bool tokens_known_ = true, logits_known_ = false, tokens_ok_ = true, logits_ok_ = true;
  Measurement m_;
};

// Warm-up, then every timed run, back to back.
void run_back_to_back(ConfigRun& run, const ProgressFn& progress) {
  run.warm_up(progress);
  for (int i = 0; i < run.reps(); i++) run.run_timed(progress);
}

// One configuration, its runs back to back.
Measurement measure(const Backend& backend, Mode mode, const Workload& w, int reps,
                    const GoldenFile* goldens,
                    const std::map<std::string, std::vector<int>>* expected_tokens,
                    const ProgressFn& progress, const std::string& label) {
  ConfigRun run(backend, mode, w, 1, reps, goldens, expected_tokens, label);
  run_back_to_back(run, progress);
  return run.finish();
}

// The machine's ceilings at the sweep's thread counts, then each GPU's that a
// GPU spec runs on: measured first, while no backend's threads are about.
void measure_all_ceilings(const SweepOptions& o, const ProgressFn& progress, SweepResult& result) {
  CeilingOptions co;
  co.threads = o.threads;
  std::set<int> devices;
  for (const BackendSpec& spec : o.specs) {
    co.bf16 = co.bf16 || spec.precision == Precision::kBFloat16;
    if (find_backend(spec.backend).device == Device::kCuda) {
      devices.insert(spec.devices.begin(), spec.devices.end());
    }
  }
  result.ceilings = measure_ceilings(co, progress);
  for (int d : devices) {
    if (progress) progress("measuring GPU " + std::to_string(d) + "'s ceilings");
    if (auto g = measure_gpu_ceilings(d)) result.gpu_ceilings.push_back(*g);
  }
}

// One spec prepared for a sweep: its backend (weight packing timed apart) and
// its runs.
struct PreparedRun {
  std::unique_ptr<Backend> backend;
  double pack_seconds = 0;
  std::unique_ptr<ConfigRun> run;
};

// Each group of specs (one backend and precision, at several thread counts)
// in one mode: back to back, or with the workload's interleave all prepared
// at once and their timed runs taken in turns.
class SweepGroups {
 public:
  SweepGroups(std::shared_ptr<const Model> model, const Workload& w, const SweepOptions& o,
              const ProgressFn& progress, SweepResult& result)
      : model_(std::move(model)), w_(w), o_(o), progress_(progress), result_(result) {}

  // `reference`: the float32 reference's measurement in this mode, whose
  // tokens a float32 row must give when the model has no goldens.
  void run(Mode mode, const std::vector<BackendSpec>& group, const Measurement* reference) {
    std::vector<PreparedRun> runs;
    for (const BackendSpec& spec : group) {
      runs.push_back(prepare(spec, mode, reference));
      if (!w_.interleave) {
        run_back_to_back(*runs.back().run, progress_);
        finish(runs.back());
        runs.clear();
      }
    }
    if (runs.empty()) return;
    for (PreparedRun& r : runs) r.run->warm_up(progress_);
    // Rep r runs every thread count once, in ascending order, then descending
    // in the next rep, so that drift in the machine's speed reaches every
    // thread count alike. Before each run, a pause: the threads of the
    // instance that ran last spin for a few milliseconds before they sleep
    // (the pthreads pool up to 5 ms; libgomp, GOMP_SPINCOUNT), and they would
    // take CPUs from the next instance's first steps
    // (reports/studies/interleaved-runs/).
    for (int rep = 0; rep < w_.reps; rep++) {
      for (std::size_t i = 0; i < runs.size(); i++) {
        if (runs.size() > 1) std::this_thread::sleep_for(kSettle);
        runs[rep % 2 == 0 ? i : runs.size() - 1 - i].run->run_timed(progress_);
      }
    }
    for (PreparedRun& r : runs) finish(r);
  }

 private:
  PreparedRun prepare(const BackendSpec& spec, Mode mode, const Measurement* reference) {
    const std::string label =
        backend_label(spec.backend, spec.precision) + " " + threads_text(spec.threads) +
        (spec.batch == 1 ? std::string() : " batch " + std::to_string(spec.batch)) + " " +
        mode_name(mode);
    if (progress_) progress_(label + ": preparing the weights");
    PreparedRun p;
    const auto t0 = Clock::now();
    p.backend = make_backend(model_, spec);
    p.pack_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    // Without goldens, a float32 row must give the float32 reference's
    // tokens; other precisions' tokens are then unknown.
    const bool float32 = spec.precision == Precision::kFloat32;
    p.run = std::make_unique<ConfigRun>(
        *p.backend, mode, w_, spec.batch, w_.reps, o_.goldens_for(spec.precision),
        reference && float32 ? &reference->generated : nullptr, label);
    return p;
  }

  void finish(PreparedRun& p) {
    Measurement m = p.run->finish();
    m.pack_seconds = p.pack_seconds;
    const BackendEntry& entry = find_backend(m.backend);
    m.threaded = entry.threaded || entry.multi_gpu;  // a plotted line on its axis
    result_.measurements.push_back(std::move(m));
  }

  std::shared_ptr<const Model> model_;
  const Workload& w_;
  const SweepOptions& o_;
  const ProgressFn& progress_;
  SweepResult& result_;
};

// The specs other than the reference, cut into groups of one backend and
// precision, in order.
std::vector<std::vector<BackendSpec>> spec_groups(const std::vector<BackendSpec>& specs) {
  std::vector<std::vector<BackendSpec>> groups;
  for (const BackendSpec& spec : specs) {
    if (spec.backend == "reference") continue;
    auto same = [&](const std::vector<BackendSpec>& g) {
      return g.front().backend == spec.backend && g.front().precision == spec.precision &&
             g.front().batch == spec.batch;
    };
    auto it = std::find_if(groups.begin(), groups.end(), same);
    if (it == groups.end()) {
      groups.push_back({spec});
    } else {
      it->push_back(spec);
    }
  }
  return groups;
}

// Speedups over 1 thread (a multi-GPU backend: 1 GPU) of the same backend, precision, batch and
// mode, and (in tokens/s) over the serial reference in the same mode; the failures (bfloat16 is not
// float32: its tokens are shown, not required to match; bf16w and int8w must
// give their own goldens' tokens); the fastest step.
void compare_rows(const Workload& w, SweepResult& result) {
  double fastest = 0;
  for (Measurement& m : result.measurements) {
    for (const Measurement& base : result.measurements) {
      if (base.mode != m.mode || base.stats.median <= 0) continue;
      if (base.backend == m.backend && base.precision == m.precision && base.batch == m.batch &&
          base.workers() == 1) {
        m.speedup_vs_1thread = base.stats.median / m.stats.median;
        m.efficiency = m.speedup_vs_1thread / m.workers();
      }
      // Throughput against the reference's (at batch 1 the same as the time ratio).
      if (base.backend == "reference" && base.tokens_per_second > 0) {
        m.speedup_vs_reference = m.tokens_per_second / base.tokens_per_second;
      }
    }
    const bool gated = reference_precision(m.precision);
    if ((gated && m.tokens == Check::kNo) || m.logits == Check::kNo) result.failures++;
    if (fastest == 0 || m.stats.median < fastest) fastest = m.stats.median;
  }
  result.fastest_step_us = fastest / w.new_tokens() * 1e6;
}

}  // namespace

SweepResult run_sweep(std::shared_ptr<const Model> model, const Workload& w, const SweepOptions& o,
                      const ProgressFn& progress) {
  SweepResult result;
  if (o.with_ceilings) measure_all_ceilings(o, progress, result);
  const bool listed = std::any_of(o.specs.begin(), o.specs.end(),
                                  [](const BackendSpec& s) { return s.backend == "reference"; });
  SweepGroups groups(model, w, o, progress, result);
  for (Mode mode : o.modes) {
    // The serial reference first: the baseline, and the expected tokens when
    // the model has no goldens.
    std::optional<Measurement> reference;
    if (listed || o.measure_reference) {
      auto backend = make_backend(model, backend_spec("reference"));
      reference = measure(*backend, mode, w, w.reference_reps, o.goldens_for(Precision::kFloat32),
                          nullptr, progress, std::string("reference ") + mode_name(mode));
      result.measurements.push_back(*reference);
    }
    for (const std::vector<BackendSpec>& group : spec_groups(o.specs)) {
      groups.run(mode, group, reference ? &*reference : nullptr);
    }
  }
  if (o.measure_overhead) {
    auto null = make_backend(model, backend_spec("null"));
    result.overhead = measure(*null, o.modes.front(), w, std::max(w.reps, 5), nullptr, nullptr,
                              progress, "null (harness overhead)");
    result.overhead_per_step_us = result.overhead->stats.median / w.new_tokens() * 1e6;
  }
  compare_rows(w, result);
  if (result.ceilings) {
    apply_ceilings(*result.ceilings, result.gpu_ceilings, model->config(), w, result.measurements);
  }
  return result;
}

}  // namespace gpt2
