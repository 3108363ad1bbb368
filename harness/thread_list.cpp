#include "harness/thread_list.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

#include "reference/printable.h"

namespace gpt2 {

namespace {

[[noreturn]] void fail(std::string_view text, const std::string& why) {
  throw std::invalid_argument(
      printable("Bad thread list '" + std::string(text) + "': " + why + "."));
}

int number(std::string_view whole, std::string_view s, const char* what) {
  int value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    fail(whole, std::string(what) + " '" + std::string(s) + "' is not a whole number");
  }
  return value;
}

int count(std::string_view whole, std::string_view s) {
  const int n = number(whole, s, "thread count");
  if (n < 1) fail(whole, "thread counts start at 1, not " + std::to_string(n));
  if (n > kMaxThreads) {
    fail(whole,
         std::to_string(n) + " threads is more than the cap of " + std::to_string(kMaxThreads));
  }
  return n;
}

}  // namespace

std::vector<int> parse_thread_list(std::string_view text) {
  std::vector<int> out;
  if (text.empty()) fail(text, "it is empty");
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty()) fail(text, "an item is empty");
    const std::size_t dots = item.find("..");
    if (dots == std::string_view::npos) {
      out.push_back(count(text, item));
    } else {
      const std::string_view rest = item.substr(dots + 2);
      const std::size_t colon = rest.find(':');
      const int first = count(text, item.substr(0, dots));
      const int last = count(text, rest.substr(0, colon));
      int step = 1;
      if (colon != std::string_view::npos) {
        step = number(text, rest.substr(colon + 1), "step");
        if (step < 1) fail(text, "the step must be at least 1");
      }
      if (last < first) {
        fail(text, "the range " + std::string(item) + " runs backwards");
      }
      // (long: t + step must not overflow an int when step is large)
      for (long t = first; t <= last; t += step) out.push_back(int(t));
    }
    start = comma + 1;
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace gpt2
