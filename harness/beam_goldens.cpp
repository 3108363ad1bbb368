#include "harness/beam_goldens.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "backends/registry.h"
#include "harness/data_file.h"
#include "runtime/backend_specs.h"
#include "runtime/scheduler.h"

namespace gpt2 {

namespace {

std::string float_text(float x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", double(x));
  return buf;
}

std::string bits_text(float x) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", std::bit_cast<std::uint32_t>(x));
  return buf;
}

BeamOptions settings(int k, float lp, EarlyStopping es, int n) {
  BeamOptions o;
  o.beams = k;
  o.length_penalty = lp;
  o.early_stopping = es;
  o.num_return = n;
  return o;
}

}  // namespace

std::vector<const BeamGoldenRow*> BeamGoldenFile::of(const std::string& prompt_id) const {
  std::vector<const BeamGoldenRow*> out;
  for (const BeamGoldenRow& r : rows) {
    if (r.prompt_id == prompt_id) out.push_back(&r);
  }
  return out;
}

std::string beam_settings_name(const BeamOptions& o) {
  std::string name = "beams-k" + std::to_string(o.beams);
  if (o.length_penalty != 1.0f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "-lp%g", double(o.length_penalty));
    name += buf;
  }
  if (o.early_stopping != EarlyStopping::kFalse) {
    name += "-";
    name += early_stopping_name(o.early_stopping);
  }
  if (o.num_return != o.beams) name += "-n" + std::to_string(o.num_return);
  if (o.eos != 50256) name += o.eos < 0 ? "-noeos" : "-eos" + std::to_string(o.eos);
  return name;
}

const std::vector<BeamOptions>& golden_beam_settings() {
  static const std::vector<BeamOptions> kAll = {
      settings(4, 1.0f, EarlyStopping::kFalse, 4),  // transformers' defaults, 4 beams
      settings(2, 0.0f, EarlyStopping::kNever, 2),  // the canonical beam search
      settings(3, 2.0f, EarlyStopping::kTrue, 2)};
  return kAll;
}

std::vector<BeamOptions> parse_beam_settings_list(std::string_view text) {
  if (text == "all") return golden_beam_settings();
  if (text == "none") return {};
  std::vector<BeamOptions> out;
  std::string known;
  for (const BeamOptions& o : golden_beam_settings())
    known += (known.empty() ? "" : ", ") + beam_settings_name(o);
  std::stringstream in{std::string(text)};
  for (std::string item; std::getline(in, item, ',');) {
    bool found = false;
    for (const BeamOptions& o : golden_beam_settings()) {
      if (beam_settings_name(o) == item) {
        out.push_back(o);
        found = true;
      }
    }
    if (!found) {
      throw std::invalid_argument("Unknown beam settings '" + item + "' (known: all, none, " +
                                  known + ").");
    }
  }
  return out;
}

std::filesystem::path beam_golden_path(const std::filesystem::path& goldens_dir,
                                       const std::string& model_name, const BeamOptions& o,
                                       Precision precision) {
  // The rule goldens' name with the settings in the rule's place.
  std::filesystem::path p = golden_path(goldens_dir, model_name, Rule::kGreedy, precision);
  const std::string file = p.filename().string();
  std::string name = file.substr(0, file.size() - std::string_view("greedy.txt").size());
  name += beam_settings_name(o);
  name += ".txt";
  return p.parent_path() / name;
}

BeamGoldenFile run_beam_prompts(const Backend& backend, const std::vector<Prompt>& prompts,
                                const BeamOptions& o, Mode mode) {
  BeamGoldenFile g;
  g.model = backend.model().name();
  g.checksum = backend.model().checksum();
  g.precision = backend.info().precision;
  g.options = o;
  std::vector<BeamPrompt> beam_prompts;
  std::vector<const Prompt*> which;
  for (const Prompt& p : prompts) {
    if (!is_short_prompt(p)) continue;
    beam_prompts.push_back({p.tokens, p.n});
    which.push_back(&p);
  }
  const std::vector<BeamResult> results = beam_search(backend, beam_prompts, o, mode);
  for (std::size_t i = 0; i < results.size(); i++) {
    for (std::size_t k = 0; k < results[i].hypotheses.size(); k++) {
      const Hypothesis& h = results[i].hypotheses[k];
      BeamGoldenRow r;
      r.prompt_id = which[i]->id;
      r.rank = int(k);
      r.score = h.score;
      r.steps = results[i].steps;
      r.margin = results[i].margin;
      r.path_hash = logits_hash(h.path);
      r.tokens = h.tokens;
      g.rows.push_back(std::move(r));
    }
  }
  return g;
}

void write_beam_goldens(const std::filesystem::path& path, const BeamGoldenFile& g,
                        const std::vector<std::string>& header) {
  std::string out;
  for (const std::string& line : header) out += "# " + line + "\n";
  out += "model: " + g.model + "\nchecksum: " + g.checksum + "\n";
  if (g.precision != Precision::kFloat32) {
    out += std::string("precision: ") + precision_name(g.precision) + "\n";
  }
  out += "beams: " + std::to_string(g.options.beams) + "\n";
  out += "length_penalty: " + float_text(g.options.length_penalty) + "\n";
  out += std::string("early_stopping: ") + early_stopping_name(g.options.early_stopping) + "\n";
  out += "num_return: " + std::to_string(g.options.num_return) + "\n";
  out += "eos: " + std::to_string(g.options.eos) + "\n";
  out += "#prompt\trank\tscore\tscore-bits\tsteps\tmargin\tpath-xxh3\ttokens\n";
  for (const BeamGoldenRow& r : g.rows) {
    std::string tokens;
    for (std::size_t i = 0; i < r.tokens.size(); i++) {
      if (i) tokens += ' ';
      tokens += std::to_string(r.tokens[i]);
    }
    out += r.prompt_id + "\t" + std::to_string(r.rank) + "\t" + float_text(r.score) + "\t" +
           bits_text(r.score) + "\t" + std::to_string(r.steps) + "\t" + float_text(r.margin) +
           "\t" + r.path_hash + "\t" + tokens + "\n";
  }
  write_file_atomically(path, out);
}

BeamGoldenFile read_beam_goldens(const std::filesystem::path& path) {
  return parse_beam_goldens(data_file::read(path), path);
}

BeamGoldenFile parse_beam_goldens(std::string_view text, const std::filesystem::path& path) {
  BeamGoldenFile g;
  std::stringstream in{std::string(text)};
  int number = 0;
  auto fail = [&](const std::string& what) { data_file::fail(path, number, what); };
  auto to_int = [&](const std::string& s) {
    int v = 0;
    if (!data_file::parse_int(s, v)) fail("'" + s + "' is not an integer");
    return v;
  };
  auto to_float = [&](const std::string& s) {
    float v = 0;
    if (!data_file::parse_float(s, v)) fail("'" + s + "' is not a number");
    return v;
  };
  for (std::string line; std::getline(in, line);) {
    number++;
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\t') == std::string::npos) {
      std::string key, value;
      if (!data_file::split_key_value(line, key, value)) fail("expected 'key: value'");
      if (key == "model") {
        g.model = value;
      } else if (key == "checksum") {
        g.checksum = value;
      } else if (key == "precision") {
        const std::optional<Precision> p = parse_precision(value);
        if (!p) fail("unknown precision '" + value + "'");
        g.precision = *p;
      } else if (key == "beams") {
        g.options.beams = to_int(value);
      } else if (key == "length_penalty") {
        g.options.length_penalty = to_float(value);
      } else if (key == "early_stopping") {
        const std::optional<EarlyStopping> e = parse_early_stopping(value);
        if (!e) fail("unknown early_stopping '" + value + "'");
        g.options.early_stopping = *e;
      } else if (key == "num_return") {
        g.options.num_return = to_int(value);
      } else if (key == "eos") {
        g.options.eos = to_int(value);
      } else {
        fail("unknown key '" + key + "'");
      }
      continue;
    }
    const std::vector<std::string> f = data_file::split(line, '\t');
    if (f.size() != 8) fail("expected 8 tab-separated columns");
    BeamGoldenRow r;
    r.prompt_id = f[0];
    r.rank = to_int(f[1]);
    r.score = to_float(f[2]);
    if (bits_text(r.score) != f[3]) fail("the score " + f[2] + " does not have the bits " + f[3]);
    r.steps = to_int(f[4]);
    r.margin = to_float(f[5]);
    r.path_hash = f[6];
    for (const std::string& t : data_file::split(f[7], ' ')) r.tokens.push_back(to_int(t));
    g.rows.push_back(std::move(r));
  }
  if (g.model.empty() || g.checksum.empty()) fail("no model or checksum line");
  return g;
}

namespace {

// How far a backend's numbers are from the reference's along the golden
// hypotheses (errors_along).
struct BeamErrors {
  double logit = 0;  // the largest |logit - reference logit|, over the vocabulary
  // The largest |log-probability - the reference's| of the candidates a beam
  // search weighs at a step: the reference's 2K + 1 most likely tokens
  // (BeamSearch keeps that many of each beam); overall, and at each step of
  // each prompt's path.
  double logprob = 0;
  std::map<std::string, std::vector<double>> logprob_steps;  // by prompt id

  // How far the scores of a search of `steps` steps for the prompt can move:
  // the sum of its steps' errors (past the measured path, its largest
  // error each; a prompt not measured: the overall largest).
  double score_error(const std::string& prompt_id, int steps) const {
    const auto it = logprob_steps.find(prompt_id);
    if (it == logprob_steps.end() || it->second.empty()) return logprob * steps;
    double sum = 0, largest = 0;
    for (std::size_t t = 0; t < it->second.size(); t++) {
      largest = std::max(largest, it->second[t]);
      if (int(t) < steps) sum += it->second[t];
    }
    return sum + largest * std::max(0, steps - int(it->second.size()));
  }
};

// The errors of `backend` along each prompt's best golden hypothesis in g
// (rank 0: the prompt's tokens then the hypothesis's, teacher forced in
// `mode`; the other ranks mostly share its prefix and would double the cost
// of the row), against `reference` (the bit-exact pthreads backend at the
// goldens' precision). Hypotheses run in batches of up to kChunk, first on
// the reference (its logits kept), then on the backend. A number that is not
// finite counts as an infinite error.
BeamErrors errors_along(const Backend& backend, const Backend& reference,
                        const std::vector<Prompt>& prompts, const BeamGoldenFile& g, Mode mode) {
  constexpr std::size_t kChunk = 32;
  const std::size_t candidates = std::size_t(2 * g.options.beams + 1);
  std::map<std::string, const Prompt*> by_id;
  for (const Prompt& p : prompts) by_id[p.id] = &p;
  std::vector<std::size_t> hypotheses;
  for (std::size_t i = 0; i < g.rows.size(); i++) {
    const BeamGoldenRow& h = g.rows[i];
    if (h.rank == 0 && by_id.count(h.prompt_id) != 0 && !h.tokens.empty()) hypotheses.push_back(i);
  }
  BeamErrors worst;
  auto at_most = [](double& worst, double d) {
    worst = std::max(worst, std::isnan(d) ? INFINITY : d);
  };
  std::vector<float> lp_want, lp_got;
  std::vector<int> order;
  for (std::size_t first = 0; first < hypotheses.size(); first += kChunk) {
    const std::size_t count = std::min(kChunk, hypotheses.size() - first);
    // The reference's logits of each hypothesis's steps.
    std::vector<std::vector<std::vector<float>>> want(count);
    auto run = [&](const Backend& b, bool keep) {
      Scheduler scheduler(b, int(count), mode);
      for (std::size_t k = 0; k < count; k++) {
        const BeamGoldenRow& h = g.rows[hypotheses[first + k]];
        Request r;
        r.prompt = by_id.at(h.prompt_id)->tokens;
        r.forced = h.tokens;
        r.n = int(r.prompt.size() + r.forced.size());
        r.rule = Rule::kGreedy;
        r.on_step = [&, k, keep](const StepView& s) {
          if (keep) {
            want[k].emplace_back(s.logits.begin(), s.logits.end());
            return Next::kContinue;
          }
          const std::vector<float>& w = want[k].at(std::size_t(s.step));
          const std::size_t V = w.size();
          for (std::size_t v = 0; v < V; v++) {
            at_most(worst.logit, std::fabs(double(s.logits[v]) - double(w[v])));
          }
          lp_want.resize(V);
          lp_got.resize(V);
          beam_log_softmax(w, lp_want);
          beam_log_softmax(s.logits.first(V), lp_got);
          order.resize(V);
          for (std::size_t v = 0; v < V; v++) order[v] = int(v);
          const std::size_t top = std::min(candidates, V);
          std::partial_sort(order.begin(), order.begin() + long(top), order.end(),
                            [&](int a, int b) { return lp_want[a] > lp_want[b]; });
          double step_error = 0;
          for (std::size_t j = 0; j < top; j++) {
            const int t = order[j];
            at_most(step_error, std::fabs(double(lp_got[t]) - double(lp_want[t])));
          }
          at_most(worst.logprob, step_error);
          std::vector<double>& path = worst.logprob_steps[h.prompt_id];
          path.resize(std::max(path.size(), std::size_t(s.step) + 1));
          path[std::size_t(s.step)] = step_error;
          return Next::kContinue;
        };
        scheduler.submit(std::move(r));
      }
      scheduler.run();
    };
    run(reference, true);
    run(backend, false);
  }
  return worst;
}

}  // namespace

std::vector<VerifyRow> verify_beams(const std::shared_ptr<const Model>& model,
                                    const std::vector<Prompt>& prompts,
                                    const std::vector<BeamGoldenFile>& goldens,
                                    const VerifyOptions& options, const VerifyProgress& progress) {
  std::vector<VerifyRow> rows;
  // The reference logits of each golden precision, made when a reordering row
  // first needs them.
  std::map<Precision, std::unique_ptr<Backend>> references;
  auto reference_at = [&](Precision p) -> const Backend& {
    std::unique_ptr<Backend>& b = references[p];
    const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
    if (!b) b = make_backend(model, backend_spec("pthreads", p, cores));
    return *b;
  };
  for (const BackendSpec& spec : options.specs) {
    const Precision golden_precision = golden_precision_of(spec.precision);
    std::unique_ptr<Backend> backend;
    for (Mode mode : options.modes) {
      for (const BeamGoldenFile& g : goldens) {
        if (g.precision != golden_precision) continue;
        if (!backend) {
          if (progress) progress("preparing " + spec_label(spec) + " for beam search");
          backend = options.factory(model, spec);
        }
        VerifyRow row;
        row.backend = spec.backend;
        row.precision = spec.precision;
        row.threads = spec.threads;
        row.mode = mode;
        row.search = beam_settings_name(g.options);
        row.bit_exact = backend->info().numerics == Numerics::kBitExact;
        const bool gated = reference_precision(spec.precision);
        const std::string label = spec_label(spec) + " " + mode_name(mode) + " " + row.search;
        if (progress) progress(label);
        const BeamGoldenFile got = run_beam_prompts(*backend, prompts, g.options, mode);
        // A reordering backend may flip a choice the reference made by a hair.
        // With each candidate's log-probability off by at most e_t at step t
        // (measured along the prompt's best golden hypothesis, over the
        // candidates the search weighs), a score moves by at most E = the sum
        // of e_t over the search's steps and a gap between two scores by 2E:
        // a hypothesis whose golden margin is under kNearTieFactor x E has its
        // tokens waived (5 times that worst case, as a rule row's greedy gap,
        // which moves by at most twice the step's logit difference d, is a
        // near tie under kNearTieFactor x d).
        BeamErrors e;
        if (!row.bit_exact) {
          if (progress) progress(label + ": its errors along the golden hypotheses");
          e = errors_along(*backend, reference_at(golden_precision), prompts, g, mode);
          row.beam_logit_error = e.logit;
          row.beam_logprob_error = e.logprob;
        }
        std::map<std::pair<std::string, int>, const BeamGoldenRow*> mine;
        for (const BeamGoldenRow& r : got.rows) mine[{r.prompt_id, r.rank}] = &r;
        double sum_diff = 0;
        for (const BeamGoldenRow& want : g.rows) {
          row.steps++;
          const double tie_bound = kNearTieFactor * e.score_error(want.prompt_id, want.steps);
          const bool waived = gated && !row.bit_exact && want.margin < tie_bound;
          row.waived += waived;
          auto it = mine.find({want.prompt_id, want.rank});
          const std::string at =
              label + " " + want.prompt_id + " rank " + std::to_string(want.rank);
          if (it == mine.end()) {
            row.token_mismatches++;
            row.differences.push_back(at + ": not returned");
            continue;
          }
          const BeamGoldenRow& r = *it->second;
          const double diff = std::fabs(double(r.score) - double(want.score));
          if (r.tokens != want.tokens) {
            const std::string margin = "golden margin " + float_text(want.margin) +
                                       ", near-tie bound " + float_text(float(tie_bound));
            if (waived) {
              row.near_ties++;
              row.differences.push_back("near tie, not a failure: " + at + ": other tokens (" +
                                        margin + ")");
            } else {
              row.token_mismatches++;
              row.differences.push_back(at + ": other tokens (" + margin + ")");
            }
            continue;
          }
          row.max_diff = std::max(row.max_diff, diff);
          sum_diff += diff;
          if (row.bit_exact &&
              (std::bit_cast<std::uint32_t>(r.score) != std::bit_cast<std::uint32_t>(want.score) ||
               r.path_hash != want.path_hash)) {
            row.logits_mismatches++;
            row.differences.push_back(at + ": score " + float_text(r.score) + " (path " +
                                      r.path_hash + "), golden " + float_text(want.score) + " (" +
                                      want.path_hash + ")");
          }
          if (!row.bit_exact && !(diff <= 10 * options.max_logit_diff * want.steps)) {
            row.token_mismatches++;
            row.differences.push_back(at + ": score off by " + float_text(float(diff)));
          }
        }
        row.mean_diff = row.steps ? sum_diff / row.steps : 0;
        // The logit error itself is held to the row's bound: float32's
        // (max_logit_diff) or bfloat16's, whose tokens are reported, not held.
        const double bound = gated ? options.max_logit_diff : options.max_bfloat16_logit_diff;
        const bool close = !(row.beam_logit_error > bound);
        if (!close) {
          char line[256];
          std::snprintf(line, sizeof line,
                        "%s: max logit difference %.3g along the golden hypotheses is above the "
                        "bound %.3g",
                        label.c_str(), row.beam_logit_error, bound);
          row.differences.push_back(line);
        }
        row.passed = close && (!gated || (row.token_mismatches == 0 && row.logits_mismatches == 0));
        rows.push_back(std::move(row));
      }
    }
  }
  return rows;
}

}  // namespace gpt2
