#include "runtime/token_list.h"

#include <gtest/gtest.h>

#include <climits>
#include <stdexcept>
#include <string>

namespace gpt2 {
namespace {

std::string error_of(std::string_view text) {
  try {
    parse_token_ids(text);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenListTest, OneId) {
  EXPECT_EQ(parse_token_id("0"), 0);
  EXPECT_EQ(parse_token_id("50256"), 50256);
  EXPECT_EQ(parse_token_id("007"), 7);
  EXPECT_EQ(parse_token_id("-1"), -1);  // a vocabulary's range is the caller's to check
  EXPECT_EQ(parse_token_id("2147483647"), INT_MAX);
}

TEST(TokenListTest, Lists) {
  EXPECT_EQ(parse_token_ids("464 2068"), (std::vector<int>{464, 2068}));
  EXPECT_EQ(parse_token_ids("464,2068"), (std::vector<int>{464, 2068}));
  EXPECT_EQ(parse_token_ids(" 464, 2068\n"), (std::vector<int>{464, 2068}));
  EXPECT_EQ(parse_token_ids("1\t2,,3 ,4"), (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(parse_token_ids("31373"), (std::vector<int>{31373}));
  EXPECT_TRUE(parse_token_ids("").empty());
  EXPECT_TRUE(parse_token_ids(" , \n").empty());
}

TEST(TokenListTest, NonIntegersAreNamed) {
  EXPECT_EQ(error_of("12 abc"), "Token 'abc' is not an integer.");
  EXPECT_EQ(error_of("1.5"), "Token '1.5' is not an integer.");
  EXPECT_EQ(error_of("12x 3"), "Token '12x' is not an integer.");
  EXPECT_EQ(error_of("+5"), "Token '+5' is not an integer.");
  EXPECT_EQ(error_of("1;2"), "Token '1;2' is not an integer.");
  EXPECT_THROW(parse_token_id(""), std::invalid_argument);
  try {
    parse_token_id("");
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), "Token '' is not an integer.");
  }
}

TEST(TokenListTest, IdsBeyondIntAreOutOfRange) {
  EXPECT_EQ(error_of("99999999999"), "Token 99999999999 is out of range.");
  EXPECT_EQ(error_of("5, -99999999999"), "Token -99999999999 is out of range.");
  EXPECT_EQ(error_of("2147483648"), "Token 2147483648 is out of range.");
}

}  // namespace
}  // namespace gpt2
