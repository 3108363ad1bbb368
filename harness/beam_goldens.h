// Beam search goldens: the frozen reference's beams of the short prompts for a
// few settings (datasets/goldens/<model>[.<precision>].<beams name>.txt), in
// plain text, and verify's rows for them.
//
// A file holds "key: value" lines (model, checksum, precision when not
// float32, beams, length_penalty, early_stopping, num_return, eos), then a
// tab-separated row per returned hypothesis:
//   <prompt id> <rank> <score> <score's float32 bits> <steps> <margin>
//   <XXH3-64 of the hypothesis's running log-probability sums> <tokens>
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "backends/backend.h"
#include "harness/goldens.h"
#include "harness/verify.h"
#include "runtime/beam_search.h"

namespace gpt2 {

struct BeamGoldenRow {
  std::string prompt_id;
  int rank = 0;
  float score = 0;
  int steps = 0;     // the search's steps for this prompt
  float margin = 0;  // the search's margin (BeamSearch::margin()); inf when none
  std::string path_hash;
  std::vector<int> tokens;
};

struct BeamGoldenFile {
  std::string model, checksum;
  Precision precision = Precision::kFloat32;
  BeamOptions options;
  std::vector<BeamGoldenRow> rows;  // by prompt, rank order
  std::vector<const BeamGoldenRow*> of(const std::string& prompt_id) const;
};

// "beams-k4", "beams-k2-lp0-never", "beams-k3-lp2-true-n2": K, then what is
// not transformers' default (length penalty 1, early stopping false, one
// returned... here K returned, end-of-text 50256).
std::string beam_settings_name(const BeamOptions& o);
// The settings the committed beam goldens cover.
const std::vector<BeamOptions>& golden_beam_settings();
// "all", "none", or names of golden_beam_settings() separated by commas.
// Throws std::invalid_argument naming an unknown one.
std::vector<BeamOptions> parse_beam_settings_list(std::string_view text);

std::filesystem::path beam_golden_path(const std::filesystem::path& goldens_dir,
                                       const std::string& model_name, const BeamOptions& o,
                                       Precision precision = Precision::kFloat32);

// The short prompts' beam searches on a backend (all prompts at once).
BeamGoldenFile run_beam_prompts(const Backend& backend, const std::vector<Prompt>& prompts,
                                const BeamOptions& o, Mode mode);
void write_beam_goldens(const std::filesystem::path& path, const BeamGoldenFile& g,
                        const std::vector<std::string>& header);
BeamGoldenFile read_beam_goldens(const std::filesystem::path& path);
BeamGoldenFile parse_beam_goldens(std::string_view text, const std::filesystem::path& path);

// verify's beam rows: each spec in each mode against each beam golden file of
// its precision's goldens (golden_precision_of). Bit-exact backends: every
// hypothesis's tokens, score bits and path hash equal. Reordering ones: their
// errors measured along each prompt's best golden hypothesis against the
// pthreads backend, the largest logit error (VerifyRow::beam_logit_error, at
// most options.max_logit_diff) and each step's largest error of a candidate's
// log-probability; the tokens equal unless the golden margin is under
// kNearTieFactor x the sum of those over the search's steps (waived: a near
// tie, said, not failed; VerifyRow::waived counts them); the score within 10 x
// max_logit_diff x its steps. bfloat16 rows: the logit error within
// max_bfloat16_logit_diff, their tokens reported. Rows use VerifyRow with
// `search` naming the settings; steps counts hypotheses. Backends come from
// options.factory.
std::vector<VerifyRow> verify_beams(const std::shared_ptr<const Model>& model,
                                    const std::vector<Prompt>& prompts,
                                    const std::vector<BeamGoldenFile>& goldens,
                                    const VerifyOptions& options, const VerifyProgress& progress);

}  // namespace gpt2
