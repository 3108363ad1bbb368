// The beam goldens (harness/beam_goldens.h): every committed file reads back
// to what its writer wrote, a malformed one is refused in one line that names
// the file and the line, and verify's beam rows waive a reordering backend's
// tokens only at a near tie measured from its own logit error.
#include "harness/beam_goldens.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>

#include "backends/registry.h"
#include "harness/verify_report.h"
#include "runtime/backend_specs.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

std::string file_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The file without its header comments ("# " lines), as write_beam_goldens
// writes it with no header.
std::string without_header(const std::string& text) {
  std::istringstream in(text);
  std::string out;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# ", 0) != 0) out += line + "\n";
  }
  return out;
}

TEST(BeamGoldensTest, EveryCommittedFileReadsBackAsWritten) {
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(datasets_dir() / "goldens")) {
    const std::string name = entry.path().filename().string();
    if (name.find(".beams-") == std::string::npos) continue;
    const BeamGoldenFile g = read_beam_goldens(entry.path());
    EXPECT_FALSE(g.rows.empty()) << name;
    const auto copy = test::temp_dir() / name;
    write_beam_goldens(copy, g, {});
    EXPECT_EQ(file_text(copy), without_header(file_text(entry.path()))) << name;
    files++;
  }
  EXPECT_GE(files, 18);  // 2 models x 3 precisions x 3 settings
}

std::string parse_error(const std::string& text) {
  try {
    parse_beam_goldens(text, "beams.txt");
  } catch (const DataFileError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(BeamGoldensTest, MalformedFilesNameTheLine) {
  const std::string head = "model: m\nchecksum: c\nbeams: 2\n";
  const std::string row = "p\t0\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1 2 3\n";
  EXPECT_EQ(parse_beam_goldens(head + row, "beams.txt").rows.size(), 1u);
  EXPECT_EQ(parse_error("model: m\n"), "beams.txt:1: no model or checksum line");
  EXPECT_EQ(parse_error("colour: red\n"), "beams.txt:1: unknown key 'colour'");
  EXPECT_EQ(parse_error("beams\n"), "beams.txt:1: expected 'key: value'");
  EXPECT_EQ(parse_error("beams: two\n"), "beams.txt:1: 'two' is not an integer");
  EXPECT_EQ(parse_error("length_penalty: x\n"), "beams.txt:1: 'x' is not a number");
  EXPECT_EQ(parse_error("precision: fp8\n"), "beams.txt:1: unknown precision 'fp8'");
  EXPECT_EQ(parse_error("early_stopping: soon\n"), "beams.txt:1: unknown early_stopping 'soon'");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\n"), "beams.txt:4: expected 8 tab-separated columns");
  EXPECT_EQ(parse_error(head + "p\tx\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1\n"),
            "beams.txt:4: 'x' is not an integer");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\tbfc00001\t3\t0.25\t0123456789abcdef\t1\n"),
            "beams.txt:4: the score -1.5 does not have the bits bfc00001");
  EXPECT_EQ(parse_error(head + "p\t0\t-1.5\tbfc00000\t3\t0.25\t0123456789abcdef\t1 y\n"),
            "beams.txt:4: 'y' is not an integer");
  // A margin of inf (a search with no choice) reads back.
  const BeamGoldenFile g =
      parse_beam_goldens(head + "p\t0\t-1.5\tbfc00000\t3\tinf\t0123456789abcdef\t1\n", "b.txt");
  EXPECT_TRUE(std::isinf(g.rows[0].margin));
}

BeamGoldenFile committed_k4() {
  const auto model = test::tiny_model();
  return read_beam_goldens(
      beam_golden_path(datasets_dir() / "goldens", model->name(), golden_beam_settings()[0]));
}

std::vector<Prompt> committed_prompts() {
  return read_prompts(datasets_dir() / "prompts.txt");
}

VerifyOptions beam_options(const std::string& backend) {
  VerifyOptions o;
  o.specs = expand_backend_specs({backend, "float32", "2"}).specs;
  o.modes = {Mode::kKvCache};
  return o;
}

// A reordering backend's beam row measures its errors along the golden
// hypotheses and waives a hypothesis's tokens only where the golden margin is
// under 10 x the sum of its candidates' log-probability errors over its steps
// (at most 10 x the largest x its steps): a hypothesis whose tokens differ with
// a margin of 5e-3 per step (waived by the old bound of 10 x 1e-3 per step,
// the --max-logit-diff allowance, not what the backend does) fails; one with a
// margin of 1e-9 is a near tie, said and not failed.
TEST(VerifyBeamsTest, AReorderingBackendsWaiverComesFromItsMeasuredLogitError) {
  std::string backend;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kReordered && e.device == Device::kCpu &&
        backend_available(e, Precision::kFloat32)) {
      backend = e.name;
      break;
    }
  }
  if (backend.empty()) GTEST_SKIP() << "no reordering CPU backend runs here";
  const BeamGoldenFile g = committed_k4();
  const auto clean =
      verify_beams(test::tiny_model(), committed_prompts(), {g}, beam_options(backend), {});
  ASSERT_EQ(clean.size(), 1u);
  const VerifyRow& row = clean[0];
  EXPECT_TRUE(row.passed) << (row.differences.empty() ? "" : row.differences[0]);
  EXPECT_GT(row.beam_logit_error, 0.0) << backend << ": reordered sums, yet the same bits?";
  EXPECT_LT(row.beam_logit_error, 1e-3) << backend;
  // A log-probability moves by at most twice the largest logit error (and a
  // rounding or two of its float32 arithmetic).
  EXPECT_GT(row.beam_logprob_error, 0.0) << backend;
  EXPECT_LE(row.beam_logprob_error, 2 * row.beam_logit_error + 1e-5) << backend;
  int waivable = 0, old_bound = 0;
  for (const BeamGoldenRow& r : g.rows) {
    waivable += r.margin < kNearTieFactor * row.beam_logprob_error * r.steps;
    old_bound += r.margin <= 10 * 1e-3 * r.steps;
  }
  EXPECT_LE(row.waived, waivable);
  EXPECT_LT(row.waived, old_bound) << "the measured bound waives fewer than 10 x 1e-3 x steps";
  VerifyResult result;
  result.rows = clean;
  EXPECT_NE(verify_table(result).find(" kv-cache beams-k4: " + std::to_string(row.waived) +
                                      " of 92 waived (log-probability error "),
            std::string::npos)
      << verify_table(result);

  // The best hypothesis of the first prompt, its last token changed.
  BeamGoldenFile changed = g;
  BeamGoldenRow& r = changed.rows[0];
  ASSERT_EQ(r.rank, 0);
  r.tokens.back() ^= 1;
  r.margin = 5e-3f * float(r.steps);
  ASSERT_GT(r.margin, kNearTieFactor * row.beam_logprob_error * r.steps);
  const auto flipped =
      verify_beams(test::tiny_model(), committed_prompts(), {changed}, beam_options(backend), {});
  EXPECT_FALSE(flipped[0].passed);
  EXPECT_EQ(flipped[0].token_mismatches, 1);
  EXPECT_EQ(flipped[0].near_ties, 0);
  ASSERT_EQ(flipped[0].differences.size(), 1u);
  EXPECT_NE(flipped[0].differences[0].find(" " + r.prompt_id +
                                           " rank 0: other tokens (golden "
                                           "margin "),
            std::string::npos)
      << flipped[0].differences[0];
  r.margin = 1e-9f;
  const auto tie =
      verify_beams(test::tiny_model(), committed_prompts(), {changed}, beam_options(backend), {});
  EXPECT_TRUE(tie[0].passed);
  EXPECT_EQ(tie[0].near_ties, 1);
  EXPECT_EQ(tie[0].token_mismatches, 0);
  ASSERT_EQ(tie[0].differences.size(), 1u);
  EXPECT_EQ(tie[0].differences[0].rfind("near tie, not a failure: " + backend, 0), 0u)
      << tie[0].differences[0];
}

// Bit-exact backends waive nothing and measure no logit error: every
// hypothesis's tokens, score bits and path are the goldens'.
TEST(VerifyBeamsTest, BitExactBackendsWaiveNothing) {
  const auto rows = verify_beams(test::tiny_model(), committed_prompts(), {committed_k4()},
                                 beam_options("pthreads"), {});
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].passed);
  EXPECT_EQ(rows[0].waived, 0);
  EXPECT_EQ(rows[0].beam_logit_error, 0.0);
  EXPECT_EQ(rows[0].logits_mismatches, 0);
  EXPECT_EQ(rows[0].steps, 92);
}

}  // namespace
}  // namespace gpt2
