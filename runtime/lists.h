// The one grammar of every list on the command lines (--backend, --precision,
// --threads, --mode, --rule, --prompt, and the lists to come):
//
//   items separated by commas, none of them empty:  a   a,b,c
//   in a list of numbers, ranges too:               4   1..4   1..16:2   1,2..8:2,16
//   "all", alone, where the option allows it:       every item the option knows
//
// Items are taken in the order given, each once (numbers: ascending). A
// mistake is one line, in one of two forms:
//   Bad <what> list '<text>': <why>.        the grammar (an empty item, a bad number)
//   Unknown <what> '<item>' (known: ...).   an item the option does not know
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gpt2 {

// The items of a list, each once, in the order given. Throws
// std::invalid_argument "Bad <what> list '<text>': it is empty." (or "an item
// is empty.").
std::vector<std::string> parse_list(std::string_view text, std::string_view what);

// Throws std::invalid_argument "Unknown <what> '<item>' (known: <known>)."
[[noreturn]] void throw_unknown_item(std::string_view what, std::string_view item,
                                     std::string_view known);

// A list of values: "all" is every one of `all` (when it is not empty), and
// each item is parse(item), or an error naming `known` when that is nullopt.
// Each value once, in the order given.
template <typename T, typename Parse>
std::vector<T> parse_value_list(std::string_view text, std::string_view what, Parse parse,
                                std::string_view known, const std::vector<T>& all = {}) {
  if (!all.empty() && text == "all") return all;
  std::vector<T> out;
  for (const std::string& item : parse_list(text, what)) {
    const std::optional<T> value = parse(item);
    if (!value) throw_unknown_item(what, item, known);
    if (std::find(out.begin(), out.end(), *value) == out.end()) out.push_back(*value);
  }
  return out;
}

// What a list of numbers counts, for its messages.
struct NumberListKind {
  const char* list;  // "thread": "Bad thread list '0': ..."
  const char* item;  // "thread count": "thread counts start at 1, not 0"
  const char* unit;  // "threads": "2000 threads is more than the cap of 1024"
  int min = 1;
  int max = 1;  // a sane cap: more is a typo
};

// Whole numbers and ranges (first..last or first..last:step) in [min, max],
// ascending, without duplicates. Throws std::invalid_argument "Bad <list>
// list '<text>': ..." for an empty item, a non-number, one outside [min,
// max], a range that runs backwards (4..1), or a step of 0 or less.
std::vector<int> parse_number_list(std::string_view text, const NumberListKind& kind);

inline constexpr int kMaxThreads = 1024;
inline constexpr NumberListKind kThreadList{"thread", "thread count", "threads", 1, kMaxThreads};

// Thread counts for sweeps: "4", "1..4", "1,2,4,8", "1..16:2", "1,2..8:2,16".
inline std::vector<int> parse_thread_list(std::string_view text) {
  return parse_number_list(text, kThreadList);
}

}  // namespace gpt2
