// gpt2-goldens: writes or checks the golden continuations of the frozen
// reference (datasets/goldens/). `write` is the only way the goldens change.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <optional>
#include <set>

#include "backends/registry.h"
#include "harness/beam_goldens.h"
#include "harness/golden_run.h"
#include "harness/goldens.h"
#include "runtime/backend_specs.h"
#include "runtime/cli.h"
#include "runtime/lists.h"
#include "runtime/model_source.h"
#include "tools/progress.h"

namespace gpt2 {
namespace {

// The command line as given (check_options() checks it).
struct Options {
  enum class Command { kCheck, kWrite, kDump } command = Command::kCheck;
  std::string model_spec = "synthetic:124M";
  std::string rule_text = "all";
  std::string beams_text = "all";
  std::string precision_text = "all";
  std::string mode_text = "recompute";
  int jobs = 1;
  int max_prompt_tokens = 0;  // check only: 0 = every prompt
  std::filesystem::path prompts_path = datasets_dir() / "prompts.txt";
  std::filesystem::path dir = datasets_dir() / "goldens";
  std::filesystem::path dump_dir;
};

// Reads argv into o. Returns CLI11's exit status when the command line asks
// for help or cannot be parsed (CLI11 has printed why), nullopt otherwise.
std::optional<int> parse_command_line(int argc, char** argv, Options& o) {
  CLI::App app{
      "Write or check the golden continuations of the frozen serial reference.\n"
      "  gpt2-goldens check   recompute every golden and compare tokens and logits bits\n"
      "  gpt2-goldens write   regenerate the golden files (the only way they change)\n"
      "  gpt2-goldens dump    write the reference's logits at every golden step (for oracles)",
      "gpt2-goldens"};
  app.require_subcommand(1);
  CLI::App* dump = app.add_subcommand(
      "dump",
      "Write the reference's logits at every golden step, along the golden tokens: "
      "<out>/<model>[.<precision>].<rule>.logits.f32 (float32, one row of V per step, in the "
      "golden file's order) and <out>/<model>[.<precision>].<rule>.index.tsv (prompt, step, "
      "token, row)");
  dump->add_option("--out", o.dump_dir, "Output folder")->required();
  CLI::App* check = app.add_subcommand("check", "Compare the reference with the goldens");
  check
      ->add_option("--max-prompt-tokens", o.max_prompt_tokens,
                   "Only the prompts of at most this many tokens (their goldens alone are "
                   "expected; 0: every prompt)")
      ->capture_default_str();
  for (CLI::App* sub : {check, app.add_subcommand("write", "Regenerate the golden files"), dump}) {
    sub->add_option("--model", o.model_spec, "synthetic:<preset>[:seed=N] or a checkpoint")
        ->capture_default_str();
    sub->add_option("--rule", o.rule_text,
                    "all (median, greedy and three sampling settings), none (beam goldens only), "
                    "or rule names separated by commas")
        ->capture_default_str();
    if (sub != dump) {
      sub->add_option("--beams", o.beams_text,
                      "Beam search goldens too: all (each committed setting, the short prompts), "
                      "none, or setting names (beams-k4, ...) separated by commas")
          ->capture_default_str();
    }
    sub->add_option("--precision", o.precision_text,
                    "all (float32, bf16w, int8w: the precisions the reference defines), or "
                    "some of them separated by commas")
        ->capture_default_str();
    sub->add_option("--mode", o.mode_text,
                    "recompute (the reference's definition) or kv-cache (the same bits, "
                    "faster)")
        ->capture_default_str();
    sub->add_option("--jobs", o.jobs, "Prompts run at once (the results do not depend on it)")
        ->capture_default_str();
    sub->add_option("--prompts", o.prompts_path, "Prompt set")->capture_default_str();
    sub->add_option("--dir", o.dir, "Folder of the golden files")->capture_default_str();
  }
  if (const std::optional<int> status = parse_arguments(app, argc, argv)) return *status;
  o.command = app.got_subcommand("write")  ? Options::Command::kWrite
              : app.got_subcommand("dump") ? Options::Command::kDump
                                           : Options::Command::kCheck;
  return std::nullopt;
}

// The rules, precisions and the mode, checked before anything is loaded.
struct Settings {
  std::vector<Rule> rules;
  std::vector<BeamOptions> beams;
  std::vector<Precision> precisions;
  Mode mode = Mode::kRecompute;
};

Settings check_options(const Options& o) {
  Settings s;
  s.rules = parse_rule_list(o.rule_text);
  s.beams = parse_beam_settings_list(o.beams_text);
  s.precisions = parse_golden_precision_list(o.precision_text);
  const std::optional<Mode> mode = parse_mode(o.mode_text);
  if (!mode) throw_unknown_item("mode", o.mode_text, "recompute, kv-cache");
  s.mode = *mode;
  if (o.jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
  if (o.max_prompt_tokens < 0)
    throw std::invalid_argument("--max-prompt-tokens must be 0 or more.");
  return s;
}

// Every prompt must fit the model: its n within the context, its tokens in the
// vocabulary.
void check_prompts_fit(const std::vector<Prompt>& prompts, const ModelConfig& config) {
  for (const Prompt& p : prompts) {
    if (p.n > config.max_seq_len) {
      throw std::invalid_argument("prompt " + p.id + " needs n = " + std::to_string(p.n) +
                                  " > max_seq_len");
    }
    for (int t : p.tokens) {
      if (t >= config.vocab_size) {
        throw std::invalid_argument("prompt " + p.id + " has token " + std::to_string(t) +
                                    " outside the model's vocabulary");
      }
    }
  }
}

// gpt2-goldens dump, one rule: the reference's logits along the golden tokens,
// <out>/<model>.<rule>.logits.f32 and .index.tsv.
void dump_logits(const Backend& backend, const Options& o, const std::vector<Prompt>& prompts,
                 Rule rule) {
  const Model& model = backend.model();
  const Precision precision = backend.info().precision;
  const GoldenFile golden = read_goldens(golden_path(o.dir, model.name(), rule, precision));
  if (golden.checksum != model.checksum()) {
    throw std::runtime_error("the goldens were made for another model (checksum " +
                             golden.checksum + ")");
  }
  const StepLogits logits =
      teacher_forced_logits(backend, golden_prompts(prompts, rule), golden, o.jobs);
  const std::string stem =
      golden_path(o.dump_dir, model.name(), rule, precision).replace_extension("").string();
  std::string index = "#prompt\tstep\ttoken\trow\n", data;
  int row = 0;
  for (const GoldenStep& s : golden.steps) {
    const auto it = logits.find({s.prompt_id, s.step});
    if (it == logits.end()) throw std::runtime_error("no logits for " + s.prompt_id);
    data.append(reinterpret_cast<const char*>(it->second.data()), it->second.size() * 4);
    index += s.prompt_id + "\t" + std::to_string(s.step) + "\t" + std::to_string(s.token) + "\t" +
             std::to_string(row++) + "\n";
  }
  write_file_atomically(stem + ".logits.f32", data);
  write_file_atomically(stem + ".index.tsv", index);
  std::printf("wrote %s.logits.f32 (%d steps x %d logits)\n", stem.c_str(), row,
              model.config().vocab_size);
}

// The reference's continuations of the prompts `rule` covers, with a progress
// line; `seconds` gets the time they took.
GoldenFile compute_goldens(const Backend& backend, const std::vector<Prompt>& prompts, Rule rule,
                           Mode mode, int jobs, bool write, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  Progress progress;
  const std::vector<Prompt> covered = golden_prompts(prompts, rule);
  GoldenFile computed = run_prompts(
      backend, covered, rule, mode, jobs, [&](int done, int total, const std::string& id) {
        progress.update(std::string(write ? "writing " : "checking ") +
                        precision_name(backend.info().precision) + " " + rule_name(rule) + ": " +
                        std::to_string(done) + "/" + std::to_string(total) + " prompts (" + id +
                        " done)");
      });
  progress.done();
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return computed;
}

// gpt2-goldens write, one rule: the file with its header.
void write_golden_file(const std::filesystem::path& path, const GoldenFile& computed,
                       const GoldenSummary& summary, const Options& o, Rule rule, Mode mode,
                       double seconds) {
  std::vector<std::string> header = {
      "Golden continuations of the frozen serial reference. Do not edit; regenerate with",
      "  build/bin/gpt2-goldens write --model " + o.model_spec +
          (computed.precision == Precision::kFloat32
               ? std::string()
               : std::string(" --precision ") + precision_name(computed.precision)),
      "Prompts: " + o.prompts_path.filename().string() +
          (rule.kind == Rule::kSample ? " (the short ones)" : "") + ", rule " + rule_name(rule) +
          ", computed in " + mode_name(mode) + " mode" +
          (computed.precision == Precision::kFloat32
               ? std::string(".")
               : std::string(", weights ") + precision_name(computed.precision) +
                     " (reference/quantize.h)."),
      "Columns: prompt id, step (0 = first new token), token, margin of the rule",
      "(median: distance of 0.5 from the cumulative sums around the token; greedy: top-1",
      "minus top-2 logit), top-1 minus top-2 logit, XXH3-64 of the step's V logits."};
  for (const std::string& line : summary.lines()) header.push_back(line);
  write_goldens(path, computed, header);
  std::printf("wrote %s (%d steps, %.1f s)\n", path.c_str(), summary.steps, seconds);
}

// gpt2-goldens check, one rule: prints each difference between the computed
// steps and the golden file (checksum, tokens, logits hashes, steps missing on
// either side) and returns how many there are.
int count_differences(const std::filesystem::path& path, const GoldenFile& computed,
                      const std::set<std::string>& left_out) {
  int differences = 0;
  const GoldenFile golden = read_goldens(path);
  if (golden.precision != computed.precision) {
    std::printf("%s: the goldens are of precision %s, not %s\n", path.c_str(),
                precision_name(golden.precision), precision_name(computed.precision));
    differences++;
  }
  if (golden.checksum != computed.checksum) {
    std::printf("%s: the model's checksum is %s, the goldens were made on %s\n", path.c_str(),
                computed.checksum.c_str(), golden.checksum.c_str());
    differences++;
  }
  std::map<std::string, const GoldenStep*> expected;
  for (const GoldenStep& s : golden.steps) {
    if (!left_out.contains(s.prompt_id)) expected[s.prompt_id + "/" + std::to_string(s.step)] = &s;
  }
  for (const GoldenStep& s : computed.steps) {
    const std::string key = s.prompt_id + "/" + std::to_string(s.step);
    auto it = expected.find(key);
    if (it == expected.end()) {
      std::printf("%s: no golden for prompt %s step %d\n", path.c_str(), s.prompt_id.c_str(),
                  s.step);
      differences++;
    } else if (it->second->token != s.token || it->second->logits_hash != s.logits_hash) {
      std::printf("prompt %s step %d: expected token %d (logits %s), got %d (logits %s)\n",
                  s.prompt_id.c_str(), s.step, it->second->token, it->second->logits_hash.c_str(),
                  s.token, s.logits_hash.c_str());
      differences++;
    }
    if (it != expected.end()) expected.erase(it);
  }
  for (const auto& [key, s] : expected) {
    std::printf("%s: golden %s was not produced (prompt missing from the set?)\n", path.c_str(),
                key.c_str());
    differences++;
  }
  return differences;
}

// check and write: each rule's continuations computed, then written or
// compared. Returns the exit status: 1 when a check found a difference.
int check_or_write(const Backend& backend, const Options& o, const Settings& s,
                   const std::vector<Prompt>& prompts, const std::set<std::string>& left_out) {
  const bool write = o.command == Options::Command::kWrite;
  int differences = 0;  // over the rules so far
  for (Rule rule : s.rules) {
    const std::filesystem::path path =
        golden_path(o.dir, backend.model().name(), rule, backend.info().precision);
    double seconds = 0;
    const GoldenFile computed =
        compute_goldens(backend, prompts, rule, s.mode, o.jobs, write, seconds);
    const GoldenSummary summary = summarize(computed);
    if (write) {
      write_golden_file(path, computed, summary, o, rule, s.mode, seconds);
    } else {
      differences += count_differences(path, computed, left_out);
      // "DIFFERENT" once any rule so far differed.
      std::printf("%s: %s %s, %d steps, %.1f s\n", path.filename().c_str(),
                  differences == 0 ? "reproduced" : "DIFFERENT", mode_name(s.mode), summary.steps,
                  seconds);
    }
    for (const std::string& line : summary.lines()) std::printf("  %s\n", line.c_str());
  }
  for (const BeamOptions& b : s.beams) {
    const std::filesystem::path path =
        beam_golden_path(o.dir, backend.model().name(), b, backend.info().precision);
    const auto t0 = std::chrono::steady_clock::now();
    std::fprintf(stderr, "%s %s %s ...\n", write ? "writing" : "checking",
                 precision_name(backend.info().precision), beam_settings_name(b).c_str());
    const BeamGoldenFile computed = run_beam_prompts(backend, prompts, b, s.mode);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (write) {
      write_beam_goldens(
          path, computed,
          {"Beam search goldens of the frozen serial reference. Do not edit; regenerate with",
           "  build/bin/gpt2-goldens write --model " + o.model_spec +
               (computed.precision == Precision::kFloat32
                    ? std::string()
                    : std::string(" --precision ") + precision_name(computed.precision)),
           "Prompts: the short ones of " + o.prompts_path.filename().string() + ", " +
               beam_options_label(b) + " (runtime/beam_search.h), computed in " +
               mode_name(s.mode) + " mode.",
           "Columns: prompt id, rank (0 = best), score (sum_logprobs / new tokens^length "
           "penalty), its float32 bits,",
           "the search's steps and margin (smallest score gap at a choice), XXH3-64 of the "
           "hypothesis's running",
           "log-probability sums (float32), its new tokens."});
      std::printf("wrote %s (%zu hypotheses, %.1f s)\n", path.c_str(), computed.rows.size(),
                  seconds);
      continue;
    }
    BeamGoldenFile golden = read_beam_goldens(path);
    std::erase_if(golden.rows,
                  [&](const BeamGoldenRow& r) { return left_out.contains(r.prompt_id); });
    int here = 0;
    if (golden.checksum != computed.checksum) {
      std::printf("%s: made for a model with checksum %s\n", path.c_str(), golden.checksum.c_str());
      here++;
    }
    for (std::size_t i = 0; i < std::max(golden.rows.size(), computed.rows.size()); i++) {
      const BeamGoldenRow* w = i < golden.rows.size() ? &golden.rows[i] : nullptr;
      const BeamGoldenRow* g = i < computed.rows.size() ? &computed.rows[i] : nullptr;
      if (!w || !g || w->prompt_id != g->prompt_id || w->tokens != g->tokens ||
          std::bit_cast<std::uint32_t>(w->score) != std::bit_cast<std::uint32_t>(g->score) ||
          w->path_hash != g->path_hash) {
        std::printf("%s: hypothesis %zu (%s) differs\n", path.c_str(), i,
                    w ? w->prompt_id.c_str() : g->prompt_id.c_str());
        here++;
      }
    }
    differences += here;
    std::printf("%s: %s %s, %zu hypotheses, %.1f s\n", path.filename().c_str(),
                here == 0 ? "reproduced" : "DIFFERENT", mode_name(s.mode), computed.rows.size(),
                seconds);
  }
  return differences == 0 ? 0 : 1;
}

// Check the options -> read the prompts -> load the model -> check that the
// prompts fit -> for each precision, the reference at it: dump, or check or write.
int run(const Options& o) {
  const Settings s = check_options(o);
  std::vector<Prompt> prompts = read_prompts(o.prompts_path);
  std::set<std::string> left_out;  // by --max-prompt-tokens
  if (o.max_prompt_tokens > 0) {
    std::erase_if(prompts, [&](const Prompt& p) {
      const bool longer = p.tokens.size() > static_cast<std::size_t>(o.max_prompt_tokens);
      if (longer) left_out.insert(p.id);
      return longer;
    });
    std::printf("%zu prompts longer than %d tokens left out\n", left_out.size(),
                o.max_prompt_tokens);
  }
  std::shared_ptr<const Model> model = open_model(o.model_spec, &std::cerr);
  check_prompts_fit(prompts, model->config());
  int status = 0;
  for (Precision precision : s.precisions) {
    std::unique_ptr<Backend> backend = make_backend(model, backend_spec("reference", precision));
    if (o.command == Options::Command::kDump) {
      std::filesystem::create_directories(o.dump_dir);
      for (Rule rule : s.rules) dump_logits(*backend, o, prompts, rule);
    } else {
      status = std::max(status, check_or_write(*backend, o, s, prompts, left_out));
    }
  }
  return status;
}

}  // namespace
}  // namespace gpt2

int main(int argc, char** argv) {
  using namespace gpt2;
  Options options;
  if (const std::optional<int> status = parse_command_line(argc, argv, options)) return *status;
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
