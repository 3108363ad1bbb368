// gpt2 with text: encode, decode, --prompt, stop strings, <|endoftext|>, sampling.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "reference/checkpoint.h"
#include "reference/synthetic.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace gpt2 {
namespace {

using test::kGpt2;

class Gpt2TextTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { open_model("synthetic:tiny"); }
  test::CommandResult run(const std::string& args, const std::string& stdin_text = "") {
    const auto in = test::temp_dir() / "stdin";
    std::ofstream(in, std::ios::binary) << stdin_text;
    // A subshell, so that run_command's own </dev/null does not replace ours.
    return test::run_command("(" + kGpt2 + " " + args + " < " + in.string() + ")");
  }
  test::CommandResult complete(const std::string& args, const std::string& stdin_text = "") {
    return run("--model synthetic:tiny " + args, stdin_text);
  }
};

using test::shell_quote;

TEST_F(Gpt2TextTest, EncodePrintsOpenAIsIds) {
  auto r = run("encode", "Hello, my dog is cute");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "15496 11 616 3290 318 13779\n");
  r = run("encode", "hello there's also an");
  EXPECT_EQ(r.out, "31373 612 338 635 281\n");
  EXPECT_EQ(run("encode", "<|endoftext|>").out, "27 91 437 1659 5239 91 29\n");
  EXPECT_EQ(run("encode --allow-special", "a<|endoftext|>b").out, "64 50256 65\n");
  EXPECT_EQ(run("encode", "").out, "\n");
}

TEST_F(Gpt2TextTest, DecodeWritesTheExactBytes) {
  auto r = run("decode 15496 11 616 3290 318 13779");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "Hello, my dog is cute");  // no newline added
  // Byte tokens decode to raw bytes, even ones that are not UTF-8 on their own.
  const std::string bytes = run("encode", "caf\xc3\xa9 \xff\xfe").out;
  const auto back = run("decode " + bytes.substr(0, bytes.size() - 1));
  EXPECT_EQ(back.out, "caf\xc3\xa9 \xff\xfe");
  EXPECT_EQ(run("decode 50256").out, "<|endoftext|>");
}

TEST_F(Gpt2TextTest, DecodeErrors) {
  for (const char* bad : {"50257", "-1", "x12"}) {
    const auto r = run(std::string("decode 1 ") + bad);
    EXPECT_NE(r.status, 0) << bad;
    EXPECT_EQ(r.out, "") << bad;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
  }
  EXPECT_NE(run("decode").status, 0);
}

TEST_F(Gpt2TextTest, PromptGivesTheTextOfTheTokenModeContinuation) {
  // Token mode on the prompt's ids, decoded, is what text mode prints.
  const auto text = complete("--prompt 'Ladies and' -n 12 --ignore-eos");
  ASSERT_EQ(text.status, 0) << text.err;
  const auto ids = complete("-n 12 43 50192 290");
  ASSERT_EQ(ids.status, 0) << ids.err;
  std::string id_list;
  std::istringstream in(ids.out);
  for (std::string t; in >> t;) id_list += " " + t;
  EXPECT_EQ(run("decode" + id_list).out, text.out);
  EXPECT_FALSE(text.out.empty());
  // The prompt from stdin, and --echo.
  EXPECT_EQ(run("--model synthetic:tiny --prompt - -n 12 --ignore-eos", "Ladies and").out,
            text.out);
  EXPECT_EQ(complete("--prompt 'Ladies and' -n 12 --ignore-eos --echo").out,
            "Ladies and" + text.out);
}

TEST_F(Gpt2TextTest, StopStringsEndTheOutputBeforeThem) {
  const auto full = complete("--prompt 'The kernel schedules' --max-new 30 --ignore-eos");
  ASSERT_EQ(full.status, 0) << full.err;
  ASSERT_GE(full.out.size(), 12u);
  const std::string stop = full.out.substr(full.out.size() / 2, 3);
  const auto cut = complete("--prompt 'The kernel schedules' --max-new 30 --ignore-eos --stop " +
                            shell_quote(stop));
  ASSERT_EQ(cut.status, 0) << cut.err;
  EXPECT_EQ(cut.out, full.out.substr(0, full.out.find(stop)));
  // A stop string that never appears changes nothing.
  EXPECT_EQ(complete("--prompt 'The kernel schedules' --max-new 30 --ignore-eos --stop "
                     "'@@never@@'")
                .out,
            full.out);
}

TEST_F(Gpt2TextTest, EndOfTextStopsUnlessIgnored) {
  // A tiny model whose final layernorm outputs wte[50256] (times 10) whatever
  // the input: every step's argmax is <|endoftext|>.
  const ModelConfig c = *find_preset("tiny");
  std::vector<float> p = synthetic_parameters(c, 1);
  const auto sizes = tensor_sizes(c);
  std::size_t lnfw = 0;
  for (int t = 0; t < kLnfw; t++) lnfw += sizes[t];
  for (int i = 0; i < c.channels; i++) {
    p[lnfw + i] = 0.0f;                                                         // lnfw
    p[lnfw + c.channels + i] = 10.0f * p[std::size_t(50256) * c.channels + i];  // lnfb
  }
  const auto path = test::temp_dir() / "eos.bin";
  write_checkpoint(path, c, p);
  const std::string model = "--model " + path.string() + " --rule greedy --prompt 'Hello' ";
  auto r = run(model + "--max-new 5");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "");
  r = run(model + "--max-new 3 --ignore-eos");
  EXPECT_EQ(r.out, "<|endoftext|><|endoftext|><|endoftext|>");
  EXPECT_EQ(run("--model " + path.string() + " --rule greedy -n 3 15496").out, "50256\n50256\n");
}

TEST_F(Gpt2TextTest, SeededSamplingIsTheSameOnEveryBackend) {
  const std::string args =
      "--prompt 'Once upon' --max-new 12 --ignore-eos --temperature 0.9 "
      "--top-k 50 --seed 7";
  const auto ref = complete(args);
  ASSERT_EQ(ref.status, 0) << ref.err;
  EXPECT_EQ(complete(args + " --backend openmp --threads 3 --mode kv-cache").out, ref.out);
  EXPECT_EQ(complete(args + " --backend pthreads --threads 2").out, ref.out);
  EXPECT_EQ(complete("--prompt 'Once upon' --max-new 12 --ignore-eos --rule "
                     "sample-t0.9-k50-seed7")
                .out,
            ref.out);
  EXPECT_NE(complete("--prompt 'Once upon' --max-new 12 --ignore-eos --temperature 0.9 "
                     "--top-k 50 --seed 8")
                .out,
            ref.out);
}

TEST_F(Gpt2TextTest, BadTextOptions) {
  auto expect_error = [&](const std::string& args, const std::string& message) {
    const auto r = complete(args);
    EXPECT_NE(r.status, 0) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
  };
  expect_error("--prompt 'a b c d e f' -n 3", "Too many tokens: the prompt has 6 tokens, n is 3.");
  expect_error("--prompt x --temperature 0", "the temperature must be above 0");
  expect_error("--prompt x --top-p 1.5", "top-p must be in (0, 1]");
  expect_error("--prompt x --rule greedy --seed 3", "go with --rule sample");
  expect_error("--prompt x 5 6", "Give either token ids or --prompt, not both.");
  expect_error("--stop x 5", "go with --prompt");
  expect_error("--prompt x --rule warm", "Unknown rule 'warm'");
  expect_error("--prompt x --max-new 0", "--max-new must be at least 1.");
}

// --- Text at the edges (README: "The gpt2 command", "Text at the edges"). ---------------------

// One line on stderr, nothing on stdout, exit status 1.
void expect_one_line_error(const test::CommandResult& r, const std::string& message) {
  EXPECT_EQ(r.status, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, message + "\n");
}

// Invalid UTF-8 is kept: its bytes are encoded as byte tokens, as GPT-2's byte-level BPE does,
// and --echo and decode give them back exactly.
TEST_F(Gpt2TextTest, InvalidUtf8IsEncodedByteForByte) {
  const std::string bad = "caf\xc3 \xff\xfe\xed\xa0\x80 \xf4\x90\x80\x80 ok";
  const auto ids = run("encode", bad);
  EXPECT_EQ(ids.status, 0) << ids.err;
  EXPECT_EQ(run("decode " + ids.out.substr(0, ids.out.size() - 1)).out, bad);
  const auto r = complete("--prompt - --echo --ignore-eos -n 30", bad);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, bad.size()), bad);
  EXPECT_GT(r.out.size(), bad.size());
}

// NUL is an ordinary byte (token 188), in --prompt - and encode alike.
TEST_F(Gpt2TextTest, NulBytesAreOrdinaryBytes) {
  const std::string text("a\0b\0\0c", 6);
  const auto ids = run("encode", text);
  EXPECT_EQ(ids.status, 0) << ids.err;
  EXPECT_NE(ids.out.find("188"), std::string::npos) << ids.out;
  EXPECT_EQ(run("decode " + ids.out.substr(0, ids.out.size() - 1)).out, text);
  const auto r = complete("--prompt - --echo --ignore-eos -n 20", text);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, text.size()), text);
}

// A prompt that cannot fit the context is rejected before it is tokenized or read to its end:
// the tiny model's 1024 tokens of at most 128 bytes each hold at most 131072 bytes.
TEST_F(Gpt2TextTest, TenMegabytesAreRejectedAtOnce) {
  std::string text;
  while (text.size() < 10'000'000) text += "The quick brown fox jumps over the lazy dog. ";
  const std::string message =
      "The prompt is more than 131072 bytes long: more than the model's context of 1024 tokens "
      "can hold (a token is at most 128 bytes).";
  expect_one_line_error(complete("--prompt -", text), message);
  expect_one_line_error(complete("--prompt - --echo", std::string(10'000'000, '\0')), message);
  // An endless stdin is not read to its end.
  expect_one_line_error(
      test::run_command("(" + kGpt2 + " --model synthetic:tiny --prompt - < /dev/zero)"), message);
}

// gpt2 encode has no context to fill: it encodes up to 16 MiB (10 MB here) and refuses more.
TEST_F(Gpt2TextTest, EncodeTakesTenMegabytesAndRefusesAnEndlessStdin) {
  std::string text;
  while (text.size() < 10'000'000) text += "The quick brown fox jumps over the lazy dog. ";
  const auto r = run("encode", text);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 20), "464 2068 7586 21831 ");
  // 10 tokens a sentence ("The", " quick", ..., "."), and the last space
  EXPECT_EQ(std::size_t(std::count(r.out.begin(), r.out.end(), ' ') + 1),
            10 * (text.size() / 45) + 1);
  expect_one_line_error(test::run_command("(" + kGpt2 + " encode < /dev/zero)"),
                        "gpt2 encode reads at most 16777216 bytes (16 MiB); stdin holds more: "
                        "split the text.");
}

// A prompt longer than the context: one line naming both counts, nothing on stdout.
TEST_F(Gpt2TextTest, APromptLongerThanTheContextIsOneLineOnStderr) {
  std::string text;
  for (int i = 0; i < 1500; ++i) text += " hello";  // 1500 tokens
  expect_one_line_error(complete("--prompt -", text),
                        "The prompt is 1500 tokens long, and the model's context holds 1024: no "
                        "room for a new token.");
  expect_one_line_error(complete("--prompt - -n 1024", text),
                        "Too many tokens: the prompt has 1500 tokens, n is 1024.");
}

// A prompt that fits, with too little room left for --max-new: the run says so on stderr before
// it starts, then stops at the context's end.
TEST_F(Gpt2TextTest, TheContextCutsTheContinuationAndSaysSo) {
  std::string text;
  for (int i = 0; i < 1020; ++i) text += " hello";  // 1020 tokens
  const auto r = complete("--prompt - --mode kv-cache --ignore-eos --rule greedy", text);
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.err,
            "gpt2: the model's context (1024 tokens) leaves room for 4 new tokens after the 1020 "
            "of the prompt, not --max-new 50.\n");
  EXPECT_FALSE(r.out.empty());
}

}  // namespace
}  // namespace gpt2
