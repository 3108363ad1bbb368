// gpt2-goldens check: a golden that differs fails the check, naming its step;
// --max-prompt-tokens leaves the longer prompts (and only their goldens) out.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "runtime/paths.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

const std::string kGoldens = std::string(GPT2_BIN_DIR) + "/gpt2-goldens";
const char* kFile = "synthetic-tiny-seed2.median.txt";

// A copy of the tiny model's median goldens with the token of `prompt`'s
// step 0 changed; returns its folder.
std::filesystem::path tampered(const std::string& prompt) {
  const std::filesystem::path dir = test::temp_dir();
  std::istringstream in(test::slurp(datasets_dir() / "goldens" / kFile));
  std::ofstream out(dir / kFile);
  bool changed = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(prompt + "\t0\t", 0) == 0) {
      const std::size_t token = prompt.size() + 3;  // after "<prompt>\t0\t"
      line = line.substr(0, token) + "7" + line.substr(line.find('\t', token));
      changed = true;
    }
    out << line << "\n";
  }
  EXPECT_TRUE(changed) << prompt;
  return dir;
}

test::CommandResult check(const std::filesystem::path& dir, const std::string& options) {
  return test::run_command(kGoldens +
                           " check --model synthetic:tiny --precision float32 --rule median "
                           "--beams none --dir " +
                           dir.string() + " " + options);
}

TEST(GoldensCliTest, AChangedGoldenFailsTheCheckAndNamesItsStep) {
  const auto r = check(tampered("the"), "");
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("prompt the step 0: expected token 7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("DIFFERENT"), std::string::npos) << r.out;
}

TEST(GoldensCliTest, MaxPromptTokensLeavesOutTheLongerPromptsAndOnlyThem) {
  // long-900's golden changed: left out at 100 tokens, caught without the cap.
  const std::filesystem::path dir = tampered("long-900");
  auto r = check(dir, "--max-prompt-tokens 100");
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("3 prompts longer than 100 tokens left out"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("reproduced"), std::string::npos) << r.out;
  r = check(dir, "--max-prompt-tokens 1000");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("prompt long-900 step 0"), std::string::npos) << r.out;
  // A short prompt's changed golden is still caught under the cap.
  r = check(tampered("the"), "--max-prompt-tokens 100");
  EXPECT_EQ(r.status, 1) << r.out;
  r = check(dir, "--max-prompt-tokens -1");
  EXPECT_NE(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.err.find("--max-prompt-tokens must be 0 or more"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace gpt2
