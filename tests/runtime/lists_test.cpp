#include "runtime/lists.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

TEST(ThreadListTest, Forms) {
  EXPECT_EQ(parse_thread_list("4"), (std::vector<int>{4}));
  EXPECT_EQ(parse_thread_list("1..4"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(parse_thread_list("1,2,4,8"), (std::vector<int>{1, 2, 4, 8}));
  EXPECT_EQ(parse_thread_list("1..16:2"), (std::vector<int>{1, 3, 5, 7, 9, 11, 13, 15}));
  EXPECT_EQ(parse_thread_list("2..8:2,1,16"), (std::vector<int>{1, 2, 4, 6, 8, 16}));
  EXPECT_EQ(parse_thread_list("3,1,3,2..3"), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(parse_thread_list("5..5"), (std::vector<int>{5}));
  EXPECT_EQ(parse_thread_list("1024"), (std::vector<int>{1024}));
}

void expect_error(const char* text, const std::string& what) {
  try {
    parse_thread_list(text);
    FAIL() << "accepted '" << text << "'";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find(what), std::string::npos) << msg;
    EXPECT_NE(msg.find(std::string("'") + text + "'"), std::string::npos) << msg;
  }
}

TEST(ThreadListTest, Errors) {
  expect_error("0", "thread counts start at 1, not 0");
  expect_error("-2", "thread counts start at 1");
  expect_error("4..1", "the range 4..1 runs backwards");
  expect_error("a..b", "thread count 'a' is not a whole number");
  expect_error("1..x", "thread count 'x' is not a whole number");
  expect_error("x", "thread count 'x' is not a whole number");
  expect_error("1.5", "is not a whole number");
  expect_error("2000", "2000 threads is more than the cap of 1024");
  expect_error("1..100000", "more than the cap");
  expect_error("1..8:0", "the step must be at least 1");
  expect_error("1..8:z", "step 'z' is not a whole number");
  expect_error("1,,2", "an item is empty");
  expect_error("1,", "an item is empty");
  expect_error("", "it is empty");
}

// Found by reading the code for fuzz_thread_list: t += step overflowed an int (undefined
// behaviour, which UBSan reports) when the step was large.
TEST(ThreadListTest, AHugeStepDoesNotOverflow) {
  EXPECT_EQ(parse_thread_list("1..2:2147483647"), (std::vector<int>{1}));
  EXPECT_EQ(parse_thread_list("1000..1024:2147483647"), (std::vector<int>{1000}));
}

TEST(ThreadListTest, ErrorsStayOnOneLine) {
  try {
    parse_thread_list("1\n2");
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_STREQ(e.what(),
                 R"(Bad thread list '1\x0a2': thread count '1\x0a2' is not a whole number.)");
  }
}

}  // namespace
}  // namespace gpt2
