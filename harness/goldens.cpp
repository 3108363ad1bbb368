#include "harness/goldens.h"

#include "backends/registry.h"
#include "harness/data_file.h"

#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "reference/printable.h"
#include "runtime/lists.h"

namespace gpt2 {

using data_file::fail;
using data_file::parse_float;
using data_file::parse_int;
using data_file::split;

std::vector<Prompt> read_prompts(const std::filesystem::path& path) {
  return parse_prompts(data_file::read(path), path);
}

std::vector<Prompt> parse_prompts(std::string_view text, const std::filesystem::path& path) {
  std::istringstream in{std::string(text)};
  std::vector<Prompt> prompts;
  std::map<std::string, int> seen;
  std::string line;
  for (int lineno = 1; std::getline(in, line); lineno++) {
    if (line.empty() || line[0] == '#') continue;
    std::vector<std::string> f = split(line, ' ');
    if (f.empty()) continue;
    if (f.size() < 3) fail(path, lineno, "expected '<id> <n> <token>...'");
    Prompt p;
    p.id = f[0];
    if (!parse_int(f[1], p.n)) fail(path, lineno, "n '" + f[1] + "' is not an integer");
    for (std::size_t i = 2; i < f.size(); i++) {
      int tok;
      if (!parse_int(f[i], tok) || tok < 0) {
        fail(path, lineno, "token '" + f[i] + "' is not a non-negative integer");
      }
      p.tokens.push_back(tok);
    }
    if (int(p.tokens.size()) >= p.n) {
      fail(path, lineno,
           "prompt " + p.id + " has " + std::to_string(p.tokens.size()) +
               " tokens, not fewer than n = " + std::to_string(p.n));
    }
    if (!seen.emplace(p.id, lineno).second) fail(path, lineno, "duplicate prompt id " + p.id);
    prompts.push_back(std::move(p));
  }
  if (prompts.empty()) fail(path, 1, "no prompts");
  return prompts;
}

std::vector<int> GoldenFile::continuation(const std::string& prompt_id) const {
  std::vector<int> out;
  for (const GoldenStep& s : steps) {
    if (s.prompt_id == prompt_id) out.push_back(s.token);
  }
  return out;
}

const GoldenStep* GoldenFile::find(const std::string& prompt_id, int step) const {
  for (const GoldenStep& s : steps) {
    if (s.prompt_id == prompt_id && s.step == step) return &s;
  }
  return nullptr;
}

GoldenFile read_goldens(const std::filesystem::path& path) {
  return parse_goldens(data_file::read(path), path);
}

GoldenFile parse_goldens(std::string_view text, const std::filesystem::path& path) {
  std::istringstream in{std::string(text)};
  GoldenFile g;
  bool have_rule = false;
  std::string line;
  for (int lineno = 1; std::getline(in, line); lineno++) {
    if (line.empty() || line[0] == '#') continue;
    if (line.find('\t') == std::string::npos) {
      std::string key, value;
      if (!data_file::split_key_value(line, key, value)) {
        fail(path, lineno, "expected 'key: value' or a row");
      }
      if (key == "model") {
        g.model = value;
      } else if (key == "checksum") {
        g.checksum = value;
      } else if (key == "rule") {
        std::optional<Rule> r = parse_rule(value);
        if (!r) fail(path, lineno, "unknown rule '" + value + "'");
        if (std::string problem = rule_problem(*r); !problem.empty()) {
          fail(path, lineno, "rule '" + value + "': " + problem);
        }
        g.rule = *r;
        have_rule = true;
      } else if (key == "precision") {
        const std::optional<Precision> precision = parse_precision(value);
        if (!precision || !reference_precision(*precision)) {
          fail(path, lineno, "unknown precision '" + value + "' (goldens: float32, bf16w, int8w)");
        }
        g.precision = *precision;
      } else {
        fail(path, lineno, "unknown key '" + key + "'");
      }
      continue;
    }
    std::vector<std::string> f = split(line, '\t');
    GoldenStep s;
    if (f.size() != 6 || !parse_int(f[1], s.step) || !parse_int(f[2], s.token) ||
        !parse_float(f[3], s.margin) || !parse_float(f[4], s.logit_gap) || f[5].size() != 16) {
      fail(path, lineno, "expected 6 tab-separated fields: prompt step token margin gap hash");
    }
    s.prompt_id = f[0];
    s.logits_hash = f[5];
    g.steps.push_back(std::move(s));
  }
  if (g.model.empty() || g.checksum.empty() || !have_rule) {
    fail(path, 1, "missing one of the keys model, checksum, rule");
  }
  return g;
}

void write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  std::random_device rd;
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    out.flush();
    if (!out) {
      std::filesystem::remove(tmp);
      throw std::runtime_error(path.string() + ": cannot write: " + std::strerror(errno));
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp);
    throw std::runtime_error(path.string() + ": cannot rename into place: " + ec.message());
  }
}

void write_goldens(const std::filesystem::path& path, const GoldenFile& g,
                   const std::vector<std::string>& header) {
  std::ostringstream out;
  for (const std::string& h : header) out << "# " << h << "\n";
  out << "model: " << g.model << "\n";
  out << "checksum: " << g.checksum << "\n";
  out << "rule: " << rule_name(g.rule) << "\n";
  if (g.precision != Precision::kFloat32)
    out << "precision: " << precision_name(g.precision) << "\n";
  out << "#prompt\tstep\ttoken\tmargin\ttop1-top2\tlogits-xxh3\n";
  char buf[64];
  for (const GoldenStep& s : g.steps) {
    out << s.prompt_id << '\t' << s.step << '\t' << s.token << '\t';
    std::snprintf(buf, sizeof buf, "%.6g\t%.6g\t", double(s.margin), double(s.logit_gap));
    out << buf << s.logits_hash << '\n';
  }
  write_file_atomically(path, out.str());
}

std::filesystem::path golden_path(const std::filesystem::path& goldens_dir,
                                  const std::string& model_name, Rule rule, Precision precision) {
  // A file path names its goldens by its stem; synthetic:124M:seed=1 becomes
  // synthetic-124M-seed1.
  const std::string name = model_name.find('/') != std::string::npos
                               ? std::filesystem::path(model_name).stem().string()
                               : model_name;
  std::string tag;
  for (char c : name) {
    if (c == ':') {
      tag += '-';
    } else if (c != '=') {
      tag += c;
    }
  }
  if (precision != Precision::kFloat32) tag += std::string(".") + precision_name(precision);
  return goldens_dir / (tag + "." + rule_name(rule) + ".txt");
}

Precision golden_precision_of(Precision p) {
  return reference_precision(p) ? p : Precision::kFloat32;
}

std::vector<Precision> golden_precisions() {
  std::vector<Precision> out;
  for (Precision p : all_precisions()) {
    if (reference_precision(p)) out.push_back(p);
  }
  return out;
}

const std::vector<Rule>& golden_rules() {
  static const std::vector<Rule> kRules = {
      Rule::kMedian,
      Rule::kGreedy,
      Rule::sample(1.0f, 0, 1.0f, 1),
      Rule::sample(0.8f, 40, 1.0f, 2),
      Rule::sample(1.2f, 0, 0.9f, 3),
  };
  return kRules;
}

std::vector<Prompt> golden_prompts(const std::vector<Prompt>& all, const Rule& rule) {
  if (rule.kind != Rule::kSample) return all;
  std::vector<Prompt> out;
  for (const Prompt& p : all) {
    if (is_short_prompt(p)) out.push_back(p);
  }
  return out;
}

std::vector<Rule> parse_rule_list(std::string_view text) {
  if (text == "none") return {};  // beam search rows alone (verify --beams)
  std::string known = "all, none";
  for (const Rule& r : golden_rules()) known += ", " + rule_name(r);
  known += ", or sample[-t<T>][-k<K>][-p<P>][-seed<S>]";
  return parse_value_list<Rule>(
      text, "rule",
      [](std::string_view name) {
        const std::optional<Rule> rule = parse_rule(name);
        if (rule) {
          if (std::string problem = rule_problem(*rule); !problem.empty()) {
            throw std::invalid_argument("Rule '" + printable(name) + "': " + problem + ".");
          }
        }
        return rule;
      },
      known, golden_rules());
}

std::vector<Precision> parse_golden_precision_list(std::string_view text) {
  return parse_value_list<Precision>(
      text, "golden precision",
      [](std::string_view name) -> std::optional<Precision> {
        const std::optional<Precision> p = parse_precision(name);
        if (p && reference_precision(*p)) return p;
        return std::nullopt;
      },
      "all, float32, bf16w, int8w", golden_precisions());
}

const char* goldens_policy_name(GoldensPolicy p) {
  return p == GoldensPolicy::kRequired ? "required" : "auto";
}

GoldensPolicy parse_goldens_policy(std::string_view name) {
  for (GoldensPolicy p : {GoldensPolicy::kAuto, GoldensPolicy::kRequired}) {
    if (name == goldens_policy_name(p)) return p;
  }
  throw std::invalid_argument("Unknown --goldens '" + printable(name) +
                              "' (known: auto, required).");
}

GoldensPolicy default_goldens_policy(const char* ci) {
  const std::string_view value = ci != nullptr ? ci : "";
  return value == "true" || value == "1" ? GoldensPolicy::kRequired : GoldensPolicy::kAuto;
}

void on_missing_goldens(GoldensPolicy policy, const std::filesystem::path& path,
                        const std::string& model_name, const std::string& what) {
  if (policy != GoldensPolicy::kRequired) return;
  throw std::runtime_error(printable(
      "No committed goldens for " + model_name + " " + what + ": " + path.string() +
      " does not exist (--goldens required, the default under CI=true: write them with "
      "gpt2-goldens write, or pass --goldens auto to compute the reference's in this run)."));
}

std::string logits_hash(std::span<const float> logits) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx",
                static_cast<unsigned long long>(XXH3_64bits(logits.data(), logits.size_bytes())));
  return hex;
}

}  // namespace gpt2
