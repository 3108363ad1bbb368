#include "harness/goldens.h"
#include "runtime/backend_specs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <fstream>
#include <set>
#include <tuple>

#include "backends/registry.h"
#include "harness/golden_run.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

std::filesystem::path write_text(const std::string& text) {
  const auto path = test::temp_dir() / "file.txt";
  std::ofstream(path) << text;
  return path;
}

void expect_error(const std::string& text, const std::string& what, bool golden = false) {
  const auto path = write_text(text);
  try {
    if (golden) {
      read_goldens(path);
    } else {
      read_prompts(path);
    }
    FAIL() << "accepted: " << text;
  } catch (const DataFileError& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
  }
}

TEST(PromptsTest, ParsesIdsLengthsAndTokens) {
  const auto prompts = read_prompts(write_text("# comment\n\na 10 1 2 3\nb 5 7\n"));
  ASSERT_EQ(prompts.size(), 2u);
  EXPECT_EQ(prompts[0].id, "a");
  EXPECT_EQ(prompts[0].n, 10);
  EXPECT_EQ(prompts[0].tokens, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(prompts[1].tokens, (std::vector<int>{7}));
}

TEST(PromptsTest, ErrorsNameTheLine) {
  expect_error("a 10 1\nb 10 x\n", ":2: token 'x' is not a non-negative integer");
  expect_error("a 10 -1\n", ":1: token '-1'");
  expect_error("a ten 1\n", ":1: n 'ten' is not an integer");
  expect_error("a 3 1 2 3\n", ":1: prompt a has 3 tokens, not fewer than n = 3");
  expect_error("a 10\n", ":1: expected '<id> <n> <token>...'");
  expect_error("a 10 1\na 10 2\n", ":2: duplicate prompt id a");
  expect_error("# nothing\n", "no prompts");
}

TEST(PromptsTest, TheCommittedSetHasShortAndLongPrompts) {
  const auto prompts = read_prompts(datasets_dir() / "prompts.txt");
  EXPECT_GE(prompts.size(), 24u);
  std::set<std::size_t> short_lengths;
  int long_prompts = 0;
  for (const Prompt& p : prompts) {
    if (p.tokens.size() <= 9) {
      short_lengths.insert(p.tokens.size());
      EXPECT_EQ(p.n, 10) << p.id;
    } else {
      EXPECT_GE(p.tokens.size(), 100u) << p.id;
      EXPECT_LE(p.tokens.size(), 900u) << p.id;
      long_prompts++;
    }
  }
  EXPECT_EQ(short_lengths.size(), 9u);  // every length 1..9
  EXPECT_GE(long_prompts, 3);
}

TEST(GoldensTest, RoundTrip) {
  GoldenFile g;
  g.model = "synthetic:tiny:seed=1";
  g.checksum = "0123456789abcdef";
  g.rule = Rule::kGreedy;
  g.steps = {{"p1", 0, 42, 0.5f, 0.5f, "00000000000000ff"},
             {"p1", 1, 7, 1.25f, 1.25f, "0000000000000100"},
             {"p2", 0, 50256, 0.001f, 3.0f, "ffffffffffffffff"}};
  const auto path = test::temp_dir() / "g.txt";
  write_goldens(path, g, {"a header line"});
  const GoldenFile r = read_goldens(path);
  EXPECT_EQ(r.model, g.model);
  EXPECT_EQ(r.checksum, g.checksum);
  EXPECT_EQ(r.rule, Rule::kGreedy);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.continuation("p1"), (std::vector<int>{42, 7}));
  EXPECT_EQ(r.find("p2", 0)->token, 50256);
  EXPECT_EQ(r.find("p2", 0)->logits_hash, "ffffffffffffffff");
  EXPECT_FLOAT_EQ(r.find("p2", 0)->margin, 0.001f);
  EXPECT_EQ(r.find("p3", 0), nullptr);
}

TEST(GoldensTest, MalformedFiles) {
  expect_error("model: m\nchecksum: c\nrule: fancy\n", "unknown rule 'fancy'", true);
  expect_error("model: m\nchecksum: c\nrule: median\np\t0\t1\t0.1\n", "6 tab-separated", true);
  expect_error("model: m\nrule: median\n", "missing one of the keys", true);
  expect_error("colour: red\n", "unknown key 'colour'", true);
}

TEST(GoldensTest, FileNamesFromModelNames) {
  EXPECT_EQ(golden_path("/g", "synthetic:124M:seed=1", Rule::kMedian).string(),
            "/g/synthetic-124M-seed1.median.txt");
  EXPECT_EQ(golden_path("/g", "/data/gpt2_124M.bin", Rule::kGreedy).string(),
            "/g/gpt2_124M.greedy.txt");
}

TEST(GoldensTest, LogitsHashSeesEveryBit) {
  std::vector<float> a = {1.0f, 2.0f, -0.0f};
  std::vector<float> b = {1.0f, 2.0f, 0.0f};
  EXPECT_NE(logits_hash(a), logits_hash(b));
  EXPECT_EQ(logits_hash(a), logits_hash(std::vector<float>(a)));
}

// The reference reproduces the committed goldens of the tiny model, token for
// token and bit for bit (recompute mode, the lab's).
// Every precision the reference defines has its own (float32, bf16w, int8w).
class TinyGoldens : public ::testing::TestWithParam<std::tuple<Rule, Precision>> {};

TEST_P(TinyGoldens, ReferenceReproducesThem) {
  const auto [rule, precision] = GetParam();
  const auto model = open_model("synthetic:tiny");
  const auto prompts = read_prompts(datasets_dir() / "prompts.txt");
  const GoldenFile golden =
      read_goldens(golden_path(datasets_dir() / "goldens", model->name(), rule, precision));
  EXPECT_EQ(golden.checksum, model->checksum()) << "the synthetic generator changed";
  EXPECT_EQ(golden.precision, precision);
  auto backend = make_backend(model, backend_spec("reference", precision));
  const GoldenFile got =
      run_prompts(*backend, golden_prompts(prompts, rule), rule, Mode::kRecompute, 2);
  ASSERT_EQ(got.steps.size(), golden.steps.size());
  for (std::size_t i = 0; i < got.steps.size(); i++) {
    const GoldenStep &g = golden.steps[i], &s = got.steps[i];
    ASSERT_EQ(s.prompt_id, g.prompt_id);
    ASSERT_EQ(s.step, g.step);
    EXPECT_EQ(s.token, g.token) << g.prompt_id << " step " << g.step;
    EXPECT_EQ(s.logits_hash, g.logits_hash) << g.prompt_id << " step " << g.step;
  }
  // What the synthetic model was chosen for, in float32 (the weight-only
  // precisions are bit-exact: their near ties are as reproducible).
  if (rule.kind != Rule::kSample && precision == Precision::kFloat32) {
    const GoldenSummary summary = summarize(got);
    EXPECT_GE(summary.min_gap, 1e-2f) << "the tiny goldens are not decisive";
    EXPECT_LE(summary.max_repeat_share, 0.5f) << "a continuation is dominated by one token";
  }
}

std::string tiny_goldens_label(const std::tuple<Rule, Precision>& param) {
  std::string name = rule_name(std::get<0>(param)) + "_" + precision_name(std::get<1>(param));
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(Rules, TinyGoldens,
                         ::testing::Combine(::testing::ValuesIn(golden_rules()),
                                            ::testing::ValuesIn(golden_precisions())),
                         [](const auto& info) { return tiny_goldens_label(info.param); });

TEST(GoldensTest, PathsAndPrecisionKey) {
  EXPECT_EQ(golden_path("d", "synthetic:tiny:seed=2", Rule::kGreedy).string(),
            "d/synthetic-tiny-seed2.greedy.txt");
  EXPECT_EQ(
      golden_path("d", "synthetic:tiny:seed=2", Rule::kGreedy, Precision::kInt8Weights).string(),
      "d/synthetic-tiny-seed2.int8w.greedy.txt");
  const auto dir = test::temp_dir();
  GoldenFile g;
  g.model = "m";
  g.checksum = "0123456789abcdef";
  g.precision = Precision::kBF16Weights;
  write_goldens(dir / "g.txt", g, {});
  EXPECT_EQ(read_goldens(dir / "g.txt").precision, Precision::kBF16Weights);
  g.precision = Precision::kFloat32;
  write_goldens(dir / "f.txt", g, {});
  EXPECT_EQ(read_goldens(dir / "f.txt").precision, Precision::kFloat32);
  std::ofstream(dir / "bad.txt") << "model: m\nchecksum: 0123456789abcdef\nrule: greedy\n"
                                    "precision: bfloat16\n";
  EXPECT_THROW(read_goldens(dir / "bad.txt"), DataFileError);
}

TEST(GoldensTest, RuleListsAndCoveredPrompts) {
  EXPECT_EQ(parse_rule_list("all").size(), golden_rules().size());
  EXPECT_EQ(parse_rule_list("greedy,sample-t0.5-seed9").size(), 2u);
  EXPECT_THROW(parse_rule_list("fastest"), std::invalid_argument);
  EXPECT_THROW(parse_rule_list("sample-t0"), std::invalid_argument);
  const auto prompts = read_prompts(datasets_dir() / "prompts.txt");
  EXPECT_EQ(golden_prompts(prompts, Rule::kMedian).size(), prompts.size());
  for (const Prompt& p : golden_prompts(prompts, Rule::sample(1, 0, 1, 1))) {
    EXPECT_LE(p.tokens.size(), 9u);
  }
}

}  // namespace
}  // namespace gpt2

namespace gpt2 {
namespace {

// The prompt runner behind run_prompts, teacher_forced_logits and verify:
// every index once, on any number of threads, and a worker's exception comes
// back to the caller.
TEST(ForEachPromptTest, EachIndexOnceAndExceptionsReachTheCaller) {
  for (int jobs : {1, 3}) {
    std::vector<std::atomic<int>> seen(20);
    for_each_prompt(seen.size(), jobs, [&](std::size_t i) { seen[i]++; });
    for (const auto& n : seen) EXPECT_EQ(n.load(), 1) << jobs << " jobs";
    EXPECT_THROW(for_each_prompt(20, jobs,
                                 [](std::size_t i) {
                                   if (i == 7) throw std::runtime_error("prompt 7");
                                 }),
                 std::runtime_error)
        << jobs << " jobs";
  }
}

TEST(GoldensTest, ParsedFromMemoryAsFromTheFile) {
  const std::string prompts = "# comment\na 10 1 2 3\nb 5 7\n";
  const auto from_memory = parse_prompts(prompts, "mem.txt");
  const auto from_file = read_prompts(write_text(prompts));
  ASSERT_EQ(from_memory.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(from_memory[i].id, from_file[i].id);
    EXPECT_EQ(from_memory[i].n, from_file[i].n);
    EXPECT_EQ(from_memory[i].tokens, from_file[i].tokens);
  }
  const std::string goldens =
      "model: m\nchecksum: c\nrule: greedy\np\t0\t7\t0.5\t0.5\t0123456789abcdef\n";
  const GoldenFile g = parse_goldens(goldens, "mem.txt");
  EXPECT_EQ(g.rule, Rule(Rule::kGreedy));
  EXPECT_EQ(g.continuation("p"), std::vector<int>{7});
  EXPECT_EQ(read_goldens(write_text(goldens)).continuation("p"), std::vector<int>{7});
  try {
    parse_prompts("a 10 1\nb 10 x\n", "mem.txt");
    FAIL() << "accepted";
  } catch (const DataFileError& e) {
    EXPECT_STREQ(e.what(), "mem.txt:2: token 'x' is not a non-negative integer");
  }
}

// Found by reading the code while writing fuzz_goldens: a golden file's rule was parsed but not
// checked, so "rule: sample-t0" (temperature 0) was accepted.
TEST(GoldensTest, InvalidRuleSettingsAreRejected) {
  expect_error("model: m\nchecksum: c\nrule: sample-t0\n",
               ":3: rule 'sample-t0': the temperature must be above 0", true);
}

// Control characters (a carriage return from a file with CRLF line ends) are written as \xNN,
// so the message stays on one line.
TEST(GoldensTest, ErrorsStayOnOneLine) {
  expect_error("model: m\r\nchecksum: c\r\nrule: fancy\r\n", R"(unknown rule 'fancy\x0d')", true);
  expect_error("a\x01 10 x\n", "token 'x'");
}

}  // namespace
}  // namespace gpt2
