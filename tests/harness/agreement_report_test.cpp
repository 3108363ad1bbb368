// agreement's report carries the machine and the model, as every report does.
#include "harness/agreement_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "runtime/backend_specs.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

TEST(AgreementReportTest, TheFilesHoldTheMachineTheModelAndTheRows) {
  AgreementResult r;
  r.rule = Rule::kGreedy;
  AgreementRow row;
  row.spec = backend_spec("openmp", Precision::kInt8Weights, 2);
  row.steps = 18;
  row.top1_agreement = 17.0 / 18;
  row.mean_kl = 0.01;
  r.rows = {row};
  r.notes = {"a note"};
  const ReportContext ctx = report_context("gpt2-bench agreement", *test::tiny_model());
  const auto dir = test::temp_dir();
  const ReportFiles files = write_agreement_report(dir, "a", ctx, r);
  ASSERT_EQ(files.all().size(), 2u);
  std::ifstream in(files.json);
  const auto j = nlohmann::json::parse(in);
  EXPECT_EQ(j["kind"], "agreement");
  EXPECT_EQ(j["schema"], "gpt2-bench agreement 2");
  EXPECT_EQ(j["machine"]["cpu_model"], ctx.machine.cpu_model);
  EXPECT_EQ(j["model"]["checksum_xxh3"], test::tiny_model()->checksum());
  EXPECT_EQ(j["rule"], "greedy");
  ASSERT_EQ(j["rows"].size(), 1u);
  EXPECT_EQ(j["rows"][0]["backend"], "openmp");
  EXPECT_EQ(j["rows"][0]["precision"], "int8w");
  EXPECT_EQ(j["rows"][0]["threads"], 2);
  std::stringstream md;
  md << std::ifstream(files.md).rdbuf();
  EXPECT_NE(md.str().find(ctx.machine.cpu_model), std::string::npos);
  EXPECT_NE(md.str().find("| openmp | int8w | 2 | 18 | 94.44% |"), std::string::npos) << md.str();
  EXPECT_NE(md.str().find("a note"), std::string::npos);
}

}  // namespace
}  // namespace gpt2
