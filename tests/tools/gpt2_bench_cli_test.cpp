// gpt2-bench as a user runs it: the sweep's table and report files, verify, and
// clear errors for bad input.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>

#include "backends/registry.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

const std::string kBench = std::string(GPT2_BIN_DIR) + "/gpt2-bench";

class BenchCliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { open_model("synthetic:tiny"); }
  test::CommandResult bench(const std::string& args) {
    return test::run_command(kBench + " --model synthetic:tiny -q --out " + dir_.string() + " " +
                             args);
  }
  void expect_error(const std::string& args, const std::string& message) {
    const auto r = bench(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << "\nstderr: " << r.err;
  }
  std::filesystem::path dir_ = test::temp_dir();
};

TEST_F(BenchCliTest, SweepPrintsTheTableAndWritesTheReport) {
  const auto r = bench("--backend openmp,pthreads --threads 1..2 --reps 2");
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* s : {"| reference | recompute | 1 |", "| openmp | recompute | 2 |",
                        "| pthreads | recompute | 1 |", "Harness overhead"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  }
  int json = 0, md = 0, svg = 0, csv = 0;
  std::filesystem::path json_path;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    const auto ext = e.path().extension();
    json += ext == ".json";
    md += ext == ".md";
    svg += ext == ".svg";
    csv += ext == ".csv";
    if (ext == ".json") json_path = e.path();
  }
  EXPECT_EQ(json, 1);
  EXPECT_EQ(md, 1);
  EXPECT_EQ(svg, 1);
  EXPECT_EQ(csv, 1);
  // The machine's ceilings at each thread count, and every row against its own.
  EXPECT_NE(r.out.find("% of ceiling"), std::string::npos);
  EXPECT_NE(r.out.find("| threads | read GB/s | fp32 FMA GFLOP/s | fp32 mul+add GFLOP/s |"),
            std::string::npos)
      << r.out;
  const auto j = nlohmann::json::parse(std::ifstream(json_path));
  ASSERT_EQ(j["ceilings"]["points"].size(), 2u);
  EXPECT_GT(j["ceilings"]["points"][1]["read_gb_s"].get<double>(), 0);
  for (const auto& m : j["measurements"]) {
    ASSERT_TRUE(m["ceiling"].is_object()) << m["backend"];
    EXPECT_GT(m["ceiling"]["percent"].get<double>(), 0) << m["backend"];
  }
}

TEST_F(BenchCliTest, NoCeilingsSkipsThem) {
  const auto r = bench("--backend openmp --threads 1 --reps 1 --no-ceilings --no-overhead");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("Ceilings: not measured"), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("measuring the machine's ceilings"), std::string::npos);
}

TEST_F(BenchCliTest, VerifyPassesAndSaysSo) {
  const auto r =
      test::run_command(kBench + " verify --model synthetic:tiny -q --out " + dir_.string() +
                        " --backend all --threads 2 --mode kv-cache --rule greedy");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("verify: every configuration matches the reference"), std::string::npos);
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos);
}

// A model without committed goldens (synthetic:tiny at another seed): under
// --goldens required, or CI=true without the option, verify fails at once in
// one line naming the file; --goldens auto (the default outside CI) computes
// the reference's in the run and says so. The environment's CI is set for
// each run either way, as a CI runner may set it for the tests themselves.
TEST_F(BenchCliTest, MissingGoldensFailUnderCiOrGoldensRequired) {
  open_model("synthetic:tiny:seed=5");  // generated once, before (its note on stderr)
  const std::string verify = kBench + " verify --model synthetic:tiny:seed=5 -q --out " +
                             dir_.string() + " --backend pthreads --threads 1 --mode kv-cache";
  const std::string missing =
      "No committed goldens for synthetic:tiny:seed=5 float32 greedy: " +
      (datasets_dir() / "goldens" / "synthetic-tiny-seed5.greedy.txt").string() +
      " does not exist (--goldens required";
  for (const std::string& env_and_options :
       {std::string("CI=false ") + verify + " --rule greedy --goldens required",
        std::string("CI=true ") + verify + " --rule greedy"}) {
    const auto r = test::run_command(env_and_options);
    EXPECT_EQ(r.status, 1) << env_and_options;
    EXPECT_EQ(r.out, "") << env_and_options;
    EXPECT_EQ(r.err.rfind(missing, 0), 0u) << env_and_options << "\nstderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  // The beam goldens too, before any row runs (the rules' are not needed).
  const auto beams = test::run_command("CI=true " + verify + " --rule none --beams beams-k4");
  EXPECT_EQ(beams.status, 1);
  EXPECT_EQ(beams.err.rfind("No committed goldens for synthetic:tiny:seed=5 float32 beams-k4: ", 0),
            0u)
      << beams.err;
  for (const std::string& env_and_options :
       {std::string("CI=true ") + verify + " --rule greedy --goldens auto",
        std::string("CI= ") + verify + " --rule greedy"}) {
    const auto r = test::run_command(env_and_options);
    EXPECT_EQ(r.status, 0) << env_and_options << ": " << r.err;
    EXPECT_NE(r.out.find("No committed goldens for this model and float32 greedy: compared with "
                         "the reference, computed now."),
              std::string::npos)
        << r.out;
  }
  expect_error("verify --goldens maybe", "Unknown --goldens 'maybe' (known: auto, required).");
}

TEST_F(BenchCliTest, BadInputGetsAClearError) {
  expect_error("--threads 0", "thread counts start at 1, not 0");
  expect_error("--threads 4..1", "runs backwards");
  expect_error("--threads a..b", "is not a whole number");
  expect_error("--threads 5000", "more than the cap");
  expect_error("--backend tpu", "Unknown backend 'tpu' (known: reference, ");
  for (const BackendEntry& e : backend_entries()) {  // GPU backends without a GPU
    if (std::string why; !backend_available(e, Precision::kFloat32, &why)) {
      expect_error("--backend " + std::string(e.name),
                   "Backend " + std::string(e.name) + " cannot run here: " + why + ".");
    }
    // A precision this machine cannot run on a backend that runs others here
    // (oneDNN's bfloat16 on a CPU without AVX-512).
    for (Precision p : e.precisions) {
      std::string why;
      if (backend_available(e, p, &why) || !backend_available(e, Precision::kFloat32)) continue;
      expect_error("--backend " + std::string(e.name) + " --precision " + precision_name(p),
                   "Backend " + std::string(e.name) + " cannot run " + precision_name(p) +
                       " here: " + why + ".");
    }
  }
  expect_error("--mode lazy", "Unknown mode 'lazy'");
  expect_error("--rule best", "Unknown rule 'best'");
  expect_error("--prompt nope", "Unknown prompt 'nope'");
  expect_error("--tokens '1 x'", "Token 'x' is not an integer.");
  expect_error("--tokens '1 -4'", "Token -4 is negative.");
  expect_error("--tokens '1 2 3' -n 3", "Too many tokens");
  expect_error("--reps 0", "--reps must be at least 1");
  expect_error("--tokens 99999", "outside the model's vocabulary");
  expect_error("--precision fp8",
               "Unknown precision 'fp8' (known: float32, bfloat16, bf16w, int8w, bf16, all).");
  expect_error("--backend openmp --precision bf16",
               "Backend openmp offers float32, bf16w, int8w, not bfloat16.");
  expect_error("--new 0", "--new must be at least 1");
  expect_error("-n 12", "-n goes with --tokens");
  expect_error("--tokens '1 2' --prompt lab-hello", "either --tokens or --prompt");
  expect_error("--reference-reps 0", "--reference-reps must be at least 1");
  expect_error("--prompts /nonexistent.txt", "Prompt set /nonexistent.txt: no such file.");
  expect_error("--no-such-flag", "--no-such-flag");
  const auto r = test::run_command(kBench + " --model /nonexistent.bin -q");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.err.find("/nonexistent.bin: cannot open"), std::string::npos) << r.err;
}

// A report folder that cannot be written fails at once: one line, nothing on
// stdout, no sweep run first.
TEST_F(BenchCliTest, BeamSearchSweepsAndVerifies) {
  const auto r = bench(
      "--backend pthreads --threads 1 --reps 1 --mode kv-cache --beams 2 "
      "--no-ceilings");
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("beam search (beams 2"), std::string::npos) << r.out;
  const auto v = bench(
      "verify --backend pthreads --threads 1 --mode kv-cache --rule none "
      "--beams beams-k4");
  ASSERT_EQ(v.status, 0) << v.err;
  EXPECT_NE(v.out.find("| kv-cache | beams-k4 | bit-exact | 92 | 0 |"), std::string::npos) << v.out;
  expect_error("--beams 0", "--beams must be at least 1.");
  expect_error("--beams 2 --rule greedy", "--beams chooses the tokens itself");
  expect_error("--beams 2 --early-stopping soon", "Unknown --early-stopping 'soon'");
  expect_error("--ignore-eos", "go with --beams");
  expect_error("verify --beams beams-k9", "Unknown beam settings 'beams-k9'");
}

TEST_F(BenchCliTest, AnUnwritableReportFolderFailsBeforeAnyWork) {
  for (const std::string out : {"/proc/x", "/etc/hostname"}) {
    for (const std::string command : {"", "verify "}) {
      const auto r = test::run_command(kBench + " " + command + "--model synthetic:tiny --out " +
                                       out + " --backend openmp --threads 1");
      EXPECT_EQ(r.status, 1) << out;
      EXPECT_EQ(r.out, "") << out;
      EXPECT_EQ(r.err.rfind("Cannot write reports to " + out + ": ", 0), 0u) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    }
  }
}

TEST_F(BenchCliTest, Help) {
  const auto r = test::run_command(kBench + " --help");
  EXPECT_EQ(r.status, 0);
  for (const char* s : {"--backend", "--threads", "--mode", "--reps", "--prompt", "--precision",
                        "--no-ceilings", "verify", "render"}) {
    EXPECT_NE(r.out.find(s), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace gpt2
