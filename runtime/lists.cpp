#include "runtime/lists.h"

#include <charconv>
#include <stdexcept>

#include "reference/printable.h"

namespace gpt2 {

namespace {

[[noreturn]] void fail(std::string_view what, std::string_view text, const std::string& why) {
  throw std::invalid_argument(
      printable("Bad " + std::string(what) + " list '" + std::string(text) + "': " + why + "."));
}

// The items between the commas, empty ones included ("a,,b": a, "", b).
std::vector<std::string_view> split_commas(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::vector<std::string_view> checked_items(std::string_view text, std::string_view what) {
  if (text.empty()) fail(what, text, "it is empty");
  std::vector<std::string_view> items = split_commas(text);
  for (std::string_view item : items) {
    if (item.empty()) fail(what, text, "an item is empty");
  }
  return items;
}

int whole_number(std::string_view whole, std::string_view s, const NumberListKind& kind,
                 const std::string& what) {
  int value = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) {
    fail(kind.list, whole, what + " '" + std::string(s) + "' is not a whole number");
  }
  return value;
}

int bounded(std::string_view whole, std::string_view s, const NumberListKind& kind) {
  const int n = whole_number(whole, s, kind, kind.item);
  if (n < kind.min) {
    fail(kind.list, whole,
         std::string(kind.item) + "s start at " + std::to_string(kind.min) + ", not " +
             std::to_string(n));
  }
  if (n > kind.max) {
    fail(kind.list, whole,
         std::to_string(n) + " " + kind.unit + " is more than the cap of " +
             std::to_string(kind.max));
  }
  return n;
}

}  // namespace

std::vector<std::string> parse_list(std::string_view text, std::string_view what) {
  std::vector<std::string> out;
  for (std::string_view item : checked_items(text, what)) {
    if (std::find(out.begin(), out.end(), item) == out.end()) out.emplace_back(item);
  }
  return out;
}

void throw_unknown_item(std::string_view what, std::string_view item, std::string_view known) {
  throw std::invalid_argument(printable("Unknown " + std::string(what) + " '" + std::string(item) +
                                        "' (known: " + std::string(known) + ")."));
}

std::vector<int> parse_number_list(std::string_view text, const NumberListKind& kind) {
  std::vector<int> out;
  for (std::string_view item : checked_items(text, kind.list)) {
    const std::size_t dots = item.find("..");
    if (dots == std::string_view::npos) {
      out.push_back(bounded(text, item, kind));
      continue;
    }
    const std::string_view rest = item.substr(dots + 2);
    const std::size_t colon = rest.find(':');
    const int first = bounded(text, item.substr(0, dots), kind);
    const int last = bounded(text, rest.substr(0, colon), kind);
    int step = 1;
    if (colon != std::string_view::npos) {
      step = whole_number(text, rest.substr(colon + 1), kind, "step");
      if (step < 1) fail(kind.list, text, "the step must be at least 1");
    }
    if (last < first) fail(kind.list, text, "the range " + std::string(item) + " runs backwards");
    // (long: t + step must not overflow an int when step is large)
    for (long t = first; t <= last; t += step) out.push_back(int(t));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace gpt2
