// gpt2-goldens: writes or checks the golden continuations of the frozen
// reference (datasets/goldens/). `write` is the only way the goldens change.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include "backends/registry.h"
#include "harness/golden_run.h"
#include "harness/goldens.h"
#include "harness/model_source.h"
#include "harness/progress.h"

int main(int argc, char** argv) {
  using namespace gpt2;
  CLI::App app{
      "Write or check the golden continuations of the frozen serial reference.\n"
      "  gpt2-goldens check   recompute every golden and compare tokens and logits bits\n"
      "  gpt2-goldens write   regenerate the golden files (the only way they change)\n"
      "  gpt2-goldens dump    write the reference's logits at every golden step (for oracles)",
      "gpt2-goldens"};
  app.require_subcommand(1);
  std::string model_spec = "synthetic:124M";
  std::string rule_text = "all";
  std::string mode_text = "recompute";
  int jobs = 1;
  std::filesystem::path prompts_path = datasets_dir() / "prompts.txt";
  std::filesystem::path dir = datasets_dir() / "goldens";
  std::string backend_name = "reference";
  std::filesystem::path dump_dir;
  CLI::App* dump = app.add_subcommand(
      "dump",
      "Write the reference's logits at every golden step, along the golden tokens: "
      "<out>/<model>.<rule>.logits.f32 (float32, one row of V per step, in the golden file's "
      "order) and <out>/<model>.<rule>.index.tsv (prompt, step, token, row)");
  dump->add_option("--out", dump_dir, "Output folder")->required();
  for (CLI::App* sub : {app.add_subcommand("check", "Compare the reference with the goldens"),
                        app.add_subcommand("write", "Regenerate the golden files"), dump}) {
    sub->add_option("--model", model_spec, "synthetic:<preset>[:seed=N] or a checkpoint")
        ->capture_default_str();
    sub->add_option("--rule", rule_text,
                    "all (median, greedy and three sampling settings), or rule names separated "
                    "by commas")
        ->capture_default_str();
    sub->add_option("--mode", mode_text,
                    "recompute (the reference's definition) or kv-cache (the same bits, "
                    "faster)")
        ->capture_default_str();
    sub->add_option("--jobs", jobs, "Prompts run at once (the results do not depend on it)")
        ->capture_default_str();
    sub->add_option("--prompts", prompts_path, "Prompt set")->capture_default_str();
    sub->add_option("--dir", dir, "Folder of the golden files")->capture_default_str();
  }
  CLI11_PARSE(app, argc, argv);
  const bool write = app.got_subcommand("write");

  try {
    const std::vector<Rule> rules = parse_rule_list(rule_text);
    const std::optional<Mode> mode = parse_mode(mode_text);
    if (!mode) throw std::invalid_argument("Unknown mode '" + mode_text + "'.");
    if (jobs < 1) throw std::invalid_argument("--jobs must be at least 1.");
    const std::vector<Prompt> prompts = read_prompts(prompts_path);
    std::shared_ptr<const Model> model = open_model(model_spec, &std::cerr);
    std::unique_ptr<Backend> backend = make_backend(backend_name, model, {});
    for (const Prompt& p : prompts) {
      if (p.n > model->config().max_seq_len) {
        throw std::invalid_argument("prompt " + p.id + " needs n = " + std::to_string(p.n) +
                                    " > max_seq_len");
      }
      for (int t : p.tokens) {
        if (t >= model->config().vocab_size) {
          throw std::invalid_argument("prompt " + p.id + " has token " + std::to_string(t) +
                                      " outside the model's vocabulary");
        }
      }
    }

    if (app.got_subcommand("dump")) {
      std::filesystem::create_directories(dump_dir);
      for (Rule rule : rules) {
        const GoldenFile golden = read_goldens(golden_path(dir, model->name(), rule));
        if (golden.checksum != model->checksum()) {
          throw std::runtime_error("the goldens were made for another model (checksum " +
                                   golden.checksum + ")");
        }
        const StepLogits logits =
            teacher_forced_logits(*backend, golden_prompts(prompts, rule), golden, jobs);
        const std::string stem =
            golden_path(dump_dir, model->name(), rule).replace_extension("").string();
        std::string index = "#prompt\tstep\ttoken\trow\n", data;
        int row = 0;
        for (const GoldenStep& s : golden.steps) {
          const auto it = logits.find({s.prompt_id, s.step});
          if (it == logits.end()) throw std::runtime_error("no logits for " + s.prompt_id);
          data.append(reinterpret_cast<const char*>(it->second.data()), it->second.size() * 4);
          index += s.prompt_id + "\t" + std::to_string(s.step) + "\t" + std::to_string(s.token) +
                   "\t" + std::to_string(row++) + "\n";
        }
        write_file_atomically(stem + ".logits.f32", data);
        write_file_atomically(stem + ".index.tsv", index);
        std::printf("wrote %s.logits.f32 (%d steps x %d logits)\n", stem.c_str(), row,
                    model->config().vocab_size);
      }
      return 0;
    }

    int differences = 0;
    for (Rule rule : rules) {
      const std::filesystem::path path = golden_path(dir, model->name(), rule);
      const auto t0 = std::chrono::steady_clock::now();
      Progress progress;
      const std::vector<Prompt> covered = golden_prompts(prompts, rule);
      GoldenFile computed = run_prompts(
          *backend, covered, rule, *mode, jobs, [&](int done, int total, const std::string& id) {
            progress.update(std::string(write ? "writing " : "checking ") + rule_name(rule) + ": " +
                            std::to_string(done) + "/" + std::to_string(total) + " prompts (" + id +
                            " done)");
          });
      progress.done();
      const double secs =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      const GoldenSummary summary = summarize(computed);
      if (write) {
        std::vector<std::string> header = {
            "Golden continuations of the frozen serial reference. Do not edit; regenerate with",
            "  build/bin/gpt2-goldens write --model " + model_spec,
            "Prompts: " + prompts_path.filename().string() +
                (rule.kind == Rule::kSample ? " (the short ones)" : "") + ", rule " +
                rule_name(rule) + ", computed in " + mode_name(*mode) + " mode.",
            "Columns: prompt id, step (0 = first new token), token, margin of the rule",
            "(median: distance of 0.5 from the cumulative sums around the token; greedy: top-1",
            "minus top-2 logit), top-1 minus top-2 logit, XXH3-64 of the step's V logits."};
        for (const std::string& line : summary.lines()) header.push_back(line);
        write_goldens(path, computed, header);
        std::printf("wrote %s (%d steps, %.1f s)\n", path.c_str(), summary.steps, secs);
      } else {
        const GoldenFile golden = read_goldens(path);
        if (golden.checksum != computed.checksum) {
          std::printf("%s: the model's checksum is %s, the goldens were made on %s\n", path.c_str(),
                      computed.checksum.c_str(), golden.checksum.c_str());
          differences++;
        }
        std::map<std::string, const GoldenStep*> expected;
        for (const GoldenStep& s : golden.steps) {
          expected[s.prompt_id + "/" + std::to_string(s.step)] = &s;
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
                        s.prompt_id.c_str(), s.step, it->second->token,
                        it->second->logits_hash.c_str(), s.token, s.logits_hash.c_str());
            differences++;
          }
          if (it != expected.end()) expected.erase(it);
        }
        for (const auto& [key, s] : expected) {
          std::printf("%s: golden %s was not produced (prompt missing from the set?)\n",
                      path.c_str(), key.c_str());
          differences++;
        }
        std::printf("%s: %s %s, %d steps, %.1f s\n", path.filename().c_str(),
                    differences == 0 ? "reproduced" : "DIFFERENT", mode_name(*mode), summary.steps,
                    secs);
      }
      for (const std::string& line : summary.lines()) std::printf("  %s\n", line.c_str());
    }
    return differences == 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}
