// Tests on the full-size default model (synthetic GPT-2 124M): slower, so they
// carry the ctest label "full" (the CI runs them; `ctest -LE full` skips them).
#include <gtest/gtest.h>

#include <sstream>

#include "harness/goldens.h"
#include "runtime/model_source.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

TEST(DefaultModelTest, Gpt2CompletesTheLabPromptWithTheGoldenTokens) {
  const auto model = open_model("default");
  if (model->name().rfind("synthetic:", 0) != 0) {
    GTEST_SKIP() << "a real checkpoint is installed as the default: " << model->name();
  }
  const auto r = test::run_command(std::string(GPT2_BIN_DIR) + "/gpt2 31373 612 338 635 281");
  ASSERT_EQ(r.status, 0) << r.err;
  std::vector<int> tokens;
  std::istringstream in(r.out);
  for (int t; in >> t;) tokens.push_back(t);
  const GoldenFile golden =
      read_goldens(golden_path(datasets_dir() / "goldens", model->name(), Rule::kMedian));
  EXPECT_EQ(tokens, golden.continuation("lab-hello"));
  EXPECT_EQ(tokens.size(), 5u);
}

}  // namespace
}  // namespace gpt2
