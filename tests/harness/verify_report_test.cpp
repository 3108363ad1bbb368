// verify's report: what failed, and bfloat16 rows marked.
#include "harness/verify_report.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "tests/test_util.h"

namespace gpt2 {
namespace {

using test::slurp;

TEST(VerifyReportTest, VerifyFilesSayWhatFailed) {
  VerifyResult r;
  VerifyRow row;
  row.backend = "pthreads";
  row.threads = 2;
  row.bit_exact = true;
  row.steps = 10;
  row.token_mismatches = 1;
  row.passed = false;
  row.differences = {
      "pthreads 2 threads recompute median: prompt p step 3: expected token 5, got 6"};
  r.rows = {row};
  r.passed = false;
  ReportContext ctx;
  ctx.machine = machine_info();
  const auto dir = test::temp_dir();
  write_verify_report(dir, "v", ctx, r);
  const auto j = nlohmann::json::parse(slurp(dir / "v.json"));
  EXPECT_FALSE(j["passed"].get<bool>());
  const std::string csv = slurp(dir / "v.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 2);
  EXPECT_NE(csv.find(",pthreads,float32,bit-exact,2,recompute,median,10,1,"), std::string::npos)
      << csv;
  EXPECT_EQ(j["rows"][0]["token_mismatches"], 1);
  const std::string md = slurp(dir / "v.md");
  EXPECT_NE(md.find("expected token 5, got 6"), std::string::npos);
  EXPECT_NE(md.find("FAIL"), std::string::npos);
}

TEST(VerifyReportTest, VerifyMarksBFloat16Rows) {
  VerifyResult r;
  VerifyRow row;
  row.backend = "onednn";
  row.precision = Precision::kBFloat16;
  row.steps = 40;
  row.token_mismatches = 3;
  row.max_diff = 0.5;
  r.rows = {row};
  ReportContext ctx;
  ctx.machine = machine_info();
  const auto dir = test::temp_dir();
  write_verify_report(dir, "v", ctx, r);
  const auto j = nlohmann::json::parse(slurp(dir / "v.json"));
  EXPECT_EQ(j["rows"][0]["label"], "onednn bfloat16 (not float32)");
  EXPECT_DOUBLE_EQ(j["rows"][0]["token_agreement"].get<double>(), 37.0 / 40);
  const std::string md = slurp(dir / "v.md");
  EXPECT_NE(md.find("| onednn bfloat16 (not float32) | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 3 | 0 | 92.5% |"), std::string::npos) << md;
  EXPECT_NE(md.find("Rows marked bfloat16 (not float32) follow the golden tokens"),
            std::string::npos);
}

}  // namespace
}  // namespace gpt2
