#include "runtime/stop_strings.h"

#include <gtest/gtest.h>

namespace gpt2 {
namespace {

// Feeds pieces one at a time; returns what was given out, then the end.
std::string run(StopStrings& s, const std::vector<std::string>& pieces) {
  std::string out;
  for (const std::string& p : pieces) {
    out += s.add(p);
    if (s.stopped()) break;
  }
  return out + s.finish();
}

TEST(StopStringsTest, WithoutStopsEverythingPassesAtOnce) {
  StopStrings s({});
  EXPECT_EQ(s.add("Hello"), "Hello");
  EXPECT_EQ(s.add(", world"), ", world");
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.finish(), "");
}

TEST(StopStringsTest, TheStopAndWhatFollowsAreNeverGivenOut) {
  StopStrings s({"\n\n"});
  EXPECT_EQ(run(s, {"one", "\n", "\ntwo", "three"}), "one");
  EXPECT_TRUE(s.stopped());
  EXPECT_EQ(s.add("more"), "");
}

TEST(StopStringsTest, ABeginningOfAStopIsHeldBackUntilItIsNotOne) {
  StopStrings s({"END"});
  EXPECT_EQ(s.add("the E"), "the ");  // "E" could begin END
  EXPECT_EQ(s.add("N"), "");          // "EN" still could
  EXPECT_EQ(s.add("d"), "ENd");       // not any more
  EXPECT_FALSE(s.stopped());
  EXPECT_EQ(s.add("and EN"), "and ");
  EXPECT_EQ(s.finish(), "EN");  // the end of the text: what was held back
}

TEST(StopStringsTest, TheFirstOfSeveralStopsToAppearEndsTheText) {
  StopStrings s({"cat", "dog"});
  EXPECT_EQ(run(s, {"a hot", " do", "g and a cat"}), "a hot ");
  StopStrings split({"Q:"});
  EXPECT_EQ(run(split, {"answer. ", "Q", ": next"}), "answer. ");
}

TEST(StopStringsTest, AStopInsideOnePieceCutsIt) {
  StopStrings s({"."});
  EXPECT_EQ(run(s, {"First sentence. Second."}), "First sentence");
}

}  // namespace
}  // namespace gpt2
