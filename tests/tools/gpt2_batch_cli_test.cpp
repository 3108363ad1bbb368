// gpt2 --prompts and --prompt-file: several prompts in one batch, each line
// what gpt2 prints for that prompt alone, in the file's order; every mistake
// one line before any work.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "runtime/model_source.h"
#include "tests/test_util.h"
#include "tests/tools/cli_test_util.h"

namespace gpt2 {
namespace {

using test::kGpt2;

using test::shell_quote;

// gpt2's text output on one line, as batches print it.
std::string one_line(const std::string& text) {
  std::string out;
  for (char c : text) {
    out += c == '\\'   ? std::string("\\\\")
           : c == '\n' ? std::string("\\n")
           : c == '\r' ? std::string("\\r")
                       : std::string(1, c);
  }
  return out;
}

class Gpt2BatchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { open_model("synthetic:tiny"); }
  test::CommandResult gpt2(const std::string& args) {
    return test::run_command(kGpt2 + " --model synthetic:tiny " + args);
  }
  std::string file(const std::string& text) {
    std::string name = std::to_string(files_++);
    name += ".txt";  // (not "f" + ...: GCC 12's false -Wrestrict)
    const auto path = dir_ / name;
    std::ofstream(path, std::ios::binary) << text;
    return path.string();
  }
  void expect_error(const test::CommandResult& r, const std::string& message) {
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(r.out, "") << "stdout must stay empty on errors";
    EXPECT_NE(r.err.find(message), std::string::npos) << "stderr: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "stderr: " << r.err;
  }
  std::filesystem::path dir_ = test::temp_dir();
  int files_ = 0;
};

TEST_F(Gpt2BatchTest, TokenIdsEachLineWhatItGetsAlone) {
  const std::vector<std::string> prompts = {"31373 612 338 635 281", "464 2068", "50256",
                                            "15496, 11, 616", "464 6193 1909 318"};
  std::string text;
  for (const auto& p : prompts) text += p + "\n";
  for (const std::string options : {"", "--rule greedy -n 12 --backend pthreads --threads 2",
                                    "--rule sample-seed5 --mode kv-cache --backend openmp",
                                    "--precision int8w --backend pthreads --mode kv-cache"}) {
    std::string want;
    for (std::size_t i = 0; i < prompts.size(); i++) {
      std::string ids = prompts[i];
      std::replace(ids.begin(), ids.end(), ',', ' ');
      const auto alone = gpt2(options + " " + ids);
      ASSERT_EQ(alone.status, 0) << alone.err;
      std::string line;
      std::istringstream in(alone.out);
      for (std::string t; in >> t;) line += (line.empty() ? "" : " ") + t;
      want += std::to_string(i + 1) + ": " + line + "\n";
    }
    for (int batch : {1, 2, 16}) {
      const auto r =
          gpt2(options + " --prompts " + file(text) + " --batch " + std::to_string(batch));
      ASSERT_EQ(r.status, 0) << r.err;
      EXPECT_EQ(r.out, want) << options << " batch " << batch;
    }
  }
}

TEST_F(Gpt2BatchTest, TextsEachLineWhatItGetsAlone) {
  const std::vector<std::string> texts = {"Ladies and", "Once upon a time", "",
                                          "The kernel schedules", "int main(void) {"};
  std::string lines;
  for (const auto& t : texts) lines += t + "\n";
  for (const std::string options :
       {"--max-new 12", "--rule greedy --max-new 20 --stop ' the' --ignore-eos --echo",
        "--rule sample-t0.8-seed3 --max-new 9 --backend pthreads --threads 2 --mode kv-cache"}) {
    std::string want;
    for (std::size_t i = 0; i < texts.size(); i++) {
      const auto alone = gpt2(options + " --prompt " + shell_quote(texts[i]));
      ASSERT_EQ(alone.status, 0) << alone.err;
      want += std::to_string(i + 1) + ": " + one_line(alone.out) + "\n";
    }
    const auto r = gpt2(options + " --prompt-file " + file(lines) + " --batch 3");
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out, want) << options;
  }
}

TEST_F(Gpt2BatchTest, BadInputIsOneLineBeforeAnyWork) {
  expect_error(gpt2("--prompts " + file("")), "holds no prompt.");
  expect_error(gpt2("--prompts " + file("464 2068\n\n50256\n")), ":2: no token.");
  expect_error(gpt2("--prompts " + file("464 2068\n5 x\n")), ":2: Token 'x' is not an integer.");
  expect_error(gpt2("--prompts " + file("464\n50257\n")), ":2: Token 50257 is out of range");
  expect_error(gpt2("--prompts " + file("1 2 3 4 5 6 7 8 9 10\n")), ":1: Too many tokens.");
  expect_error(gpt2("--prompts " + (dir_ / "none.txt").string()), "none.txt: cannot open");
  const std::string ok = file("464 2068\n");
  expect_error(gpt2("--prompts " + ok + " --batch 0"), "--batch 0 is outside [1, 1024].");
  expect_error(gpt2("--prompts " + ok + " --batch 5000"), "--batch 5000 is outside [1, 1024].");
  expect_error(gpt2("--batch 4 464 2068"), "--batch goes with --prompts or --prompt-file.");
  expect_error(gpt2("--prompts " + ok + " 464"), "--prompts takes the place of the token ids");
  expect_error(gpt2("--prompt-file " + ok + " --prompt x"), "either --prompt or --prompt-file");
  // A text longer than the context of the tokens it encodes to.
  std::string longest;
  for (int i = 0; i < 1100; i++) longest += " the";
  expect_error(gpt2("--prompt-file " + file("Hello\n" + longest + "\n")),
               ":2: The prompt is 1100 tokens long, and the model's context holds 1024");
}

}  // namespace
}  // namespace gpt2
