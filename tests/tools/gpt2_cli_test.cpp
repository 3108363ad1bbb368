// The gpt2 command, run as a user runs it: output format and every error case.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "backends/registry.h"
#include "harness/beam_goldens.h"
#include "harness/goldens.h"
#include "reference/checkpoint.h"
#include "reference/synthetic.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace gpt2 {
namespace {

using test::kGpt2;

std::vector<int> lines_as_ints(const std::string& text) {
  std::vector<int> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::size_t used = 0;
    out.push_back(std::stoi(line, &used));
    EXPECT_EQ(used, line.size()) << "not just an integer: '" << line << "'";
  }
  return out;
}

class Gpt2CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { open_model("synthetic:tiny"); }  // generated before any run
  test::CommandResult gpt2(const std::string& args) {
    return test::run_command(kGpt2 + " --model synthetic:tiny " + args);
  }
  // Expects a failure with `message` on stderr (one line) and nothing on stdout.
  void expect_error(const test::CommandResult& r, const std::string& message) {
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "") << "stdout must stay empty on errors";
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  }
};

TEST_F(Gpt2CliTest, PrintsOneTokenIdPerLineUntilTenTokens) {
  const auto r = gpt2("31373 612 338 635 281");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err, "");
  const std::vector<int> tokens = lines_as_ints(r.out);
  ASSERT_EQ(tokens.size(), 5u);
  // They are the reference's golden continuation (the lab's median rule).
  const auto model = open_model("synthetic:tiny");
  const GoldenFile golden =
      read_goldens(golden_path(datasets_dir() / "goldens", model->name(), Rule::kMedian));
  EXPECT_EQ(tokens, golden.continuation("lab-hello"));
}

TEST_F(Gpt2CliTest, GreedyRuleModesAndLength) {
  const auto model = open_model("synthetic:tiny");
  const GoldenFile greedy =
      read_goldens(golden_path(datasets_dir() / "goldens", model->name(), Rule::kGreedy));
  const auto r = gpt2("--rule greedy 31373 612 338 635 281");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(lines_as_ints(r.out), greedy.continuation("lab-hello"));
  const auto kv = gpt2("--rule greedy --mode kv-cache 31373 612 338 635 281");
  EXPECT_EQ(kv.out, r.out);
  const auto n7 = gpt2("-n 7 31373 612 338 635 281");
  ASSERT_EQ(n7.status, 0);
  EXPECT_EQ(lines_as_ints(n7.out).size(), 2u);
  const auto one = gpt2("-n 2 50256");
  ASSERT_EQ(one.status, 0);
  EXPECT_EQ(lines_as_ints(one.out).size(), 1u);
}

// Every backend at every precision it offers: where it runs here, the lab's
// prompt continued as that precision's goldens say (float32, bf16w, int8w;
// the reordering float32 backends give the same tokens), or, for bfloat16
// (no goldens: not float32), five tokens and a note saying so; where it
// cannot, one line saying why.
TEST_F(Gpt2CliTest, EveryBackendAndPrecisionRuns) {
  const auto model = open_model("synthetic:tiny");
  int ran = 0;
  for (const BackendEntry& e : backend_entries()) {
    if (e.numerics == Numerics::kNone) continue;
    const std::string name(e.name);
    for (Precision p : e.precisions) {
      const std::string what = name + " " + precision_name(p);
      const std::string command = "--backend " + name + " --precision " + precision_name(p);
      // A GPU backend without a GPU, oneDNN's bfloat16 without AVX-512: one line saying why.
      if (std::string why; !backend_available(e, p, &why)) {
        const auto r = gpt2(command + " 31373 612");
        EXPECT_EQ(r.status, 1) << what;
        EXPECT_EQ(r.out, "") << what;
        EXPECT_EQ(r.err, "backend " + name + ": " + why + ".\n") << what;
        continue;
      }
      const auto r = gpt2(command + " --threads 2 -v 31373 612 338 635 281");
      ASSERT_EQ(r.status, 0) << what << ": " << r.err;
      EXPECT_NE(r.err.find("backend " + name + " ("), std::string::npos) << r.err;
      ran++;
      if (!reference_precision(p)) {
        EXPECT_EQ(lines_as_ints(r.out).size(), 5u) << what;
        EXPECT_NE(r.err.find("bfloat16, not float32"), std::string::npos) << r.err;
        continue;
      }
      const GoldenFile median =
          read_goldens(golden_path(datasets_dir() / "goldens", model->name(), Rule::kMedian, p));
      EXPECT_EQ(lines_as_ints(r.out), median.continuation("lab-hello")) << what;
    }
  }
  EXPECT_GE(ran, 3 * 3 + 1);  // reference, pthreads and openmp at 3 precisions; blis or more
}

// --precision bf16 on every backend that offers it: a continuation where this
// machine can run it; one line saying why where it cannot (oneDNN's bfloat16
// on a CPU without AVX-512, a GPU backend without a GPU). Skipped, with the
// reasons, when none can run here.
TEST_F(Gpt2CliTest, BFloat16RunsWhereThisMachineCan) {
  int ran = 0;
  std::string not_here;
  for (const BackendEntry& e : backend_entries()) {
    if (!offers_precision(e, Precision::kBFloat16)) continue;
    const std::string name(e.name);
    const auto r = gpt2("--backend " + name + " --precision bf16 -v 31373 612 338 635 281");
    if (std::string why; !backend_available(e, Precision::kBFloat16, &why)) {
      EXPECT_EQ(r.status, 1) << name;
      EXPECT_EQ(r.out, "") << name;
      EXPECT_EQ(r.err, "backend " + name + ": " + why + ".\n") << name;
      not_here += name + ": " + why + "; ";
      continue;
    }
    ASSERT_EQ(r.status, 0) << name << ": " << r.err;
    EXPECT_EQ(lines_as_ints(r.out).size(), 5u);
    EXPECT_NE(r.err.find("bfloat16, not float32"), std::string::npos) << r.err;
    ran++;
  }
  if (ran == 0) GTEST_SKIP() << "no bfloat16 backend runs here (" << not_here << ")";
}

// --precision bf16w and int8w: every backend that offers one prints the
// continuation of that precision's goldens (they are bit-exact with its
// reference); one that does not says which it offers, in one line.
TEST_F(Gpt2CliTest, WeightOnlyPrecisions) {
  const auto model = open_model("synthetic:tiny");
  for (Precision p : {Precision::kBF16Weights, Precision::kInt8Weights}) {
    const GoldenFile golden =
        read_goldens(golden_path(datasets_dir() / "goldens", model->name(), Rule::kMedian, p));
    for (const BackendEntry& e : backend_entries()) {
      const std::string name(e.name), precision = precision_name(p);
      if (e.numerics == Numerics::kNone || !backend_available(e, Precision::kFloat32)) continue;
      const auto r = gpt2("--backend " + name + " --threads 2 --precision " + precision +
                          " -v 31373 612 338 635 281");
      if (!offers_precision(e, p)) {
        expect_error(
            r, "Backend " + name + " offers " + offered_precisions(e) + ", not " + precision + ".");
        continue;
      }
      ASSERT_EQ(r.status, 0) << name << ": " << r.err;
      EXPECT_EQ(lines_as_ints(r.out), golden.continuation("lab-hello")) << name << " " << precision;
      EXPECT_NE(r.err.find(", " + precision + ", "), std::string::npos) << r.err;
    }
  }
}

TEST_F(Gpt2CliTest, NoTokens) {
  expect_error(gpt2(""), "Provide at least one token.");
}

TEST_F(Gpt2CliTest, TooManyTokens) {
  expect_error(gpt2("1 2 3 4 5 6 7 8 9 10"), "Too many tokens.");
  expect_error(gpt2("-n 3 1 2 3"), "Too many tokens.");
}

TEST_F(Gpt2CliTest, TokensThatAreNotIntegers) {
  expect_error(gpt2("12 abc"), "Token 'abc' is not an integer.");
  expect_error(gpt2("1.5"), "Token '1.5' is not an integer.");
  expect_error(gpt2("12x"), "Token '12x' is not an integer.");
  expect_error(gpt2("''"), "Token '' is not an integer.");
}

TEST_F(Gpt2CliTest, TokensOutOfRange) {
  expect_error(gpt2("50257"), "Token 50257 is out of range [0, 50257).");
  expect_error(gpt2("5 -1"), "Token -1 is out of range [0, 50257).");
  expect_error(gpt2("99999999999"), "Token 99999999999 is out of range.");
}

TEST_F(Gpt2CliTest, LengthOutOfRange) {
  expect_error(gpt2("-n 1 5"), "n = 1 is outside [2, 1024].");
  expect_error(gpt2("-n 1025 5"), "n = 1025 is outside [2, 1024].");
  expect_error(gpt2("-n -3 5"), "is outside [2, 1024].");
}

TEST_F(Gpt2CliTest, BadOptions) {
  expect_error(gpt2("--backend fast 5"), "Unknown backend 'fast' (known: reference");
  expect_error(gpt2("--rule best 5"), "Unknown rule 'best'");
  expect_error(gpt2("--mode lazy 5"), "Unknown mode 'lazy'");
  expect_error(gpt2("--threads 0 5"), "--threads must be at least 1.");
  expect_error(gpt2("--precision fp8 5"),
               "Unknown precision 'fp8' (known: float32, bfloat16, bf16w, int8w, bf16).");
  expect_error(gpt2("--backend pthreads --precision bf16 5"),
               "Backend pthreads offers float32, bf16w, int8w, not bfloat16.");
  const auto r = gpt2("--frobnicate 5");
  EXPECT_NE(r.status, 0);
  EXPECT_EQ(r.out, "");
}

// gpt2 --beams: the returned sequences, best first, with their scores: the
// reference's beam goldens of the prompt; every bad combination refused.
TEST_F(Gpt2CliTest, BeamSearchPrintsTheGoldenBeams) {
  const auto r = gpt2("--beams 4 --num-return 4 --mode kv-cache 31373 612 338 635 281");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto model = open_model("synthetic:tiny");
  BeamOptions o;
  o.beams = 4;
  o.num_return = 4;
  const BeamGoldenFile g =
      read_beam_goldens(beam_golden_path(datasets_dir() / "goldens", model->name(), o));
  std::string want;
  int rank = 1;
  for (const BeamGoldenRow* row : g.of("lab-hello")) {
    char head[64];
    std::snprintf(head, sizeof head, "%d %.6f:", rank++, double(row->score));
    want += head;
    for (int t : row->tokens) {
      want += ' ';
      want += std::to_string(t);
    }
    want += "\n";
  }
  EXPECT_EQ(r.out, want);
  const auto j =
      gpt2("--beams 2 --num-return 2 --length-penalty 0 --early-stopping never --json 5 6");
  ASSERT_EQ(j.status, 0) << j.err;
  EXPECT_NE(j.out.find("\"sequences\":[{"), std::string::npos) << j.out;
}

TEST_F(Gpt2CliTest, BadBeamOptions) {
  expect_error(gpt2("--beams 0 5"), "--beams must be at least 1.");
  expect_error(gpt2("--beams 4 --num-return 5 5"), "--num-return 5 is more than --beams 4.");
  expect_error(gpt2("--beams 2000 5"), "--beams 2000 is more than a batch holds (1024 sequences).");
  expect_error(gpt2("--beams 2 --rule sample 5"), "--beams chooses the tokens itself");
  expect_error(gpt2("--beams 2 --temperature 0.5 5"), "--beams chooses the tokens itself");
  expect_error(gpt2("--beams 2 --early-stopping maybe 5"), "Unknown --early-stopping 'maybe'");
  expect_error(gpt2("--beams 2 --eos 60000 5"), "end-of-text token 60000 is outside");
  expect_error(gpt2("--num-return 2 5"), "go with --beams.");
  expect_error(gpt2("--beams 2 -n 3 1 2 3"), "Too many tokens.");
  expect_error(gpt2("--beams 2 50257"), "Token 50257 is out of range");
}

TEST_F(Gpt2CliTest, BadCheckpoints) {
  const auto dir = test::temp_dir();
  expect_error(test::run_command(kGpt2 + " --model " + (dir / "none.bin").string() + " 5"),
               "none.bin: cannot open: No such file or directory");
  // A real checkpoint, cut short.
  const ModelConfig small{16, 10, 16, 1, 1, 4};
  const auto cut = dir / "cut.bin";
  write_checkpoint(cut, small, synthetic_parameters(small, 1));
  std::filesystem::resize_file(cut, std::filesystem::file_size(cut) - 8);
  expect_error(test::run_command(kGpt2 + " --model " + cut.string() + " 5"), "cut.bin: truncated");
  // Not a checkpoint at all.
  const auto text = dir / "text.bin";
  std::ofstream(text) << std::string(2000, 'x');
  expect_error(test::run_command(kGpt2 + " --model " + text.string() + " 5"), "bad magic number");
  expect_error(test::run_command(kGpt2 + " --model synthetic:huge 5"),
               "Unknown synthetic preset 'huge'");
}

TEST_F(Gpt2CliTest, HelpDescribesTheOptions) {
  const auto r = test::run_command(kGpt2 + " --help");
  EXPECT_EQ(r.status, 0);
  for (const char* word :
       {"--model", "-n", "--rule", "--backend", "--threads", "--mode", "--precision"}) {
    EXPECT_NE(r.out.find(word), std::string::npos) << word;
  }
}

}  // namespace
}  // namespace gpt2
