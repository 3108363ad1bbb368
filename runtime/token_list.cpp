#include "runtime/token_list.h"

#include <algorithm>
#include <charconv>
#include <stdexcept>
#include <string>

#include "reference/printable.h"

namespace gpt2 {

int parse_token_id(std::string_view text) {
  int value = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, value);
  if (ec == std::errc::result_out_of_range) {
    throw std::invalid_argument("Token " + printable(text) + " is out of range.");
  }
  if (ec != std::errc() || p != end) {
    throw std::invalid_argument("Token '" + printable(text) + "' is not an integer.");
  }
  return value;
}

std::vector<int> parse_token_ids(std::string_view text) {
  constexpr std::string_view kSeparators = " \t\n\r\f\v,";
  std::vector<int> ids;
  for (std::size_t begin = text.find_first_not_of(kSeparators); begin != std::string_view::npos;
       begin = text.find_first_not_of(kSeparators, begin)) {
    const std::size_t end = std::min(text.find_first_of(kSeparators, begin), text.size());
    ids.push_back(parse_token_id(text.substr(begin, end - begin)));
    begin = end;
  }
  return ids;
}

}  // namespace gpt2
