// Stop strings: a generation's text as it comes, held back only while its end
// could still become one of the stop strings, which is never given out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

class StopStrings {
 public:
  explicit StopStrings(std::vector<std::string> stops);
  // Adds the next piece of text; returns what is now safe to show. Once a stop
  // string has appeared, stopped() is true, the text before it was the last
  // returned, and nothing more is.
  std::string add(std::string_view text);
  bool stopped() const { return stopped_; }
  // The end of a generation that met no stop string: what was held back.
  std::string finish();

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace gpt2
