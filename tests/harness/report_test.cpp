// What every report kind shares: the context it carries, row labels, stems.
#include "harness/report.h"

#include <gtest/gtest.h>

#include <fstream>

#include "harness/report_json.h"
#include "tests/test_util.h"

namespace gpt2 {
namespace {

TEST(ReportTest, TheContextReadsBackFromItsJson) {
  ReportContext ctx = report_context("gpt2-bench --threads 1..2", *test::tiny_model());
  GpuInfo gpu;
  gpu.index = 1;
  gpu.name = "NVIDIA H200";
  gpu.sm_count = 132;
  ctx.gpus = {gpu};
  const ReportContext back = report::context_from_json(report::context_json(ctx));
  EXPECT_EQ(back.command, ctx.command);
  EXPECT_EQ(back.timestamp, ctx.timestamp);
  EXPECT_EQ(back.machine.cpu_model, ctx.machine.cpu_model);
  EXPECT_EQ(back.machine.isa_flags, ctx.machine.isa_flags);
  EXPECT_EQ(back.machine.kernel_isa, ctx.machine.kernel_isa);
  EXPECT_EQ(back.machine.git_commit, ctx.machine.git_commit);
  ASSERT_EQ(back.gpus.size(), 1u);
  EXPECT_EQ(back.gpus[0].name, "NVIDIA H200");
  EXPECT_EQ(back.gpus[0].sm_count, 132);
  ASSERT_TRUE(back.model.has_value());
  EXPECT_EQ(back.model->checksum, test::tiny_model()->checksum());
  EXPECT_EQ(back.model->config.channels, test::tiny_model()->config().channels);
  EXPECT_EQ(report::context_markdown(back), report::context_markdown(ctx));
}

TEST(ReportTest, LabelsAndStems) {
  EXPECT_EQ(backend_label("openmp", Precision::kFloat32), "openmp");
  EXPECT_EQ(backend_label("onednn", Precision::kBFloat16), "onednn bfloat16 (not float32)");
  EXPECT_EQ(backend_label("pthreads", Precision::kInt8Weights), "pthreads int8w");
  const auto dir = test::temp_dir();
  const std::string stem = report_stem(dir, "sweep", {"a", "b", "c", "d", "e"});
  EXPECT_NE(stem.find("-sweep-a-b-c-d-etc"), std::string::npos) << stem;
  std::ofstream(dir / (stem + ".json")) << "{}";
  const std::string next = report_stem(dir, "sweep", {"a", "b", "c", "d", "e"});
  EXPECT_NE(next, stem) << "a stem already taken in the folder is not given again";
}

TEST(ReportTest, CsvFieldsAreQuotedOnlyWhenTheyMustBe) {
  EXPECT_EQ(report::csv_line({"a", "b c", "d,e", "say \"hi\""}),
            "a,b c,\"d,e\",\"say \"\"hi\"\"\"\n");
}

}  // namespace
}  // namespace gpt2
