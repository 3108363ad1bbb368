// The load scenarios' arithmetic: percentiles, URLs, synthetic prompts, and
// the options refused before any request.
#include "harness/load.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

TEST(LoadTest, NearestRankPercentiles) {
  std::vector<double> v;
  for (int i = 100; i >= 1; i--) v.push_back(i);  // 1..100, out of order
  const Percentiles p = percentiles(v);
  EXPECT_EQ(p.p50, 50);
  EXPECT_EQ(p.p90, 90);
  EXPECT_EQ(p.p99, 99);
  EXPECT_EQ(p.max, 100);
  EXPECT_DOUBLE_EQ(p.mean, 50.5);
  EXPECT_EQ(percentiles({7}).p99, 7);
  EXPECT_EQ(percentiles({}).p50, 0);
  EXPECT_EQ(percentiles({1, 2, 3}).p50, 2);
}

TEST(LoadTest, Urls) {
  EXPECT_EQ(parse_url("http://127.0.0.1:8080").port, 8080);
  EXPECT_EQ(parse_url("http://127.0.0.1:8080/v1").host, "127.0.0.1");
  EXPECT_EQ(parse_url("http://localhost").port, 80);
  EXPECT_THROW(parse_url("https://x:1"), std::invalid_argument);
  EXPECT_THROW(parse_url("127.0.0.1:8080"), std::invalid_argument);
  EXPECT_THROW(parse_url("http://x:0"), std::invalid_argument);
  EXPECT_THROW(parse_url("http://x:80/other"), std::invalid_argument);
  EXPECT_THROW(parse_url("http://:80"), std::invalid_argument);
}

TEST(LoadTest, SyntheticRequestsAreSeeded) {
  const auto a = synthetic_requests(3, 16, 8, 5), b = synthetic_requests(3, 16, 8, 5);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].prompt, b[2].prompt);
  EXPECT_NE(a[0].prompt, a[1].prompt);
  EXPECT_NE(a[0].prompt, synthetic_requests(1, 16, 8, 6)[0].prompt);
  EXPECT_EQ(a[0].prompt.size(), 16u);
  EXPECT_EQ(a[0].max_tokens, 8);
  for (int t : a[0].prompt) EXPECT_TRUE(t >= 0 && t < 50256);
}

TEST(LoadTest, BadOptionsAreRefusedBeforeAnyRequest) {
  const auto requests = synthetic_requests(1, 4, 4, 0);
  LoadOptions o;
  EXPECT_THROW(run_load(o, requests), std::invalid_argument);  // no URL
  o.urls = {"http://127.0.0.1:1"};
  o.requests = 0;
  EXPECT_THROW(run_load(o, requests), std::invalid_argument);
  o.requests = 4;
  o.search = true;
  EXPECT_THROW(run_load(o, requests), std::invalid_argument);  // no SLO
  o.search = false;
  o.rates = {-1};
  EXPECT_THROW(run_load(o, requests), std::invalid_argument);
  o.rates = {1};
  // Nothing listens on port 1: one line naming the URL.
  try {
    run_load(o, requests);
    ADD_FAILURE() << "no error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("http://127.0.0.1:1 is not ready"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace gpt2
